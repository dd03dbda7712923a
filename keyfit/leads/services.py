"""All writes to leads: intake, dedupe and merge, screening, signals, conversion, routing, SLA checks."""

import datetime
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from keyfit.core.audit import _SKIP as AUDIT_SKIPPED
from keyfit.core.audit import audit_record, json_default, snapshot
from keyfit.core.customfields import custom_field_definitions, custom_fields_clean
from keyfit.core.db import prepared_cursor
from keyfit.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from keyfit.core.models import AuditEvent
from keyfit.core.money import is_currency
from keyfit.core.permissions import is_admin
from keyfit.leads import routing
from keyfit.leads.choices import (
    OPEN_STATUSES,
    DecisionKind,
    Intent,
    NotificationKind,
    Originator,
    ScreenResult,
    SignalType,
    Source,
    Status,
)
from keyfit.leads.conditions import compile_condition, describe, lead_values
from keyfit.leads.models import (
    DisqualifyReason,
    FitRule,
    Lead,
    LeadSignal,
    Notification,
    RoutingDecision,
    RoutingTeam,
    ScreeningPolicy,
    ValueThreshold,
)
from keyfit.leads.normalize import (
    email_domain,
    email_domains,
    normalize_domain,
    normalize_phones,
)
from keyfit.leads.permissions import editable_leads

TEXT_FIELDS = {
    "campaign": 120,
    "company_name": 200,
    "industry": 32,
    "company_size": 16,
    "region": 100,
    "contact_name": 150,
    "contact_title": 150,
    "email": 254,
    "phone": 40,
    "bant_budget": 200,
    "bant_authority": 200,
    "bant_need": 200,
    "bant_timeline": 200,
    "status_note": 500,
}
WRITABLE = (
    set(TEXT_FIELDS)
    | {"source", "company_domain", "priority", "purchase_intent", "need_confirmed", "estimated_value", "currency"}
    | {
        "custom_fields",
        "external_id",
        "known_converted",
        "known_closed_at",
        "language",
        "owner_id",
        "team_id",
        "status",
    }
)
CONTACT_SIGNALS_RAISE_PRIORITY = 10

UNMET_MESSAGES = {
    "screen1_not_passed": gettext_lazy("Screen 1 (fit) has not been passed."),
    "need_not_confirmed": gettext_lazy("The customer's need to solve the problem is not confirmed."),
    "no_customer_signal": gettext_lazy("There is no signal originated by the customer."),
    "intent_not_yes": gettext_lazy("Purchase intent is not “yes”."),
    "value_below_threshold": gettext_lazy("The estimated co-created value is below the threshold."),
}


class ConversionRefused(DomainError):
    code = "conversion_refused"
    status = 422
    default_message = gettext_lazy("The lead cannot be converted yet.")


# --- validation -------------------------------------------------------------------------------

# Built once: the allowed values of the choice fields (rebuilding `Choices.values` costs ~10% of an import).
_CHOICE_VALUES = (
    ("source", frozenset(Source.values)),
    ("purchase_intent", frozenset(Intent.values)),
    ("status", frozenset(Status.values)),
)
_ALSO_ACCEPTED = frozenset({"website", "routing_seed"})
_CENT = Decimal("0.01")
_INVALID = object()  # an amount that is not one
_ABSENT = object()  # a value the input does not set
# A strict subset of what Django's EmailValidator accepts (ASCII dot-atom @ ASCII host names with a
# letters-only TLD); anything else goes through the validator itself, so the rule stays Django's.
_PLAIN_EMAIL = re.compile(
    r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,63}"
)


def _email_valid(value: str) -> bool:
    if len(value) <= 320 and _PLAIN_EMAIL.fullmatch(value):
        return True
    try:
        validate_email(value)
    except DjangoValidationError:
        return False
    return True


def _clean(data: dict[str, Any], *, existing: Lead | None = None, definitions=None) -> dict[str, Any]:
    """Validate lead input (API, forms, web forms and imports use this one function)."""
    out, errors = clean_many([data], existing=[existing], definitions=definitions)[0]
    if errors:
        raise ValidationFailed(fields=errors)
    return out


def _fail(errors: list[dict[str, list[str]] | None], j: int, name: str, message) -> None:
    if errors[j] is None:
        errors[j] = {}
    errors[j][name] = [message]


def _text_column(column: list[Any]) -> list[str]:
    if set(map(type, column)) <= {str}:  # the usual case: strings, stripped in one pass
        return list(map(str.strip, column))
    return ["" if v is None else (v if type(v) is str else str(v)).strip() for v in column]


def _convert_each(column: list[Any], convert) -> list[Any]:
    """convert() of every value, once per distinct value: by value for strings, else by identity (the
    import engine hands over one object per distinct cell)."""
    if set(map(type, column)) <= {str, type(None)}:
        seen = {v: convert(v) for v in set(column)}
        return list(map(seen.__getitem__, column))
    ids = list(map(id, column))
    done = {i: convert(v) for i, v in dict(zip(ids, column, strict=True)).items()}
    return list(map(done.__getitem__, ids))


def _amount(value: Any) -> Any:
    if value in (None, ""):
        return None
    try:
        amount = value if type(value) is Decimal else Decimal(str(value))
        if not amount.is_finite() or amount < 0:
            raise InvalidOperation
        return amount.quantize(_CENT)
    except (InvalidOperation, ValueError):
        return _INVALID


def clean_many(
    rows: list[dict[str, Any]], *, existing: list[Lead | None] | None = None, definitions=None
) -> list[tuple[dict[str, Any] | None, dict[str, list[str]] | None]]:
    """The rules of `_clean` for many inputs at once: (values, None) or (None, errors) per input, in order.

    Inputs with the same fields are checked field by field over the whole group (one pass per field),
    which is what makes large imports fast; the rules and messages are those of a single `_clean`.
    """
    existing = existing if existing is not None else [None] * len(rows)
    results: list[Any] = [None] * len(rows)
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, data in enumerate(rows):
        groups.setdefault(tuple(data), []).append(index)
    for keys, indexes in groups.items():
        group = [rows[i] for i in indexes]
        olds = [existing[i] for i in indexes]
        if definitions is None and ("custom_fields" in keys or any(old is None for old in olds)):
            definitions = custom_field_definitions("lead")
        for i, result in zip(indexes, _clean_group(keys, group, olds, definitions), strict=True):
            results[i] = result
    return results


def _clean_group(keys: tuple[str, ...], rows: list[dict[str, Any]], olds: list[Lead | None], definitions):
    n = len(rows)
    present = set(keys)
    errors: list[dict[str, list[str]] | None] = [None] * n
    out: dict[str, list[Any]] = {}

    def column(name: str) -> list[Any]:
        return [data[name] for data in rows]

    for key in keys:
        if key not in WRITABLE and key not in _ALSO_ACCEPTED:
            for j in range(n):
                _fail(errors, j, key, _("Unknown field."))
    for name, max_length in TEXT_FIELDS.items():
        if name in present:
            values = _text_column(column(name))
            if max(map(len, values)) > max_length:
                for j, value in enumerate(values):
                    if len(value) > max_length:
                        _fail(errors, j, name, _("At most %(n)d characters.") % {"n": max_length})
            out[name] = values
    if "email" in out:
        emails = out["email"]
        matched = list(map(_PLAIN_EMAIL.fullmatch, emails))  # the fast rule of _email_valid, in one pass
        if None in matched or max(map(len, emails)) > 320:
            for j, value in enumerate(emails):
                if value and (matched[j] is None or len(value) > 320) and not _email_valid(value):
                    _fail(errors, j, "email", _("Enter a valid e-mail address."))
    phones_normalized = None
    if "phone" in out:
        phones = out["phone"]
        phones_normalized = normalize_phones(phones)
        if min(map(len, phones_normalized)) < 6:  # at most one "+" and at least five digits each: all fine
            for j, (value, normalized) in enumerate(zip(phones, phones_normalized, strict=True)):
                if value and len(normalized.lstrip("+")) < 5:
                    _fail(errors, j, "phone", _("Enter a valid phone number."))
    for name, allowed in _CHOICE_VALUES:
        if name in present:
            values = column(name)
            try:
                all_allowed = set(values) <= allowed
            except TypeError:  # an unhashable value is not a choice
                all_allowed = False
            if not all_allowed:
                for j, value in enumerate(values):
                    try:
                        ok = value in allowed
                    except TypeError:
                        ok = False
                    if not ok:
                        _fail(errors, j, name, _("Select a valid choice."))
            out[name] = values
    if "language" in present:
        from django.conf import settings

        languages = dict(settings.LANGUAGES)
        values = column("language")
        for j, value in enumerate(values):
            try:
                ok = value in languages
            except TypeError:
                ok = False
            if not ok:
                _fail(errors, j, "language", _("Select a valid choice."))
        out["language"] = values
    if "priority" in present:
        values = []
        for j, value in enumerate(column("priority")):
            try:
                priority = int(value)
                if not 0 <= priority <= 100:
                    raise ValueError
                values.append(priority)
            except (TypeError, ValueError):
                _fail(errors, j, "priority", _("Enter a whole number from 0 to 100."))
                values.append(None)
        out["priority"] = values
    if "need_confirmed" in present:
        out["need_confirmed"] = [bool(v) for v in column("need_confirmed")]
    if "estimated_value" in present:
        values = _convert_each(column("estimated_value"), _amount)
        if _INVALID in values:
            for j, value in enumerate(values):
                if value is _INVALID:
                    _fail(errors, j, "estimated_value", _("Enter an amount of zero or more."))
        out["estimated_value"] = values
    if "currency" in present:
        values = [str(v or "").upper() for v in column("currency")]
        for j, code in enumerate(values):
            if not is_currency(code):
                _fail(errors, j, "currency", _("Enter an ISO 4217 currency code."))
        out["currency"] = values
    if "external_id" in present:
        values = column("external_id")
        if set(map(type, values)) <= {str}:
            values = [v or None for v in map(str.strip, values)]
        else:
            values = [(str(v).strip() if v is not None else "") or None for v in values]
        if max((len(v) for v in values if v), default=0) > 100:
            for j, value in enumerate(values):
                if value and len(value) > 100:
                    _fail(errors, j, "external_id", _("At most %(n)d characters.") % {"n": 100})
        out["external_id"] = values
    if "known_converted" in present:
        out["known_converted"] = [None if v is None else bool(v) for v in column("known_converted")]
    if "known_closed_at" in present:
        values = []
        for j, value in enumerate(column("known_closed_at")):
            if value in (None, ""):
                values.append(None)
                continue
            moment = value if isinstance(value, datetime.datetime) else parse_datetime(str(value))
            if moment is None:
                _fail(errors, j, "known_closed_at", _("Enter a date and time."))
                values.append(None)
            else:
                values.append(moment if timezone.is_aware(moment) else timezone.make_aware(moment))
        out["known_closed_at"] = values
    for name in ("owner_id", "team_id"):
        if name in present:
            out[name] = [v or None for v in column(name)]
    if olds.count(None) == n and not any(data.get("custom_fields") for data in rows):
        # new leads without custom values (the usual import): one check serves them all
        try:
            empty = custom_fields_clean("lead", {}, definitions=definitions)
            out["custom_fields"] = [dict(empty) for _j in range(n)]
        except ValidationFailed as exc:
            for j in range(n):
                if errors[j] is None:
                    errors[j] = {}
                errors[j].update(exc.fields)
            out["custom_fields"] = [_ABSENT] * n
    elif "custom_fields" in present or None in olds:
        values = []
        new_empty: Any = None  # the result for "no values" on a new lead: the same for every such row
        for j, (data, old) in enumerate(zip(rows, olds, strict=True)):
            given = data.get("custom_fields")
            try:
                if "custom_fields" in data and (given or old is not None):
                    values.append(
                        custom_fields_clean(
                            "lead",
                            given or {},
                            existing=old.custom_fields if old else None,
                            partial=old is not None,
                            definitions=definitions,
                        )
                    )
                elif "custom_fields" in data or old is None:
                    if new_empty is None:
                        try:
                            new_empty = custom_fields_clean("lead", {}, definitions=definitions)
                        except ValidationFailed as exc:
                            new_empty = exc
                    if isinstance(new_empty, ValidationFailed):
                        raise new_empty
                    values.append(dict(new_empty))
                else:
                    values.append(_ABSENT)
            except ValidationFailed as exc:
                if errors[j] is None:
                    errors[j] = {}
                errors[j].update(exc.fields)
                values.append(_ABSENT)
        out["custom_fields"] = values
    emails = out.get("email")
    # the column's texts are stripped strings: normalize_email() of each is its lower case
    emails_normalized = list(map(str.lower, emails)) if emails is not None else None
    if "company_domain" not in present and "website" not in present and emails is not None:
        out["company_domain"] = email_domains(emails_normalized, normalized=True)  # no domain given: the e-mail's
    elif "company_domain" in present or "website" in present or emails is not None:
        domains = []
        for j, data in enumerate(rows):
            domain_input = data.get("company_domain") or data.get("website")
            if domain_input is None and emails is None:
                domains.append(_ABSENT)
                continue
            domain = normalize_domain(domain_input) if domain_input else ""
            if not domain:
                old = olds[j]
                domain = email_domain(emails[j] if emails is not None else (old.email if old else ""))
            domains.append(domain)
        out["company_domain"] = domains
    blank = [""] * n
    identities = [out.get(name, blank) for name in ("email", "phone", "contact_name", "company_name")]
    needed = None in olds and not any(all(values) for values in identities)  # one column filled on every row
    for j, (email, phone, name, company, old) in enumerate(zip(*identities, olds, strict=True) if needed else ()):
        if old is None and not (email or phone or name or company):
            if errors[j] is None:
                errors[j] = {}
            errors[j]["__all__"] = [_("Give at least a name, a company, an e-mail address or a phone number.")]
    if emails is not None:
        out["email_normalized"] = emails_normalized
    if phones_normalized is not None:
        out["phone_normalized"] = phones_normalized
    names = list(out)
    results = []
    maybe_absent = [name for name in ("custom_fields", "company_domain") if name in out and _ABSENT in out[name]]
    if names and not maybe_absent and errors.count(None) == n:  # the usual case: every input is valid
        return [(dict(zip(names, values, strict=True)), None) for values in zip(*out.values(), strict=True)]
    for j, values in enumerate(zip(*out.values(), strict=True)) if names else enumerate([()] * n):
        if errors[j]:
            results.append((None, errors[j]))
            continue
        cleaned = dict(zip(names, values, strict=True))
        for name in maybe_absent:
            if cleaned[name] is _ABSENT:
                del cleaned[name]
        results.append((cleaned, None))
    return results


def _check_owner(actor, values: dict[str, Any]) -> None:
    """Only admins and managers choose an owner or team; the owner must be an active user."""
    from keyfit.users.models import Team, User

    if values.get("owner_id") or values.get("team_id"):
        if not (is_admin(actor) or getattr(actor, "role", "") == "manager"):
            raise PermissionDenied(_("Only managers and admins assign leads directly; use routing."))
        if values.get("owner_id") and not User.objects.filter(pk=values["owner_id"], is_active=True).exists():
            raise ValidationFailed(fields={"owner_id": [_("Unknown user.")]})
        if values.get("team_id") and not Team.objects.filter(pk=values["team_id"]).exists():
            raise ValidationFailed(fields={"team_id": [_("Unknown team.")]})


def _check_external_ids(values: list[str]) -> set[str]:
    return set(Lead.objects.filter(external_id__in=[v for v in values if v]).values_list("external_id", flat=True))


# --- intake -----------------------------------------------------------------------------------


def lead_create(*, actor, data: dict[str, Any], route: bool = False, routing_seed: int = 0) -> Lead:
    """Create one lead from validated `data`; with `route` it is routed at once (same transaction)."""
    values = _clean(data)
    _check_owner(actor, values)
    lead = _new_lead(values)
    if lead.owner_id:
        lead.assigned_at = timezone.now()
    lead.route_requested = bool(route and not lead.owner_id)
    # Without an external id to check first, the lead and its audit event are one statement on PostgreSQL
    # (atomic by itself: no BEGIN and COMMIT round trips); otherwise check, save and audit in a transaction.
    external_id = values.get("external_id")
    routed = None  # routing's result when the intake itself waited for the router
    if lead.route_requested and not external_id and routing.shares_batches():
        statement = _insert_statement(lead, actor=actor)
        if statement is not None:  # the insert, its commit and the wait for the router: one round trip
            lead_id, routed = routing.take_in_and_route(
                actor=actor, seed=routing_seed, intake_sql=statement[0], intake_params=statement[1]
            )
            _inserted(lead, lead_id)
    if routed is None and (external_id or not _insert_with_audit(lead, actor=actor)):
        with transaction.atomic():
            if external_id and _check_external_ids([external_id]):
                raise ValidationFailed(fields={"external_id": [_("A lead with this external id exists.")]})
            # without an external id the one-statement insert was tried above: not again
            if not (external_id and _insert_with_audit(lead, actor=actor)):
                lead.save()
                audit_record(actor=actor, instance=lead, action=AuditEvent.Action.CREATE, after=snapshot(lead))
    # routing runs in its own transaction once the lead is safely stored (inside a caller's
    # transaction it is simply part of it); concurrent intakes share routing batches
    if lead.route_requested:
        if routed is None:
            routed = routing.route_new_lead(actor=actor, lead_id=lead.pk, seed=routing_seed)
        if not routed.apply_to(lead):  # routed by another producer's batch: read what it wrote
            lead.refresh_from_db()
    return lead


# per concrete lead field in order: (attribute name, default value, callable making the default or None)
_LEAD_DEFAULTS: list[tuple[str, Any, Any]] = []
_LEAD_NAMES: frozenset[str] = frozenset()


def _new_lead(values: dict[str, Any]) -> Lead:
    """``Lead(**values)`` for cleaned values keyed by attribute names, built from positional arguments
    (Django's fast path) with the non-callable defaults taken once per process: the keyword
    initialisation was the largest cost of an intake in Python."""
    global _LEAD_NAMES
    if not _LEAD_DEFAULTS:
        for f in Lead._meta.concrete_fields:
            # as Field.get_default: a callable default is called per instance; any other is one value
            made = f.has_default() and callable(f.default)
            _LEAD_DEFAULTS.append((f.attname, None if made else f.get_default(), f.default if made else None))
        _LEAD_NAMES = frozenset(name for name, _, _ in _LEAD_DEFAULTS)
    if not _LEAD_NAMES.issuperset(values):
        return Lead(**values)
    args = []
    for name, default, make in _LEAD_DEFAULTS:
        if name in values:
            args.append(values[name])
        else:
            args.append(default if make is None else make())
    return Lead(*args)


_INSERT_SQL: str | None = None
# (column, field, whether its pre_save computes the value) of every lead column but the id
_INSERT_FIELDS: list[tuple[str, Any, bool]] = []
_PLAIN = (str, int, bool, dict, list)  # values whose get_prep_value is themselves


def _insert_sql() -> str | None:
    """The statement of `_insert_with_audit`, built once per process (only model metadata goes in); None
    when a lead field's column is not named as its attribute (the audit keys are attribute names)."""
    global _INSERT_SQL
    if _INSERT_SQL is None:
        from django.db.models import Field

        fields = [f for f in Lead._meta.concrete_fields if not f.primary_key]
        if any(f.column != f.attname for f in fields):
            return None
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in fields)
        audit = AuditEvent._meta
        audit_columns = ", ".join(
            qn(audit.get_field(name).column)
            for name in ("at", "actor", "actor_label", "action", "verb", "content_type", "object_id", "object_repr")
        )
        skipped = ", ".join(f"'{name}'" for name in sorted(AUDIT_SKIPPED))  # field names
        _INSERT_FIELDS[:] = [(f.column, f, type(f).pre_save is not Field.pre_save) for f in fields]
        # the row as one JSON object; the audit event's changes are its non-null values (as `snapshot`
        # and `diff` make them for a new record), built by the database
        _INSERT_SQL = (
            "WITH r AS (SELECT %s::jsonb AS j), "  # noqa: S608 - table, column and field names only
            f"l AS (INSERT INTO {qn(Lead._meta.db_table)} ({columns}) "
            f"SELECT {columns} FROM r, jsonb_populate_record(NULL::{qn(Lead._meta.db_table)}, r.j) RETURNING id) "
            f"INSERT INTO {qn(audit.db_table)} ({audit_columns}, {qn(audit.get_field('changes').column)}) "
            # typed parameters: the statement is prepared (server-side binding)
            "SELECT %s::timestamptz, %s::bigint, %s::text, %s::text, '', %s::integer, l.id::text, "
            "COALESCE(%s::text, '#' || l.id), "
            "(SELECT jsonb_object_agg(e.key, jsonb_build_array(NULL, e.value)) FROM r, jsonb_each(r.j) AS e "
            f"WHERE e.value <> 'null'::jsonb AND e.key NOT IN ({skipped})) "
            "|| jsonb_build_object('id', jsonb_build_array(NULL, l.id)) FROM l RETURNING object_id"
        )
    return _INSERT_SQL


def _insert_with_audit(lead: Lead, *, actor) -> bool:
    """Insert the new `lead` and its creation audit event — the event `audit_record` writes for `lead.save()`
    — in one statement on PostgreSQL (the row as one JSON parameter, the statement built once per
    process and prepared once per connection): the intake of a single lead costs one round trip, no ORM
    compilation and no server-side planning. False (nothing done) elsewhere, or when something listens to
    the lead's save signals."""
    statement = _insert_statement(lead, actor=actor)
    if statement is None:
        return False
    with prepared_cursor() as cursor:  # one statement per intake: planned once per connection
        cursor.execute(*statement)
        _inserted(lead, cursor.fetchone()[0])
    return True


def _insert_statement(lead: Lead, *, actor) -> tuple[str, list] | None:
    """The statement and parameters of `_insert_with_audit` (its first column is the new id), or None."""
    from django.db.models.signals import post_save, pre_save

    if connection.vendor != "postgresql" or pre_save.has_listeners(Lead) or post_save.has_listeners(Lead):
        return None
    sql = _insert_sql()
    if sql is None:
        return None
    row = {}
    for column, f, computed in _INSERT_FIELDS:
        value = f.pre_save(lead, add=True) if computed else getattr(lead, column)
        row[column] = value if value is None or type(value) in _PLAIN else f.get_prep_value(value)
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    text = str(lead)
    return sql, [
        json.dumps(row, default=json_default),
        timezone.now(),
        actor_obj.pk if actor_obj else None,
        (str(actor_obj) if actor_obj else str(actor or "system"))[:200],
        AuditEvent.Action.CREATE.value,
        ContentType.objects.get_for_model(Lead).pk,
        None if text == f"#{lead.pk}" else text[:300],
    ]


def _inserted(lead: Lead, pk) -> None:
    """`lead` as `save()` leaves a new record: its id, stored in this database."""
    lead.pk = int(pk)
    lead._state.adding = False
    lead._state.db = connection.alias


def leads_bulk_create(*, actor, rows: list[dict[str, Any]], route: bool = False) -> list[dict[str, Any]]:
    """Validate every row with the rules of `lead_create`; create the valid ones in bulk.

    Returns one result per input row, in order: ``{"row": n, "lead_id": id | None, "errors": {...}}``.
    A bad row never stops the good ones.
    """
    definitions = custom_field_definitions("lead")
    results: list[dict[str, Any]] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    for index, data in enumerate(rows, start=1):
        try:
            values = _clean(data, definitions=definitions)
            _check_owner(actor, values)
        except (ValidationFailed, PermissionDenied) as exc:
            fields = exc.fields if exc.fields else {"__all__": [exc.message]}
            results.append({"row": index, "lead_id": None, "errors": fields})
            continue
        results.append({"row": index, "lead_id": None, "errors": {}})
        valid.append((index, values))
    with transaction.atomic():
        taken = _check_external_ids([v.get("external_id") for _, v in valid])
        seen: set[str] = set()
        leads: list[tuple[int, Lead]] = []
        for index, values in valid:
            ext = values.get("external_id")
            if ext and (ext in taken or ext in seen):
                results[index - 1]["errors"] = {"external_id": [_("A lead with this external id exists.")]}
                continue
            if ext:
                seen.add(ext)
            lead = Lead(**values)
            if lead.owner_id:
                lead.assigned_at = timezone.now()
            leads.append((index, lead))
        created = Lead.objects.bulk_create([lead for _, lead in leads], batch_size=1000)
        ct = ContentType.objects.get_for_model(Lead)
        actor_obj = actor if getattr(actor, "is_authenticated", False) else None
        label = (str(actor_obj) if actor_obj else str(actor or "system"))[:200]
        if created and created[0].pk is None:  # backends without RETURNING: fetch ids by external id
            raise RuntimeError("The database did not return the new ids.")
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    actor=actor_obj,
                    actor_label=label,
                    action=AuditEvent.Action.CREATE,
                    verb="bulk_create",
                    content_type=ct,
                    object_id=str(lead.pk),
                    object_repr=str(lead)[:300],
                    changes={k: [None, v] for k, v in snapshot(lead).items() if v not in (None, "", [], {})},
                )
                for lead in created
            ],
            batch_size=1000,
        )
        for (index, _lead), lead in zip(leads, created, strict=True):
            results[index - 1]["lead_id"] = lead.pk
        if route:
            unassigned = [lead.pk for lead in created if not lead.owner_id]
            if unassigned:
                routing.route_leads(actor=actor, lead_ids=unassigned)
    return results


def web_form_submit(*, form, data: dict[str, Any], language: str) -> Lead:
    """A visitor's submission of a public web form: a lead of the form's source, routed when configured."""
    values = {
        "source": form.source,
        "campaign": form.campaign,
        "contact_name": data.get("contact_name", ""),
        "contact_title": data.get("contact_title", ""),
        "email": data.get("email", ""),
        "phone": data.get("phone", ""),
        "company_name": data.get("company_name", ""),
        "language": language,
    }
    with transaction.atomic():
        lead = lead_create(actor=None, data=values, route=form.route_on_submit)
        Lead.objects.filter(pk=lead.pk).update(web_form=form)
        if data.get("message"):
            LeadSignal.objects.create(
                lead=lead, signal_type=SignalType.QUESTION, originator=Originator.CUSTOMER, note=data["message"][:1000]
            )
    return lead


def _locked(lead: Lead) -> Lead:
    return Lead.objects.select_for_update().get(pk=lead.pk)


def _check_version(lead: Lead, version: int | None) -> None:
    if version is not None and int(version) != lead.version:
        raise Conflict(extra={"current": _lead_public(lead)})


def _lead_public(lead: Lead) -> dict[str, Any]:
    data = snapshot(lead)
    data["version"] = lead.version
    return data


def _save(lead: Lead, *, actor, before: dict[str, Any], verb: str = "", extra=None) -> Lead:
    lead.version += 1
    lead.save()
    audit_record(
        actor=actor,
        instance=lead,
        action=AuditEvent.Action.UPDATE,
        before=before,
        after=snapshot(lead),
        verb=verb,
        extra=extra,
    )
    return lead


def lead_update(*, actor, lead: Lead, data: dict[str, Any], version: int | None = None) -> Lead:
    data = {k: v for k, v in data.items() if k not in ("status",)}
    values = _clean(data, existing=lead)
    _check_owner(actor, {k: v for k, v in values.items() if k in ("owner_id", "team_id") and v != getattr(lead, k)})
    with transaction.atomic():
        lead = _locked(lead)
        _check_version(lead, version)
        if (
            values.get("external_id")
            and Lead.objects.filter(external_id=values["external_id"]).exclude(pk=lead.pk).exists()
        ):
            raise ValidationFailed(fields={"external_id": [_("A lead with this external id exists.")]})
        before = snapshot(lead)
        for key, value in values.items():
            setattr(lead, key, value)
        return _save(lead, actor=actor, before=before)


# --- duplicates and merge ---------------------------------------------------------------------


def duplicate_candidates_q(*, email_normalized: str, phone_normalized: str, company_domain: str) -> Q | None:
    q = Q(pk__in=[])
    any_key = False
    for name, value in (
        ("email_normalized", email_normalized),
        ("phone_normalized", phone_normalized),
        ("company_domain", company_domain),
    ):
        if value:
            q |= Q(**{name: value})
            any_key = True
    return q if any_key else None


@transaction.atomic
def leads_merge(*, actor, target: Lead, sources: list[Lead]) -> Lead:
    """Merge `sources` into `target`: signals move over, empty fields are filled, history is kept."""
    ids = sorted({s.pk for s in sources} - {target.pk})
    if not ids:
        raise ValidationFailed(fields={"source_ids": [_("Choose at least one other lead to merge.")]})
    allowed = set(editable_leads(actor).filter(pk__in=[*ids, target.pk]).values_list("pk", flat=True))
    if len(allowed) != len(ids) + 1:
        raise PermissionDenied()
    locked = {
        lead.pk: lead for lead in Lead.objects.select_for_update().filter(pk__in=[*ids, target.pk]).order_by("pk")
    }
    target = locked[target.pk]
    if target.merged_into_id:
        raise ValidationFailed(fields={"target_id": [_("This lead was merged into another one.")]})
    sources = [locked[i] for i in ids]
    if any(s.status == Status.CONVERTED for s in sources):
        raise ValidationFailed(fields={"source_ids": [_("A converted lead cannot be merged into another.")]})
    before = snapshot(target)
    fill = [*TEXT_FIELDS, "company_domain", "email_normalized", "phone_normalized", "estimated_value", "external_id"]
    for source in sources:
        for name in fill:
            if getattr(target, name) in (None, "") and getattr(source, name) not in (None, ""):
                if name == "external_id":
                    continue
                setattr(target, name, getattr(source, name))
        target.priority = max(target.priority, source.priority)
        target.need_confirmed = target.need_confirmed or source.need_confirmed
        if target.purchase_intent == Intent.UNKNOWN:
            target.purchase_intent = source.purchase_intent
        merged_cf = dict(source.custom_fields or {})
        merged_cf.update(target.custom_fields or {})
        target.custom_fields = merged_cf
        if target.first_touch_at is None or (source.first_touch_at and source.first_touch_at < target.first_touch_at):
            target.first_touch_at = source.first_touch_at or target.first_touch_at
    LeadSignal.objects.filter(lead_id__in=ids).update(lead=target)
    duplicate = DisqualifyReason.objects.filter(code="duplicate").first()
    for source in sources:
        source_before = snapshot(source)
        source.merged_into = target
        source.status = Status.DISQUALIFIED
        source.disqualify_reason = duplicate
        source.version += 1
        source.save()
        audit_record(
            actor=actor,
            instance=source,
            action=AuditEvent.Action.MERGE,
            before=source_before,
            after=snapshot(source),
            verb="merged_into",
            extra={"into": target.pk},
        )
    target.version += 1
    target.save()
    audit_record(
        actor=actor,
        instance=target,
        action=AuditEvent.Action.MERGE,
        before=before,
        after=snapshot(target),
        verb="merged",
        extra={"merged": ids},
    )
    return target


# --- screening --------------------------------------------------------------------------------


def screening_policy() -> ScreeningPolicy:
    policy = ScreeningPolicy.objects.order_by("pk").first()
    return policy or ScreeningPolicy()


def fit_evaluate(lead: Lead, rules: list[FitRule] | None = None) -> tuple[int, list[dict[str, Any]]]:
    """The ICP fit score (sum of matched rule points, clamped 0–100) and its breakdown."""
    rules = rules if rules is not None else list(FitRule.objects.filter(active=True).order_by("position", "id"))
    row = lead_values(lead)
    total = 0
    breakdown = []
    for rule in rules:
        cond = {"field": rule.field, "operator": rule.operator, "value": rule.value}
        matched = compile_condition(cond)(row)
        if matched:
            total += rule.points
        breakdown.append(
            {
                "rule": rule.pk,
                "name": rule.name,
                "condition": describe(cond),
                "matched": matched,
                "points": rule.points if matched else 0,
            }
        )
    return max(0, min(100, total)), breakdown


def lead_screen1(*, actor, lead: Lead, version: int | None = None) -> Lead:
    """Screen 1 (fit): score the lead, then pass, nurture or fail it with reasons."""
    with transaction.atomic():
        lead = _locked(lead)
        _check_version(lead, version)
        _require_open(lead)
        before = snapshot(lead)
        policy = screening_policy()
        score, breakdown = fit_evaluate(lead)
        reasons: list[str] = []
        contactable = bool(lead.email_normalized or lead.phone_normalized)
        if not contactable:
            reasons.append("not_contactable")
        if score >= policy.fit_pass_threshold and contactable:
            result = ScreenResult.PASS
            reasons.append("fit_at_least_pass_threshold")
            lead.status = Status.SCREENING if lead.status == Status.NEW else lead.status
        elif score >= policy.fit_nurture_threshold and contactable:
            result = ScreenResult.NURTURE
            reasons.append("fit_between_thresholds")
            lead.status = Status.NURTURE
        else:
            result = ScreenResult.FAIL
            if score < policy.fit_nurture_threshold:
                reasons.append("fit_below_nurture_threshold")
            lead.status = Status.DISQUALIFIED
            code = "poor_fit" if contactable is True or score < policy.fit_nurture_threshold else "unreachable"
            if not contactable and score >= policy.fit_nurture_threshold:
                code = "unreachable"
            lead.disqualify_reason = DisqualifyReason.objects.filter(code=code).first()
        lead.fit_score = score
        lead.fit_breakdown = breakdown
        lead.screen1_result = result
        lead.screen1_reasons = reasons
        lead.screen1_at = timezone.now()
        _touch(lead)
        return _save(lead, actor=actor, before=before, verb="screen1", extra={"score": score, "result": result})


def value_threshold(lead: Lead) -> tuple[Decimal, str]:
    segment = ValueThreshold.objects.filter(segment=lead.company_size).first() if lead.company_size else None
    if segment:
        return segment.min_value, segment.currency
    policy = screening_policy()
    return policy.min_value, policy.currency


def conversion_unmet(lead: Lead) -> list[str]:
    """The screen-2 conditions `lead` does not meet yet (all are required to convert)."""
    unmet = []
    if lead.screen1_result != ScreenResult.PASS:
        unmet.append("screen1_not_passed")
    if not lead.need_confirmed:
        unmet.append("need_not_confirmed")
    if not LeadSignal.objects.filter(lead=lead, originator=Originator.CUSTOMER).exists():
        unmet.append("no_customer_signal")
    if lead.purchase_intent != Intent.YES:
        unmet.append("intent_not_yes")
    threshold, currency = value_threshold(lead)
    if lead.estimated_value is None or lead.currency != currency or lead.estimated_value < threshold:
        unmet.append("value_below_threshold")
    return unmet


def unmet_messages(codes: list[str]) -> list[dict[str, str]]:
    return [{"code": c, "message": str(UNMET_MESSAGES.get(c, c))} for c in codes]


def _require_open(lead: Lead) -> None:
    if lead.merged_into_id or lead.status == Status.CONVERTED:
        raise ValidationFailed(fields={"status": [_("This lead is closed (converted or merged).")]})


def lead_screen2(*, actor, lead: Lead, data: dict[str, Any], version: int | None = None) -> Lead:
    """Record the screen-2 answers (need to solve, intent, value, BANT) and evaluate the conditions."""
    allowed = {
        "need_confirmed",
        "purchase_intent",
        "estimated_value",
        "currency",
        "bant_budget",
        "bant_authority",
        "bant_need",
        "bant_timeline",
        "status_note",
    }
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed(fields={k: [_("Unknown field.")] for k in sorted(unknown)})
    values = _clean(data, existing=lead)
    with transaction.atomic():
        lead = _locked(lead)
        _check_version(lead, version)
        _require_open(lead)
        before = snapshot(lead)
        for key, value in values.items():
            setattr(lead, key, value)
        unmet = conversion_unmet(lead)
        lead.screen2_unmet = unmet
        lead.screen2_result = ScreenResult.PASS if not unmet else ScreenResult.PENDING
        lead.screen2_at = timezone.now()
        if not unmet:
            lead.status = Status.QUALIFIED
        elif lead.status == Status.QUALIFIED:
            lead.status = Status.SCREENING
        _touch(lead)
        return _save(lead, actor=actor, before=before, verb="screen2", extra={"unmet": unmet})


def lead_disqualify(*, actor, lead: Lead, reason_code: str, note: str = "", version: int | None = None) -> Lead:
    reason = DisqualifyReason.objects.filter(code=reason_code, active=True).first()
    if reason is None:
        raise ValidationFailed(fields={"reason": [_("Choose a disqualification reason.")]})
    with transaction.atomic():
        lead = _locked(lead)
        _check_version(lead, version)
        _require_open(lead)
        before = snapshot(lead)
        lead.status = Status.DISQUALIFIED
        lead.disqualify_reason = reason
        lead.status_note = note[:500]
        return _save(lead, actor=actor, before=before, verb="disqualify")


def lead_nurture(*, actor, lead: Lead, note: str = "", version: int | None = None) -> Lead:
    with transaction.atomic():
        lead = _locked(lead)
        _check_version(lead, version)
        _require_open(lead)
        before = snapshot(lead)
        lead.status = Status.NURTURE
        lead.status_note = note[:500]
        return _save(lead, actor=actor, before=before, verb="nurture")


def _touch(lead: Lead, moment: datetime.datetime | None = None) -> None:
    if lead.first_touch_at is None:
        lead.first_touch_at = moment or timezone.now()


def lead_first_touch(*, actor, lead: Lead) -> Lead:
    with transaction.atomic():
        lead = _locked(lead)
        before = snapshot(lead)
        _touch(lead)
        return _save(lead, actor=actor, before=before, verb="first_touch")


def lead_signal_add(
    *,
    actor,
    lead: Lead,
    signal_type: str,
    originator: str,
    occurred_at: datetime.datetime | None = None,
    note: str = "",
) -> LeadSignal:
    """Record a signal; a customer-originated one raises the lead's priority, ours counts as first touch."""
    errors = {}
    if signal_type not in SignalType.values:
        errors["signal_type"] = [_("Select a valid choice.")]
    if originator not in Originator.values:
        errors["originator"] = [_("Select a valid choice.")]
    if len(note or "") > 1000:
        errors["note"] = [_("At most %(n)d characters.") % {"n": 1000}]
    if errors:
        raise ValidationFailed(fields=errors)
    moment = occurred_at or timezone.now()
    if moment > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationFailed(fields={"occurred_at": [_("A signal cannot be in the future.")]})
    with transaction.atomic():
        lead = _locked(lead)
        _require_open(lead)
        signal = LeadSignal.objects.create(
            lead=lead,
            signal_type=signal_type,
            originator=originator,
            occurred_at=moment,
            note=note or "",
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(actor=actor, instance=signal, action=AuditEvent.Action.CREATE, after=snapshot(signal))
        before = snapshot(lead)
        if originator == Originator.CUSTOMER:
            lead.priority = min(100, lead.priority + CONTACT_SIGNALS_RAISE_PRIORITY)
        else:
            _touch(lead, moment)
        if lead.screen2_at is not None:
            lead.screen2_unmet = conversion_unmet(lead)
        _save(lead, actor=actor, before=before, verb="signal", extra={"signal": signal.pk})
    return signal


# --- conversion ---------------------------------------------------------------------------------


def lead_convert(
    *, actor, lead: Lead, opportunity_name: str = "", owner=None, version: int | None = None
) -> dict[str, Any]:
    """Convert a qualified lead: link or create the account and contact, create the S3 opportunity.

    Refused (ConversionRefused, 422) with the list of unmet conditions unless every screen-2
    condition holds, including a signal whose originator is the customer.
    """
    from keyfit.leads import conversion

    with transaction.atomic():
        lead = _locked(lead)
        _check_version(lead, version)
        _require_open(lead)
        unmet = conversion_unmet(lead)
        if unmet:
            raise ConversionRefused(
                fields={"unmet": [m["message"] for m in unmet_messages(unmet)]}, extra={"unmet": unmet}
            )
        before = snapshot(lead)
        owner = owner or lead.owner or actor
        account, account_created = conversion.account_for_lead(actor=actor, lead=lead, owner=owner)
        contact, contact_created = conversion.contact_for_lead(actor=actor, lead=lead, account=account)
        opportunity = conversion.opportunity_for_lead(
            actor=actor, lead=lead, account=account, contact=contact, owner=owner, name=opportunity_name
        )
        lead.status = Status.CONVERTED
        lead.converted_at = timezone.now()
        lead.converted_account = account
        lead.converted_contact = contact
        lead.converted_opportunity_ref = opportunity.pk
        lead.screen2_result = ScreenResult.PASS
        lead.screen2_unmet = []
        _save(lead, actor=actor, before=before, verb="convert", extra={"opportunity": opportunity.pk})
    return {
        "lead": lead,
        "account": account,
        "account_created": account_created,
        "contact": contact,
        "contact_created": contact_created,
        "opportunity": opportunity,
    }


# --- assignment ---------------------------------------------------------------------------------


def leads_route(*, actor, lead_ids: list[int] | None = None, seed: int = 0) -> routing.RouteResult:
    return routing.route_leads(actor=actor, lead_ids=lead_ids, seed=seed)


def lead_reassign(*, actor, lead: Lead, owner, reason: str, version: int | None = None) -> Lead:
    """Manual re-assignment: a reason is required and the decision is logged like routing's."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(fields={"reason": [_("Give a reason for the re-assignment.")]})
    if owner is None or not owner.is_active:
        raise ValidationFailed(fields={"owner_id": [_("Unknown user.")]})
    if not (is_admin(actor) or getattr(actor, "role", "") == "manager"):
        raise PermissionDenied()
    with transaction.atomic():
        lead = _locked(lead)
        _check_version(lead, version)
        before = snapshot(lead)
        previous = lead.owner_id
        now = timezone.now()
        lead.owner = owner
        lead.team_id = owner.team_id or lead.team_id
        lead.assigned_at = now
        lead.sla_breached_at = None
        routing_team = RoutingTeam.objects.select_related("calendar").filter(team_id=lead.team_id).first()
        if routing_team and lead.first_touch_at is None:
            from keyfit.leads.calendar import Calendar

            lead.sla_due_at = Calendar.from_model(routing_team.calendar).add_working_minutes(
                now, routing_team.sla_minutes
            )
        text = f"lead {lead.pk} → {owner.display_name}: manual re-assignment by {actor.display_name}: {reason}"
        RoutingDecision.objects.create(
            lead=lead,
            at=now,
            kind=DecisionKind.MANUAL,
            team_id=lead.team_id,
            from_owner_id=previous,
            to_owner=owner,
            actor=actor,
            reason=text[:500],
            inputs={"code": "manual", "reason": reason[:300], "member": owner.display_name},
        )
        _save(lead, actor=actor, before=before, verb="reassign", extra={"reason": reason})
        notification = Notification.objects.create(
            user=owner,
            kind=NotificationKind.ASSIGNED,
            lead=lead,
            message=f"lead {lead.pk} was assigned to you: {reason}"[:500],
        )
        from keyfit.leads.tasks import send_lead_notifications

        transaction.on_commit(lambda: send_lead_notifications.enqueue(notification_ids=[notification.pk]))
    return lead


def leads_check_slas(*, now: datetime.datetime | None = None, seed: int = 0) -> dict[str, int]:
    """Mark first-touch SLA breaches, notify owners and managers, re-assign where the team wants it."""
    now = now or timezone.now()
    with transaction.atomic():
        qs = Lead.objects.filter(
            owner__isnull=False,
            first_touch_at__isnull=True,
            sla_breached_at__isnull=True,
            sla_due_at__lt=now,
            status__in=OPEN_STATUSES,
            merged_into__isnull=True,
        )
        from django.db import connection

        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        rows = list(qs.order_by("sla_due_at", "id").values("id", "owner_id", "team_id", "priority")[:5000])
        if not rows:
            return {"breached": 0, "reassigned": 0}
        Lead.objects.filter(pk__in=[r["id"] for r in rows]).update(sla_breached_at=now)
        teams = {
            t.team_id: t
            for t in RoutingTeam.objects.select_related("team__manager").filter(
                team_id__in={r["team_id"] for r in rows}
            )
        }
        notes = []
        for r in rows:
            message = f"lead {r['id']}: first-touch SLA breached"
            notes.append(
                Notification(
                    user_id=r["owner_id"],
                    kind=NotificationKind.SLA_BREACH,
                    lead_id=r["id"],
                    message=message,
                    created_at=now,
                )
            )
            team = teams.get(r["team_id"])
            if team and team.team.manager_id and team.team.manager_id != r["owner_id"]:
                notes.append(
                    Notification(
                        user_id=team.team.manager_id,
                        kind=NotificationKind.SLA_BREACH,
                        lead_id=r["id"],
                        message=message,
                        created_at=now,
                    )
                )
        created = Notification.objects.bulk_create(notes)
        ids = [n.pk for n in created]
        from keyfit.leads.tasks import send_lead_notifications

        transaction.on_commit(lambda: send_lead_notifications.enqueue(notification_ids=ids))
        to_reroute = [
            {**r, "routing_team_id": teams[r["team_id"]].pk}
            for r in rows
            if r["team_id"] in teams and teams[r["team_id"]].reassign_on_breach
        ]
        result = routing.reroute_breached(lead_rows=to_reroute, now=now, seed=seed)
    return {"breached": len(rows), "reassigned": result.routed}


def notification_mark_read(*, user, notification_id: int) -> None:
    updated = Notification.objects.filter(user=user, pk=notification_id, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if not updated and not Notification.objects.filter(user=user, pk=notification_id).exists():
        raise NotFound()
