"""All writes of value cases. Keyword-only, atomic, audited.

States: draft → sent → acknowledged → at close → realised. Only a draft can be changed; a new draft copies
the latest version (drivers, costs, ratings, items). Sending freezes the version the customer sees.
"""

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyfit.core.audit import audit_record, snapshot
from keyfit.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, field_error
from keyfit.core.models import AuditEvent
from keyfit.core.permissions import can_write
from keyfit.core.securelinks import (
    secure_link_issue,
    secure_link_resolve,
    secure_link_target,
    secure_links_revoke_for,
)
from keyfit.valuecase import calc
from keyfit.valuecase.choices import CaseState, MentalKind
from keyfit.valuecase.models import (
    Acknowledgement,
    CostItem,
    CustomerComment,
    Driver,
    MentalItem,
    Rating,
    RealisationEntry,
    ValueCase,
)
from keyfit.valuecase.selectors import case_figures

A = AuditEvent.Action
LINK_PURPOSE = "valuecase.acknowledge"
LINK_DAYS = 30
ACKNOWLEDGED_STATES = (CaseState.ACKNOWLEDGED, CaseState.AT_CLOSE, CaseState.REALISED)

LINE_MODELS: dict[str, type] = {"drivers": Driver, "costs": CostItem, "ratings": Rating, "items": MentalItem}
LINE_FIELDS: dict[str, tuple[str, ...]] = {
    "drivers": (
        "contributor",
        "description",
        "activity",
        "quantity",
        "unit_value",
        "amount",
        "basis_kind",
        "basis",
        "confidence",
    ),
    "costs": ("kind", "description", "amount", "basis_kind", "basis"),
    "ratings": ("contact", "product", "kpi", "service"),
    "items": ("kind", "description", "amount"),
}
SETTINGS_FIELDS = (
    "summary",
    "internal_notes",
    "weight_product",
    "weight_kpi",
    "weight_service",
    "perception_override",
    "perception_override_reason",
    "horizon_months",
)


# --- helpers -----------------------------------------------------------------------------------


def _require_writer(actor) -> None:
    if not can_write(actor):
        raise PermissionDenied()


def _require_draft(case: ValueCase) -> None:
    if case.state != CaseState.DRAFT:
        raise Conflict(_("This version has left draft and cannot be changed; start a new version."), code="not_draft")


def _lock(case: ValueCase) -> ValueCase:
    return ValueCase.objects.select_for_update().select_related("opportunity").get(pk=case.pk)


def _check_version(case: ValueCase, version: int | None) -> None:
    if version is not None and int(version) != case.version:
        raise Conflict(extra={"current": {"version": case.version, **_case_values(case)}})


def _case_values(case: ValueCase) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in snapshot(case).items() if k in SETTINGS_FIELDS}


def _decimal(value, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise field_error(field, _("Enter a number.")) from None
    if not result.is_finite():
        raise field_error(field, _("Enter a number."))
    return result


def _full_clean(instance, prefix: str = "", exclude=None) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        raise ValidationFailed.from_django(exc, prefix=prefix) from exc


def _refresh(case: ValueCase) -> calc.Figures:
    """Recompute the stored copies (net value, customer value, compliance flag) from the lines."""
    figures = case_figures(case)
    case.customer_value = calc.quantize(figures.cv)
    case.net_value = calc.quantize(figures.net)
    case.compliance_flag = case.items.filter(kind=MentalKind.HOSPITALITY_GIFT).exists()
    ValueCase.objects.filter(pk=case.pk).update(
        customer_value=case.customer_value, net_value=case.net_value, compliance_flag=case.compliance_flag
    )
    return figures


def _bump(case: ValueCase) -> None:
    case.version += 1
    ValueCase.objects.filter(pk=case.pk).update(version=case.version, updated_at=timezone.now())


# --- lines ---------------------------------------------------------------------------------------


def _build_line(case: ValueCase, kind: str, data: dict[str, Any], prefix: str = ""):
    """An unsaved, validated line of `kind` for `case` from `data` (field errors named with `prefix`)."""
    if kind not in LINE_MODELS:
        raise NotFound()
    model = LINE_MODELS[kind]
    unknown = set(data) - set(LINE_FIELDS[kind]) - {"id", "position"}
    if unknown:
        raise ValidationFailed(fields={f"{prefix}{k}": [str(_("Unknown field."))] for k in sorted(unknown)})
    values: dict[str, Any] = {k: data.get(k) for k in LINE_FIELDS[kind] if k in data}
    for key in ("quantity", "unit_value", "amount"):
        if key in values:
            values[key] = _decimal(values[key], f"{prefix}{key}")
    for key in ("description", "basis"):
        if key in values:
            values[key] = (values[key] or "").strip()
    if kind == "drivers":
        qty, unit = values.get("quantity"), values.get("unit_value")
        if (qty is None) != (unit is None):
            missing = "unit_value" if unit is None else "quantity"
            raise field_error(f"{prefix}{missing}", _("Give both quantity and unit value, or neither."))
        if qty is not None:
            values["amount"] = calc.line_amount(qty, unit)
    if kind == "ratings":
        contact = values.pop("contact", None)
        if contact is not None and not hasattr(contact, "pk"):
            from keyfit.accounts.models import Contact

            contact = Contact.objects.filter(pk=contact).first() if str(contact).isdigit() else None
            if contact is None:
                raise field_error(f"{prefix}contact", _("Unknown contact."))
        if contact is not None and contact.account_id != case.opportunity.account_id:
            raise field_error(f"{prefix}contact", _("The stakeholder must be a contact of the opportunity's account."))
        values["contact"] = contact
    line = model(case=case, position=int(data.get("position") or 0), **values)
    _full_clean(line, prefix=prefix, exclude=["case"])
    return line


@transaction.atomic
def value_case_line_add(*, actor, case: ValueCase, kind: str, data: dict[str, Any]):
    """Add one driver, cost, rating or item to a draft. A rating of a stakeholder already rated replaces it."""
    _require_writer(actor)
    case = _lock(case)
    _require_draft(case)
    line = _build_line(case, kind, data)
    if kind == "ratings":
        existing = case.ratings.filter(contact=line.contact).first()
        if existing is not None:
            before = snapshot(existing)
            for key in ("product", "kpi", "service"):
                setattr(existing, key, getattr(line, key))
            existing.save()
            audit_record(actor=actor, instance=existing, action=A.UPDATE, before=before, after=snapshot(existing))
            line = existing
        else:
            line.position = case.ratings.count()
            line.save()
            audit_record(actor=actor, instance=line, action=A.CREATE, after=snapshot(line))
    else:
        if not data.get("position"):
            line.position = (getattr(case, kind).aggregate(m=Max("position"))["m"] or 0) + 1
        line.save()
        audit_record(actor=actor, instance=line, action=A.CREATE, after=snapshot(line))
    _bump(case)
    _refresh(case)
    return line


@transaction.atomic
def value_case_line_delete(*, actor, case: ValueCase, kind: str, line_id: int) -> None:
    _require_writer(actor)
    case = _lock(case)
    _require_draft(case)
    if kind not in LINE_MODELS:
        raise NotFound()
    line = getattr(case, kind).filter(pk=line_id).first()
    if line is None:
        raise NotFound()
    before = snapshot(line)
    audit_record(actor=actor, instance=line, action=A.DELETE, before=before)
    line.delete()
    _bump(case)
    _refresh(case)


def _replace_lines(*, actor, case: ValueCase, lines: dict[str, list[dict[str, Any]]]) -> None:
    built: dict[str, list] = {}
    errors: dict[str, list[str]] = {}
    for kind, rows in lines.items():
        built[kind] = []
        for i, row in enumerate(rows):
            try:
                line = _build_line(case, kind, dict(row), prefix=f"{kind}.{i}.")
                line.position = i + 1
                built[kind].append(line)
            except ValidationFailed as exc:
                for k, v in exc.fields.items():
                    errors.setdefault(k, []).extend(v)
        if kind == "ratings":
            seen: set = set()
            for i, line in enumerate(built[kind]):
                if line.contact_id in seen:
                    errors.setdefault(f"ratings.{i}.contact", []).append(str(_("This stakeholder is rated twice.")))
                seen.add(line.contact_id)
    if errors:
        raise ValidationFailed(fields=errors)
    for kind, objs in built.items():
        for old in getattr(case, kind).all():
            audit_record(actor=actor, instance=old, action=A.DELETE, before=snapshot(old))
        getattr(case, kind).all().delete()
        for obj in objs:
            obj.save()
            audit_record(actor=actor, instance=obj, action=A.CREATE, after=snapshot(obj))


# --- the case ------------------------------------------------------------------------------------


def _apply_settings(case: ValueCase, data: dict[str, Any]) -> None:
    unknown = set(data) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationFailed(fields={k: [str(_("This field cannot be changed here."))] for k in sorted(unknown)})
    for key in ("weight_product", "weight_kpi", "weight_service", "perception_override"):
        if key in data:
            value = _decimal(data[key], key)
            if value is None and key != "perception_override":
                raise field_error(key, _("This field is required."))
            setattr(case, key, value)
    for key in ("summary", "internal_notes", "perception_override_reason"):
        if key in data:
            setattr(case, key, (data[key] or "").strip())
    if "horizon_months" in data:
        try:
            case.horizon_months = int(data["horizon_months"])
        except (TypeError, ValueError):
            raise field_error("horizon_months", _("Enter a whole number of months.")) from None
    _full_clean(case, exclude=["opportunity", "created_by", "sent_to"])
    try:
        calc.check_override(case.perception_override, case.perception_override_reason)
        calc.check_weights((case.weight_product, case.weight_kpi, case.weight_service))
    except calc.CalcError as exc:
        messages = {
            "perception_override": _("The override must lie between 0 and 1.5."),
            "perception_override_reason": _("An override of the perception factor needs a written reason."),
            "weights": _("The weights may not all be zero."),
        }
        field = "weight_product" if exc.field == "weights" else exc.field
        raise field_error(field, messages[exc.field]) from None
    if case.perception_override is None:
        case.perception_override_reason = ""


@transaction.atomic
def value_case_create(*, actor, opportunity, data: dict[str, Any] | None = None, lines=None) -> ValueCase:
    """A new draft version for `opportunity`, copying the latest version's lines (if any).

    Only one draft may exist at a time (Conflict ``draft_exists``).
    """
    _require_writer(actor)
    from keyfit.pipeline.models import Opportunity

    opportunity = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
    latest = opportunity.value_cases.order_by("-number").first()
    if latest is not None and latest.state == CaseState.DRAFT:
        raise Conflict(_("A draft of this value case already exists."), code="draft_exists", extra={"id": latest.pk})
    case = ValueCase(
        opportunity=opportunity,
        number=(latest.number + 1) if latest else 1,
        currency=opportunity.currency,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if latest is not None:
        for key in SETTINGS_FIELDS:
            setattr(case, key, getattr(latest, key))
    _apply_settings(case, data or {})
    case.save()
    if latest is not None:
        for kind, model in LINE_MODELS.items():
            copies = []
            for line in getattr(latest, kind).all():
                line.pk = None
                line.id = None
                line.case = case
                copies.append(line)
            model.objects.bulk_create(copies)
    if lines:
        _replace_lines(actor=actor, case=case, lines=lines)
    audit_record(
        actor=actor,
        instance=case,
        action=A.CREATE,
        after=snapshot(case),
        extra={"copied_from": latest.number} if latest else None,
    )
    _refresh(case)
    return case


@transaction.atomic
def value_case_update(*, actor, case: ValueCase, version: int | None, data: dict[str, Any], lines=None) -> ValueCase:
    """Change a draft's settings (and, from the API, replace its lines). Stale version → 409."""
    _require_writer(actor)
    case = _lock(case)
    _check_version(case, version)
    _require_draft(case)
    before = snapshot(case)
    _apply_settings(case, data)
    if lines:
        _replace_lines(actor=actor, case=case, lines=lines)
    case.version += 1
    case.save()
    audit_record(actor=actor, instance=case, action=A.UPDATE, before=before, after=snapshot(case))
    _refresh(case)
    return case


@transaction.atomic
def value_case_delete(*, actor, case: ValueCase) -> None:
    _require_writer(actor)
    case = _lock(case)
    _require_draft(case)
    audit_record(actor=actor, instance=case, action=A.DELETE, before=snapshot(case))
    case.delete()


@transaction.atomic
def value_case_send(*, actor, case: ValueCase, contact, days: int = LINK_DAYS, now=None) -> tuple[ValueCase, str]:
    """Freeze the version and create the customer's secure link; return the raw token (shown once).

    Sending again (e.g. to another contact) revokes the earlier links of this version.
    """
    _require_writer(actor)
    case = _lock(case)
    if case.state not in (CaseState.DRAFT, CaseState.SENT):
        raise Conflict(_("This version has already been acknowledged."), code="not_sendable")
    if contact is None or contact.account_id != case.opportunity.account_id:
        raise field_error("contact", _("Send the case to a contact of the opportunity's account."))
    if not 1 <= int(days) <= 90:
        raise field_error("days", _("A link lasts from 1 to 90 days."))
    if not case.drivers.exists():
        raise field_error("drivers", _("Add at least one value driver before sending the case."))
    now = now or timezone.now()
    before = snapshot(case)
    secure_links_revoke_for(purpose=LINK_PURPOSE, target=case)
    link, token = secure_link_issue(
        purpose=LINK_PURPOSE, target=case, expires_at=now + datetime.timedelta(days=int(days)), actor=actor
    )
    case.state = CaseState.SENT
    case.sent_to = contact
    case.sent_at = now
    case.version += 1
    case.save()
    audit_record(
        actor=actor,
        instance=case,
        action=A.UPDATE,
        verb="send",
        before=before,
        after=snapshot(case),
        extra={"link": link.pk, "contact": contact.pk, "expires_at": link.expires_at.isoformat()},
    )
    return case, token


@transaction.atomic
def value_case_revoke_links(*, actor, case: ValueCase) -> int:
    _require_writer(actor)
    count = secure_links_revoke_for(purpose=LINK_PURPOSE, target=case)
    audit_record(actor=actor, instance=case, action=A.UPDATE, verb="revoke_links", extra={"revoked": count})
    return count


@transaction.atomic
def value_case_close(*, actor, case: ValueCase) -> ValueCase:
    """Mark the acknowledged version as the case at close (the baseline of value realisation)."""
    _require_writer(actor)
    case = _lock(case)
    if case.state != CaseState.ACKNOWLEDGED:
        raise Conflict(_("Only an acknowledged version can become the case at close."), code="not_acknowledged")
    before = snapshot(case)
    case.state = CaseState.AT_CLOSE
    case.closed_at = timezone.now()
    case.version += 1
    case.save()
    secure_links_revoke_for(purpose=LINK_PURPOSE, target=case)
    audit_record(actor=actor, instance=case, action=A.UPDATE, verb="close", before=before, after=snapshot(case))
    return case


@transaction.atomic
def value_case_mark_realised(*, actor, case: ValueCase) -> ValueCase:
    _require_writer(actor)
    case = _lock(case)
    if case.state != CaseState.AT_CLOSE:
        raise Conflict(_("Only the case at close can be marked realised."), code="not_at_close")
    before = snapshot(case)
    case.state = CaseState.REALISED
    case.realised_at = timezone.now()
    case.version += 1
    case.save()
    audit_record(actor=actor, instance=case, action=A.UPDATE, verb="realised", before=before, after=snapshot(case))
    return case


@transaction.atomic
def realisation_add(
    *, actor, case: ValueCase, driver_id, on: datetime.date | str | None, amount, note: str = ""
) -> RealisationEntry:
    """Record value realised against a driver of the case at close."""
    _require_writer(actor)
    case = _lock(case)
    if case.state not in (CaseState.AT_CLOSE, CaseState.REALISED):
        raise Conflict(_("Realised value is recorded against the case at close."), code="not_at_close")
    driver = case.drivers.filter(pk=driver_id).first() if str(driver_id or "").isdigit() else None
    if driver is None:
        raise field_error("driver", _("Choose a value driver of this case."))
    if isinstance(on, str):
        try:
            on = datetime.date.fromisoformat(on)
        except ValueError:
            raise field_error("on", _("Enter a valid date.")) from None
    entry = RealisationEntry(
        case=case,
        driver=driver,
        on=on or timezone.localdate(),
        amount=_decimal(amount, "amount"),
        note=(note or "").strip(),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _full_clean(entry, exclude=["case", "driver", "created_by"])
    entry.save()
    audit_record(actor=actor, instance=entry, action=A.CREATE, after=snapshot(entry))
    return entry


# --- the customer's side (secure link, no login) ---------------------------------------------------


def customer_case(*, case_id, token: str, client: str = "-") -> ValueCase:
    """The case a customer link opens; every failure is the same NotFound, repeated failures RateLimited.

    The case id in the address must match the link's target: a valid token of another case is refused
    like any wrong token. Refusals against an existing case are audited.
    """
    try:
        link = secure_link_resolve(purpose=LINK_PURPOSE, token=token, client=client)
        case = secure_link_target(link, ValueCase)
        if str(case.pk) != str(case_id):
            raise NotFound()
    except NotFound:
        target = ValueCase.objects.filter(pk=case_id).first() if str(case_id).isdigit() else None
        if target is not None:
            audit_record(
                actor=f"link from {client}",
                instance=target,
                action=A.ACCESS,
                verb="link_refused",
                extra={"client": client},
            )
        raise
    if case.state not in (CaseState.SENT, CaseState.ACKNOWLEDGED):
        raise NotFound()
    return ValueCase.objects.select_related("opportunity", "opportunity__account", "sent_to").get(pk=case.pk)


def customer_open(*, case_id, token: str, client: str = "-") -> ValueCase:
    case = customer_case(case_id=case_id, token=token, client=client)
    audit_record(
        actor=_customer_label(case), instance=case, action=A.ACCESS, verb="link_open", extra={"client": client}
    )
    return case


def _customer_label(case: ValueCase) -> str:
    return f"{case.sent_to} (customer link)" if case.sent_to else "customer link"


@transaction.atomic
def customer_comment(*, case_id, token: str, body: str, client: str = "-") -> CustomerComment:
    case = customer_case(case_id=case_id, token=token, client=client)
    body = (body or "").strip()
    if not body:
        raise field_error("body", _("Write a comment."))
    if len(body) > 4000:
        raise field_error("body", _("A comment has at most 4,000 characters."))
    comment = CustomerComment.objects.create(case=case, contact=case.sent_to, body=body)
    audit_record(actor=_customer_label(case), instance=comment, action=A.CREATE, after=snapshot(comment))
    return comment


@transaction.atomic
def customer_acknowledge(*, case_id, token: str, client: str = "-", now=None) -> Acknowledgement:
    """Record that the contact acknowledged this exact version (who, when, version, net value)."""
    case = customer_case(case_id=case_id, token=token, client=client)
    case = _lock(case)
    if case.state != CaseState.SENT:
        raise Conflict(_("This version has already been acknowledged."), code="already_acknowledged")
    figures = case_figures(case)
    before = snapshot(case)
    ack = Acknowledgement.objects.create(
        case=case,
        contact=case.sent_to,
        at=now or timezone.now(),
        case_number=case.number,
        net_value=calc.quantize(figures.net),
    )
    case.state = CaseState.ACKNOWLEDGED
    case.version += 1
    case.save()
    audit_record(actor=_customer_label(case), instance=ack, action=A.CREATE, after=snapshot(ack))
    audit_record(
        actor=_customer_label(case),
        instance=case,
        action=A.UPDATE,
        verb="acknowledge",
        before=before,
        after=snapshot(case),
        extra={"client": client},
    )
    return ack


# --- the S4 gate -----------------------------------------------------------------------------------


def gate_value_case_acknowledged(opportunity) -> tuple[bool, str]:
    """Met when the latest acknowledged version of the opportunity's case has net value > 0 (exactly)."""
    case = opportunity.value_cases.filter(state__in=ACKNOWLEDGED_STATES).order_by("-number").first()
    if case is None:
        return False, str(_("No version of the value case has been acknowledged by the customer."))
    figures = case_figures(case)
    if figures.net <= 0:
        return False, str(
            _("The acknowledged value case (version %(number)s) has no positive net value.") % {"number": case.number}
        )
    return True, ""
