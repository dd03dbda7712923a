"""The import engine: stream rows, validate them with the models' own rules, upsert in batches.

Every data row ends in exactly one of: created, updated, unchanged (an identical record already
exists), rejected (with the reasons, written to the rejected-rows file). The counts and the row
offset are committed with each batch, so a crashed or cancelled import resumes where it stopped.
"""

import csv
import datetime
import decimal
import io
import json
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from itertools import islice, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import NOT_PROVIDED
from django.utils import timezone
from django.utils.translation import gettext as _

from keyfit.core.customfields import custom_field_definitions, custom_fields_clean
from keyfit.core.errors import DomainError, ValidationFailed, field_error
from keyfit.core.permissions import _scope, is_admin
from keyfit.imports.mapping import Compiled, Rule, _norm

BATCH_SIZE = 10_000  # rows per transaction (the checkpoint of a resume)
# keys per look-up: PostgreSQL plans `= ANY` of 10,000 keys as a scan of the whole table, of 5,000 as an
# index scan (EXPLAIN at 1,000,000 leads: 771 ms against 17 ms)
LOOKUP_CHUNK = 5000
ERRORS_KEPT = 200
COPY_CHUNK = 1000  # rows per piece of a COPY handed to the thread that sends it
_ABORT = object()  # put in place of a COPY chunk: the rows could not be prepared
_MEMO_LIMIT = 20_000
_MISSING = object()
_SET, _SKIP, _ERROR = object(), object(), object()  # what a cell does to its row (see Engine._settle)
_SKIP_OUTCOME = (_SKIP,)
_TRUE = {"1", "true", "t", "yes", "y", "是", "on", "x"}
_FALSE = {"0", "false", "f", "no", "n", "否", "off"}
_NUMBER_JUNK = re.compile(r"^[¥$€£￥]|\s|(?<=\d),(?=\d{3}(\D|$))")


def _short(text: Any, limit: int = 300) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Row:
    """One row of the file on its way through the engine."""

    __slots__ = ("custom", "data", "errors", "key", "number", "outcome", "precleaned", "special", "values")

    def __init__(self, number: int, values: list[str], data: dict[str, Any] | None = None) -> None:
        self.number = number
        self.values = values
        self.data: dict[str, Any] = {} if data is None else data
        self.custom: dict[str, Any] = {}
        self.special: dict[str, str] = {}
        self.errors: list[str] = []
        self.key: Any = None
        self.outcome = ""
        self.precleaned: tuple | None = None  # the app's validation as a new record, done ahead (preclean)


class Engine:
    def __init__(self, compiled: Compiled, *, actor, dry_run: bool = False) -> None:
        self.c = compiled
        self.kind = compiled.kind
        self.model = self.kind.model
        self.actor = actor
        self.dry_run = dry_run
        self.fields = self.kind.importable_fields()
        self.definitions = custom_field_definitions(self.kind.custom_target) if self.kind.custom_target else []
        self.ncols = len(compiled.header)
        self.memo: dict[str, dict[str, tuple[bool, Any]]] = {}
        self.owner_cache: dict[str, Any] = {}
        self.account_cache: dict[tuple[str, str], Any] = {}
        self.opportunity_cache: dict[str, Any] = {}
        self.key_field = self._key_field(compiled.key)
        self.group: dict[str, list[Rule]] = {}
        for rule in compiled.rules:
            self.group.setdefault(f"{rule.target}:{rule.name}", []).append(rule)
        self.choice_maps: dict[str, dict[str, str]] = {}
        from django.utils import translation

        for name, f in self.fields.items():
            if f.choices:
                m: dict[str, str] = {}
                for language in ("en", "zh-hans"):  # labels in either language, then the stored values
                    with translation.override(language):
                        for value, label in f.flatchoices:
                            m[_norm(str(label))] = value
                for value, _label in f.flatchoices:
                    m[_norm(value)] = value
                self.choice_maps[name] = m
        self.required = [
            name
            for name, f in self.fields.items()
            if not f.blank and not f.has_default() and not f.null and name != "external_id"
        ]
        self.slow = compiled.route or not self._bulk_supported()
        from keyfit.imports.kinds import _dotted

        self.cleaner = _dotted(self.kind.cleaner) if self.kind.cleaner else None
        self.batch_cleaner = _dotted(self.kind.batch_cleaner) if self.kind.batch_cleaner else None
        # Plain text fields the app's own validation checks (length, format) need no second pass here.
        self.passthrough = set()
        if self.cleaner is not None:
            self.passthrough = {
                name
                for name, f in self.fields.items()
                if type(f) in (models.CharField, models.TextField) and not f.choices
            }
        self.empty_max = max((len(v) for v in compiled.empty_values), default=0) + 2
        self.derived = {"domain", "currency", "country", "email", "external_id"}
        self.prepare_fn = self.rules_fn = None
        if self.kind.prepare_rules:
            self.prepare_fn = _dotted(self.kind.prepare_rules[0])
            self.rules_fn = _dotted(self.kind.prepare_rules[1])
        self.attnames = [f.attname for f in self.model._meta.concrete_fields if f.attname != "id"]
        self._empty_cache: dict[str, bool] = {}
        self._empty_firsts = {v[0] for v in compiled.empty_values if v}
        self._initials: dict[str, bool] = {}
        self._choice_cache: dict[str, dict[str, Any]] = {}
        self.plans = self._compile_groups()

    def _key_field(self, key: str | None) -> str | None:
        if not key:
            return None
        if key == "email" and "email_normalized" in {f.name for f in self.model._meta.concrete_fields}:
            return "email_normalized"
        return key

    def _bulk_supported(self) -> bool:
        return self.kind.name in ("account", "contact", "lead")

    # --- one row -----------------------------------------------------------------------------------

    def _cell(self, rule: Rule, text: str) -> tuple[Any, str | None]:
        """The (stripped) cell after empty placeholders and value maps; (value, error)."""
        if not text and not rule.values:
            return "", None
        if self.c.empty_values and len(text) <= self.empty_max:
            empty = self._empty_cache.get(text)
            if empty is None:
                empty = _norm(text) in self.c.empty_values
                if len(self._empty_cache) < _MEMO_LIMIT:
                    self._empty_cache[text] = empty
            if empty:
                return "", None
        if rule.values:
            if text in rule.values:
                return rule.values[text], None
            folded = _norm(text)
            if folded in rule.values_folded:
                return rule.values_folded[folded], None
        if rule.template and text:
            text = rule.template.replace("{value}", text)
        if rule.target == "field" and text and rule.name in self.choice_maps:
            cache = self._choice_cache.setdefault(rule.name, {})
            value = cache.get(text, _MISSING)
            if value is _MISSING:
                value = self.choice_maps[rule.name].get(_norm(text))
                if len(cache) < _MEMO_LIMIT:
                    cache[text] = value
            if value is None:
                if rule.on_unknown == "empty":
                    return "", None
                return None, _("“%(value)s” is not one of the allowed choices.") % {"value": _short(text, 60)}
            return value, None
        return text, None

    def _convert(self, f: models.Field, value: Any, rule: Rule) -> Any:
        if not isinstance(value, str):
            return value
        if isinstance(f, models.BooleanField):
            folded = value.casefold()
            if folded in _TRUE:
                return True
            if folded in _FALSE:
                return False
            return value
        if isinstance(f, models.DateTimeField):
            fmt = rule.date_format
            parsed = datetime.datetime.strptime(value, fmt) if fmt else datetime.datetime.fromisoformat(value)
            if timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed)
            return parsed
        if isinstance(f, models.DateField):
            fmt = rule.date_format
            if fmt:
                return datetime.datetime.strptime(value, fmt).date()
            return value
        if isinstance(f, models.DecimalField | models.IntegerField | models.FloatField):
            value = _NUMBER_JUNK.sub("", value)
            if isinstance(f, models.IntegerField) and re.fullmatch(r"-?\d+\.0+", value):
                value = value.split(".")[0]
        return value

    def clean_field(self, name: str, value: Any, rule: Rule) -> tuple[bool, Any]:
        """The model field's own clean() plus the form's extra validators, memoised per distinct value."""
        memo = self.memo.setdefault(name, {})
        memo_key = value if isinstance(value, str) else repr(value)
        hit = memo.get(memo_key)
        if hit is not None:
            return hit
        f = self.fields[name]
        try:
            converted = self._convert(f, value, rule)
            cleaned = f.clean(converted, None)
            for validator in self.kind.extra_validators.get(name, ()):
                validator(cleaned)
            result: tuple[bool, Any] = (True, cleaned)
        except ValidationError as exc:
            result = (False, " ".join(_short(m) for m in exc.messages))
        except (ValueError, TypeError, decimal.InvalidOperation):
            result = (False, _("“%(value)s” is not in the expected format.") % {"value": _short(value, 60)})
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
        if len(memo_key) <= 200:
            memo[memo_key] = result
        return result

    def _compile_groups(self) -> list[tuple]:
        """Per target, everything prepare() needs, looked up once instead of on every row."""
        plans = []
        for rules in self.group.values():
            first = rules[0]
            f = self.fields.get(first.name) if first.target == "field" else None
            if f is None:
                empty = None
            elif first.name in self.required:
                empty = "required"
            elif f.null:
                empty = "null"
            elif not f.has_default():
                empty = "blank"
            else:
                empty = "default"
            passthrough = f is not None and first.name in self.passthrough
            # One plain column (no value map, no template): prepare() reads the cell inline.
            simple = len(rules) == 1 and not first.values and not first.template
            choices = self.choice_maps.get(first.name) if first.target == "field" else None
            plans.append((rules, first, first.target, first.name, empty, passthrough, simple, choices))
        return plans

    def _settle(self, plan: tuple, value: Any) -> tuple:
        """What a plan's value does to its row: (_SET, value), (_SKIP,) or (_ERROR, column, message)."""
        _rules, first, target, name, empty, passthrough = plan[:6]
        if target == "field":
            if value == "" or value is None:
                if empty == "required":
                    return (_ERROR, first.column, _("This field is required."))
                if empty == "null":
                    return (_SET, None)
                if empty == "blank":
                    return (_SET, "")
                return _SKIP_OUTCOME
            if passthrough and type(value) is str:
                return (_SET, value)
            ok, cleaned = self.clean_field(name, value, first)
            return (_SET, cleaned) if ok else (_ERROR, first.column, cleaned)
        if target == "custom":
            return (_SET, value)
        return (_SET, value if isinstance(value, str) else str(value))

    def _outcome(self, plan: tuple, text: str) -> tuple:
        value, error = self._cell(plan[1], text)
        if error:
            return (_ERROR, plan[1].column, error)
        return self._settle(plan, "" if value is None else value)

    def _placeholder(self, text: str) -> bool:
        """Is this (stripped, non-empty) cell one of the mapping's "not answered" placeholders?"""
        if len(text) > self.empty_max:
            return False
        # the normalised text starts with the case-folded first character: most cells fail right here
        initial = self._initials.get(text[0])
        if initial is None:
            initial = self._initials[text[0]] = text[0].casefold()[:1] in self._empty_firsts
        if not initial:
            return False
        hit = self._empty_cache.get(text)
        if hit is None:
            hit = _norm(text) in self.c.empty_values
            if len(self._empty_cache) < _MEMO_LIMIT:
                self._empty_cache[text] = hit
        return hit

    def _joined(self, plan: tuple, cells: list[str]) -> tuple[list[tuple], Any]:
        """Several columns mapped to one field (first and last name): (errors, value) of one row."""
        errors, parts = [], []
        for rule, text in zip(plan[0], cells, strict=True):
            value, error = self._cell(rule, text)
            if error:
                errors.append((_ERROR, rule.column, error))
            elif value not in (None, ""):
                parts.append(value)
        if errors:
            return errors, None
        if len(parts) > 1 and all(isinstance(p, str) for p in parts):
            return [], " ".join(parts)
        return [], parts[0] if parts else ""

    def prepare_batch(self, items: list[tuple[int, list[str]]]) -> list[Row]:
        """Rows of the file → Rows with their field values, column by column over the whole batch.

        Each distinct cell text of a column is converted and validated once per batch; a plain text
        column without placeholders is taken as it is.
        """
        ncols = self.ncols
        lines = [values for _number, values in items]
        if min(map(len, lines)) >= ncols:
            table = lines
        else:
            table = [v if len(v) >= ncols else [*v, *([""] * (ncols - len(v)))] for v in lines]
        empty_values = self.c.empty_values
        full: list[tuple[str, list[Any]]] = []  # field columns that set a value on every row
        partial: list[tuple[str, str, list]] = []  # the others: (store, name, outcome of each row)
        for plan in self.plans:
            rules, first, target, name, _empty, passthrough, simple, choices = plan
            if len(rules) == 1:
                column = list(map(str.strip, map(itemgetter(first.index), table)))
                distinct = set(column)
                if target == "field" and passthrough and simple and choices is None:
                    # plain text: only empty cells and placeholders need a look
                    if empty_values:  # only short cells can be placeholders
                        short = self.empty_max
                        odd = {t for t in distinct if len(t) <= short and (not t or self._placeholder(t))}
                    else:
                        odd = distinct & {""}
                    if not odd:
                        full.append((name, column))
                        continue
                    outcomes = {t: self._settle(plan, "") if t in odd else (_SET, t) for t in distinct}
                else:
                    outcomes = {t: self._outcome(plan, t) for t in distinct}
                if target == "field" and all(o[0] is _SET for o in outcomes.values()):
                    values = {t: o[1] for t, o in outcomes.items()}
                    full.append((name, list(map(values.__getitem__, column))))
                    continue
                results = map(outcomes.__getitem__, column)
            else:
                results = []
                for values in table:
                    errors, value = self._joined(plan, [values[rule.index].strip() for rule in rules])
                    results.append(errors or self._settle(plan, value))
            partial.append(("data" if target == "field" else target, name, list(results)))
        if full:
            names = [name for name, _values in full]
            datas = [dict(zip(names, values, strict=True)) for values in zip(*(v for _n, v in full), strict=True)]
            rows = [Row(number, values, data) for (number, values), data in zip(items, datas, strict=True)]
        else:
            rows = [Row(number, values) for number, values in items]
        if max(map(len, lines)) > ncols:
            for row in rows:
                if len(row.values) > ncols and any(v.strip() for v in row.values[ncols:]):
                    row.errors.append(_("row %(n)d: more values than the header has columns") % {"n": row.number})
        for store, name, results in partial:
            for row, outcome in zip(rows, results, strict=True):
                if type(outcome) is list:  # several columns, each with its error
                    row.errors.extend(self._message(row.number, column, message) for _e, column, message in outcome)
                    continue
                code = outcome[0]
                if code is _SET:
                    getattr(row, store)[name] = outcome[1]
                elif code is _ERROR:
                    row.errors.append(self._message(row.number, outcome[1], outcome[2]))
        finish = self._finish
        normalize = self.kind.normalize and (self.cleaner is None or self.key_field != self.c.key)
        if self.c.constants or self.c.row_number_prefix is not None or self.c.currency or normalize:
            for row in rows:
                finish(row)
        if self.key_field:
            key_field = self.key_field
            for row in rows:
                row.key = row.data.get(key_field) or None
        return rows

    def _finish(self, row: Row) -> None:
        number = row.number
        for name, constant in self.c.constants.items():
            if name in row.data or row.errors:
                continue
            value = constant.replace("{row}", str(number)) if isinstance(constant, str) else constant
            rule = Rule(column=name, index=-1, target="field", name=name)
            ok, cleaned = self.clean_field(name, value, rule)
            if ok:
                row.data[name] = cleaned
            else:
                row.errors.append(self._message(number, name, cleaned))
        if self.c.row_number_prefix is not None:
            row.data["external_id"] = f"{self.c.row_number_prefix}{number}"
        if self.c.currency and "currency" in self.fields and not row.data.get("currency"):
            row.data["currency"] = self.c.currency
        if self.kind.normalize and not row.errors and (self.cleaner is None or self.key_field != self.c.key):
            self.kind.normalize(row.data)

    @staticmethod
    def _message(number: int, column: str, message: str) -> str:
        return _("row %(n)d, column %(column)s: %(message)s") % {"n": number, "column": column, "message": message}

    # --- a batch -----------------------------------------------------------------------------------

    def _owner(self, email: str):
        from keyfit.users.models import User

        key = email.strip().lower()
        if key not in self.owner_cache:
            user = User.objects.filter(email__iexact=key, is_active=True).first()
            self.owner_cache[key] = user
        return self.owner_cache[key]

    def _may_assign(self, user) -> bool:
        if user.pk == self.actor.pk or is_admin(self.actor):
            return True
        return user.team_id is not None and user.team_id in _scope(self.actor)["write"]

    def _resolve_accounts(self, rows: list[Row]) -> None:
        from keyfit.accounts.models import Account
        from keyfit.core.permissions import scope_q

        ids = {r.special["account_external_id"] for r in rows if r.special.get("account_external_id")}
        names = {r.special["account_name"] for r in rows if r.special.get("account_name")}
        ids -= {k for (t, k) in self.account_cache if t == "id"}
        names -= {k for (t, k) in self.account_cache if t == "name"}
        if ids:
            for ext in ids:
                self.account_cache[("id", ext)] = None
            for acc in Account.objects.filter(scope_q(self.actor, write=True), external_id__in=ids):
                self.account_cache[("id", acc.external_id)] = acc
        if names:
            for name in names:
                self.account_cache[("name", name)] = None
            found: dict[str, list] = {}
            for acc in Account.objects.filter(scope_q(self.actor, write=True), name__in=names):
                found.setdefault(acc.name, []).append(acc)
            for name, accs in found.items():
                self.account_cache[("name", name)] = accs[0] if len(accs) == 1 else "many"

    def _apply_specials(self, row: Row, creating: bool) -> None:
        k = self.kind
        email = row.special.get("owner_email")
        if email and k.owner_field:
            column = self._column_of("owner_email")
            user = self._owner(email)
            if user is None:
                row.errors.append(self._message(row.number, column, _("no active user with this e-mail")))
            elif not self._may_assign(user):
                row.errors.append(self._message(row.number, column, _("you may not assign records to this user")))
            else:
                row.data[f"{k.owner_field}_id"] = user.pk
                if k.team_field:
                    row.data[f"{k.team_field}_id"] = user.team_id
        elif creating and k.owner_field and not self.c.route:  # routed leads get their owner from routing
            row.data[f"{k.owner_field}_id"] = self.actor.pk
            if k.team_field:
                row.data[f"{k.team_field}_id"] = self.actor.team_id
        if "opportunity_external_id" in k.extra_specials:
            ext = row.special.get("opportunity_external_id")
            opportunity = self.opportunity_cache.get(ext) if ext else None
            if ext and opportunity is None:
                column = self._column_of("opportunity_external_id")
                row.errors.append(self._message(row.number, column, _("no such opportunity")))
                return
            if opportunity is not None:
                row.data["opportunity_id"] = opportunity.pk
                if k.account_field:
                    row.data[f"{k.account_field}_id"] = opportunity.account_id
                elif k.name == "contract":  # a contract belongs to its opportunity's account
                    row.data["account_id"] = opportunity.account_id
            elif creating and k.name in ("contract", "stage_change"):
                row.errors.append(_("row %(n)d: an opportunity (its external id) is required") % {"n": row.number})
                return
        if k.name == "stage_change":
            self._stage_change_specials(row)
        if "stage" in k.extra_specials and row.special.get("stage"):
            code = self._stage_code(row.special["stage"])
            if code is None:
                row.errors.append(self._message(row.number, self._column_of("stage"), _("no such stage")))
            else:
                row.data["stage_code"] = code
        if "lost_reason" in k.extra_specials:
            self._lost_reason_special(row)
        if k.account_field:
            ext, name = row.special.get("account_external_id"), row.special.get("account_name")
            account = None
            if f"{k.account_field}_id" in row.data and not (ext or name):
                return  # taken from the opportunity
            if ext:
                account = self.account_cache.get(("id", ext))
                if account is None:
                    row.errors.append(
                        self._message(row.number, self._column_of("account_external_id"), _("no such account"))
                    )
                    return
            elif name:
                account = self.account_cache.get(("name", name))
                if account == "many":
                    row.errors.append(
                        self._message(row.number, self._column_of("account_name"), _("several accounts have this name"))
                    )
                    return
                if account is None:
                    row.errors.append(self._message(row.number, self._column_of("account_name"), _("no such account")))
                    return
            if account is not None:
                row.data[f"{k.account_field}_id"] = account.pk
            elif creating:
                row.errors.append(_("row %(n)d: an account is required") % {"n": row.number})

    def _resolve_opportunities(self, rows: list[Row]) -> None:
        from django.apps import apps

        from keyfit.core.permissions import scope_q

        ids = {r.special["opportunity_external_id"] for r in rows if r.special.get("opportunity_external_id")}
        ids -= set(self.opportunity_cache)
        if ids:
            for ext in ids:
                self.opportunity_cache[ext] = None
            model = apps.get_model("pipeline", "Opportunity")
            for opp in model.objects.filter(scope_q(self.actor, write=True), external_id__in=ids).only(
                "pk", "external_id", "account_id", "stage_id"
            ):
                self.opportunity_cache[opp.external_id] = opp

    def _stage_change_specials(self, row: Row) -> None:
        """From/to stage (code or name) and the user who moved it (by e-mail) of a history row."""
        from keyfit.users.models import User

        for name in ("from_stage", "to_stage"):
            text = row.special.get(name)
            if not text:
                if name == "to_stage":
                    row.errors.append(self._message(row.number, self._column_of(name), _("This field is required.")))
                continue
            code = self._stage_code(text)
            if code is None:
                row.errors.append(self._message(row.number, self._column_of(name), _("no such stage")))
            else:
                row.data[f"{name}_id"] = self._stage_ids[code]
        email = row.special.get("actor_email")
        if email:
            key = email.strip().lower()
            if ("actor", key) not in self.owner_cache:
                self.owner_cache[("actor", key)] = User.objects.filter(email__iexact=key).first()
            user = self.owner_cache[("actor", key)]
            if user is None:
                row.errors.append(
                    self._message(row.number, self._column_of("actor_email"), _("no user with this e-mail"))
                )
            else:
                row.data["actor_id"] = user.pk
        if not row.data.get("external_id"):
            row.errors.append(_("row %(n)d: a history row needs an external id") % {"n": row.number})

    def _stage_code(self, text: str) -> str | None:
        if not hasattr(self, "_stages"):
            from django.apps import apps

            stages: dict[str, str] = {}
            self._stage_ids: dict[str, int] = {}
            self._stage_kinds: dict[str, str] = {}
            self._stage_kinds_by_id: dict[int, str] = {}
            for pk, code, en, zh, kind in (
                apps.get_model("pipeline", "Stage")
                .objects.filter(active=True)
                .values_list("pk", "code", "name_en", "name_zh_hans", "kind")
            ):
                self._stage_ids[code] = pk
                self._stage_kinds[code] = kind
                self._stage_kinds_by_id[pk] = kind
                for label in (code, en, zh):
                    stages[_norm(label)] = code
            self._stages = stages
        return self._stages.get(_norm(text))

    def _already_won(self, code: str, stage_id: int) -> bool:
        """A won deal has moved on into customer success: "won" in a file means it is where it should be."""
        if self._stage_kinds.get(code) != "won":
            return False
        return self._stage_kinds_by_id.get(stage_id) in ("won", "success")

    def _lost_reason_special(self, row: Row) -> None:
        """A lost deal's reason by code or name (English or Chinese). A reason the old system wrote in its own
        words is kept as the lost note under the reason "other"; a lost deal without any reason gets "other"
        too, so that closed history is not refused for a vocabulary it never had."""
        text = row.special.get("lost_reason") or ""
        code = row.data.get("stage_code")
        if not text and not (code and self._stage_kinds.get(code) == "lost"):
            return
        if not hasattr(self, "_lost_reasons"):
            from django.apps import apps

            self._lost_reasons = {}
            for rcode, en, zh in (
                apps.get_model("pipeline", "LostReason")
                .objects.filter(active=True)
                .values_list("code", "name_en", "name_zh_hans")
            ):
                for label in (rcode, en, zh):
                    self._lost_reasons[_norm(label)] = rcode
        found = self._lost_reasons.get(_norm(text)) if text else None
        if found is None:
            found = "other" if "other" in self._lost_reasons.values() else None
            if text and not row.data.get("lost_note"):
                row.data["lost_note"] = text
        if found is None:
            row.errors.append(self._message(row.number, self._column_of("lost_reason"), _("no such lost reason")))
        else:
            row.data["lost_reason_code"] = found

    def _column_of(self, name: str) -> str:
        for rule in self.c.rules:
            if rule.name == name:
                return rule.column
        return name

    def _clean_custom(self, row: Row, existing: dict | None) -> dict | None:
        if not self.kind.custom_target:
            return None
        if not row.custom and existing is not None:
            return existing
        try:
            return custom_fields_clean(
                self.kind.custom_target,
                row.custom,
                existing=existing,
                partial=existing is not None,
                definitions=self.definitions,
            )
        except ValidationFailed as exc:
            for key, messages in exc.fields.items():
                column = self._column_of(key.removeprefix("custom_fields."))
                for message in messages:
                    row.errors.append(self._message(row.number, column, message))
            return None

    def _app_rules(self, row: Row) -> None:
        """The app's own normalisation and cross-field rules, run on an unsaved instance of the row."""
        instance = self.model()
        fields = {k: v for k, v in row.data.items() if k != "custom_fields"}
        if self.prepare_fn is not None:
            self.prepare_fn(instance, dict(fields))
        else:
            for name, value in fields.items():
                setattr(instance, name, value)
        for key, messages in self.rules_fn(instance).items():
            for message in messages:
                row.errors.append(self._message(row.number, self._column_of(key), message))
        for f in self.model._meta.concrete_fields:  # what the app derived (domain, upper-case codes…)
            if f.attname in self.derived:
                value = getattr(instance, f.attname)
                if value != f.get_default() or f.attname in row.data:
                    row.data[f.attname] = value

    def _domain_clean_batch(self, rows: list[Row], existing: dict[Any, dict]) -> dict[int, dict[str, Any]]:
        """The specials, then the app's own validation function (the one its forms and API use) over
        the batch's remaining rows at once; the cleaned values by row number (rejected rows get errors)."""
        from types import SimpleNamespace

        todo: list[Row] = []
        olds: list[Any] = []
        k = self.kind
        # without special columns, a row of a kind without account or extra specials only gets its owner
        plain = not k.account_field and not k.extra_specials
        owner = f"{k.owner_field}_id" if k.owner_field and not self.c.route else None
        team = f"{k.team_field}_id" if owner and k.team_field else None
        normalized = bool(k.normalize) and self.key_field != self.c.key  # prepare() derived the keys
        actor_id, team_id = self.actor.pk, self.actor.team_id
        ready: dict[int, tuple] = {}
        for row in rows:
            if row.errors:
                continue
            current = existing.get(row.key) if row.key is not None else None
            data = row.data  # replaced by the cleaned values; the cleaner derives the normalised keys itself
            if current is None and row.precleaned is not None:
                ready[row.number] = row.precleaned
                continue
            if plain and not row.special:
                if current is None and owner:
                    data[owner] = actor_id
                    if team:
                        data[team] = team_id
            else:
                self._apply_specials(row, creating=current is None)
                if row.errors:
                    continue
            if normalized:
                data.pop("email_normalized", None)
                data.pop("phone_normalized", None)
            if row.custom or current is None:
                data["custom_fields"] = dict(row.custom)
            old = None
            if current is not None:
                old = SimpleNamespace(custom_fields=current.get("custom_fields") or {}, email=current.get("email", ""))
            todo.append(row)
            olds.append(old)
        cleaned_rows: dict[int, dict[str, Any]] = {}
        if not todo and not ready:
            return cleaned_rows
        if not todo:
            results = []
        elif self.batch_cleaner is not None:
            results = self.batch_cleaner([r.data for r in todo], existing=olds, definitions=self.definitions)
        else:
            results = []
            for row, old in zip(todo, olds, strict=True):
                try:
                    results.append((self.cleaner(row.data, existing=old, definitions=self.definitions), None))
                except ValidationFailed as exc:
                    results.append((None, exc.fields))
        if ready:  # back in file order, so that messages and rows keep their order
            done = dict(zip((r.number for r in todo), results, strict=True))
            done.update(ready)
            todo = [r for r in rows if r.number in done]
            results = [done[r.number] for r in todo]
        for row, (cleaned, errors) in zip(todo, results, strict=True):
            if errors:
                for key, messages in errors.items():
                    name = key.removeprefix("custom_fields.")
                    for message in messages:
                        if key == "__all__":
                            row.errors.append(_("row %(n)d: %(m)s") % {"n": row.number, "m": message})
                        else:
                            row.errors.append(self._message(row.number, self._column_of(name), message))
                continue
            cleaned_rows[row.number] = cleaned
        return cleaned_rows

    def preclean(self, rows: list[Row]) -> None:
        """Validate the rows of a batch as new records ahead of time, while the database is still
        writing the previous batch; process() takes the result for the rows whose key is new and
        validates the others (updates, rows with special columns) itself."""
        k = self.kind
        if self.batch_cleaner is None or k.account_field or k.extra_specials:
            return
        owner = f"{k.owner_field}_id" if k.owner_field and not self.c.route else None
        team = f"{k.team_field}_id" if owner and k.team_field else None
        normalized = bool(k.normalize) and self.key_field != self.c.key
        todo = [row for row in rows if not row.errors and not row.special]
        inputs = []
        actor_id, team_id = self.actor.pk, self.actor.team_id
        for row in todo:  # what _domain_clean_batch hands the cleaner for a new record
            data = dict(row.data)
            if owner:
                data[owner] = actor_id
                if team:
                    data[team] = team_id
            if normalized:
                data.pop("email_normalized", None)
                data.pop("phone_normalized", None)
            data["custom_fields"] = dict(row.custom)
            inputs.append(data)
        if inputs:
            results = self.batch_cleaner(inputs, existing=[None] * len(inputs), definitions=self.definitions)
            for row, result in zip(todo, results, strict=True):
                row.precleaned = result

    def _key_in(self, keys: list[Any]):
        """`key IN (…)` for a batch of keys as one bound value (an array on PostgreSQL, JSON on SQLite)
        instead of one parameter per key, which the driver and the ORM would each handle one by one."""
        from django.db.models import BooleanField
        from django.db.models.expressions import RawSQL

        column = connection.ops.quote_name(self.model._meta.get_field(self.key_field).column)
        table = connection.ops.quote_name(self.model._meta.db_table)
        # the table and column are the model's own (quoted); the keys are one bound parameter
        if connection.vendor == "postgresql":
            if all(type(key) is str for key in keys):  # text keys: one JSON text (the driver's array is slower)
                sql = f"{table}.{column} = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb)))"
                return RawSQL(sql, (json.dumps(keys, ensure_ascii=False),), output_field=BooleanField())  # noqa: S611
            return RawSQL(f"{table}.{column} = ANY(%s)", (keys,), output_field=BooleanField())  # noqa: S611
        if connection.vendor == "sqlite":
            sql = f"{table}.{column} IN (SELECT value FROM json_each(%s))"  # noqa: S608
            return RawSQL(sql, (json.dumps(keys, ensure_ascii=False),), output_field=BooleanField())  # noqa: S611
        return models.Q(**{f"{self.key_field}__in": keys})

    def process(self, rows: list[Row], *, meanwhile: Callable[[], None] | None = None) -> dict[str, int]:
        """Classify and (unless dry run) write one batch; set row.outcome on each row.

        `meanwhile` (no database work) is called while the database is still busy with the batch's new
        rows, if there are any (PostgreSQL's COPY goes on after the last row is sent)."""
        model, k = self.model, self.kind
        if k.account_field:
            self._resolve_accounts([r for r in rows if not r.errors])
        if "opportunity_external_id" in k.extra_specials:
            self._resolve_opportunities([r for r in rows if not r.errors])
        seen: dict[Any, int] = {}
        for row in rows:
            if row.errors or row.key is None:
                continue
            if row.key in seen:
                row.errors.append(
                    _("row %(n)d: the same key “%(key)s” is already in row %(first)d of this file")
                    % {"n": row.number, "key": _short(row.key, 100), "first": seen[row.key]}
                )
            else:
                seen[row.key] = row.number
        existing: dict[Any, dict] = {}
        editable: set[int] = set()
        if seen:
            names = {self.key_field, "pk", *self.attnames}
            keys = list(seen)
            for start in range(0, len(keys), LOOKUP_CHUNK):
                for item in model.objects.filter(self._key_in(keys[start : start + LOOKUP_CHUNK])).values(*names):
                    existing[item[self.key_field]] = item
            if existing:
                pks = [e["pk"] for e in existing.values()]
                if is_admin(self.actor):
                    editable = set(pks)
                else:
                    editable = set(k.editable(self.actor).filter(pk__in=pks).values_list("pk", flat=True))
        inserts: list[Row] = []
        updates: list[tuple[Row, dict]] = []
        now = timezone.now()
        cleaned_rows: dict[int, dict[str, Any]] = {}
        if self.cleaner is not None:
            cleaned_rows = self._domain_clean_batch(rows, existing)
        for row in rows:
            if row.errors:
                row.outcome = "rejected"
                continue
            current = existing.get(row.key) if row.key is not None else None
            if self.cleaner is not None:
                cleaned = cleaned_rows[row.number]
                if current is None:
                    row.data = cleaned
                    row.outcome = "created"
                    inserts.append(row)
                    continue
                if current["pk"] not in editable:
                    row.errors.append(
                        _("row %(n)d: a record with this key exists and you may not change it") % {"n": row.number}
                    )
                    row.outcome = "rejected"
                    continue
                changes = {n: v for n, v in cleaned.items() if n in current and current[n] != v}
                if not changes:
                    row.outcome = "unchanged"
                    continue
                row.outcome = "updated"
                updates.append((row, {"pk": current["pk"], **changes}))
                continue
            self._apply_specials(row, creating=current is None)
            if row.errors:
                row.outcome = "rejected"
                continue
            if self.rules_fn is not None:
                self._app_rules(row)
            if current is None:
                for name in self.required:
                    if name not in row.data:
                        row.errors.append(
                            self._message(row.number, self._column_of(name), _("This field is required."))
                        )
                cf = self._clean_custom(row, None)
                if row.errors:
                    row.outcome = "rejected"
                    continue
                if cf is not None:
                    row.data["custom_fields"] = cf
                row.outcome = "created"
                inserts.append(row)
                continue
            if current["pk"] not in editable:
                row.errors.append(
                    _("row %(n)d: a record with this key exists and you may not change it") % {"n": row.number}
                )
                row.outcome = "rejected"
                continue
            if k.name == "stage_change":  # append-only: a row already imported stays as it is
                row.outcome = "unchanged"
                continue
            cf = self._clean_custom(row, current.get("custom_fields") or {})
            if row.errors:
                row.outcome = "rejected"
                continue
            changes = {
                name: value
                for name, value in row.data.items()
                if self._attname(name) in current
                and current[self._attname(name)] != value
                and not (value is None and name in _DERIVED_WHEN_EMPTY)
            }
            if cf is not None and cf != (current.get("custom_fields") or {}):
                changes["custom_fields"] = cf
            code = row.data.get("stage_code")
            moved = code and "stage_id" in current and self._stage_ids.get(code) != current["stage_id"]
            if moved and not self._already_won(code, current["stage_id"]):
                changes["stage_code"] = code  # moved through the pipeline's service (history, gates)
            if not changes:
                row.outcome = "unchanged"
                continue
            row.outcome = "updated"
            updates.append((row, {"pk": current["pk"], **changes}))
        if not self.dry_run:
            if inserts:
                if self.slow:
                    self._create_slow(inserts)
                else:
                    self._insert([r.data for r in inserts], now=now, defaults=self.kind.defaults, meanwhile=meanwhile)
            if updates:
                self._update(updates, now)
        counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        for row in rows:
            counts[row.outcome] += 1
        return counts

    def _attname(self, name: str) -> str:
        return name

    # --- writing -----------------------------------------------------------------------------------

    def _insert_values(self, data: dict[str, Any], now) -> dict[str, Any]:
        values = dict(self.kind.defaults)
        values.update(data)
        values.setdefault("created_at", now)
        values["updated_at"] = now
        return values

    def _insert(
        self,
        rows: list[dict[str, Any]],
        *,
        now=None,
        defaults: dict[str, Any] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> None:
        """Write new rows; with `now`, rows are raw: kind defaults and timestamps are filled in here."""
        model = self.model
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        columns = [f.column for f in fields]
        qn = connection.ops.quote_name
        table = qn(model._meta.db_table)
        kind_defaults = defaults or {}
        defaults = {}
        for f in fields:
            if f.has_default():
                defaults[f.attname] = f.get_default()
            else:
                defaults[f.attname] = None if f.null else ""
            if now is not None:
                if f.attname in kind_defaults or f.name in kind_defaults:
                    defaults[f.attname] = kind_defaults.get(f.attname, kind_defaults.get(f.name))
                if f.attname in ("created_at", "updated_at"):
                    defaults[f.attname] = now
        constants: list[Any] = []
        index: dict[str, tuple[int, Any]] = {}
        for position, f in enumerate(fields):
            convert = _converter(f, connection.vendor)
            default = defaults[f.attname]
            constants.append(convert(default) if convert and default not in (None, "") else default)
            index[f.attname] = (position, convert)
            index.setdefault(f.name, (position, convert))

        table_columns = self._columns_of(rows, constants, index)
        # columns no row fills that are NULL anyway (no default in the database) are left out
        kept = [
            position
            for position, (f, column) in enumerate(zip(fields, table_columns, strict=True))
            if not (type(column) is _Same and column.value is None and f.null and f.db_default is NOT_PROVIDED)
        ]
        columns = [columns[p] for p in kept]
        table_columns = [table_columns[p] for p in kept]
        names = ", ".join(qn(c) for c in columns)
        given = [c for c in table_columns if type(c) is not _Same]
        if connection.vendor == "postgresql":
            # COPY in text format, built column by column and handed over in chunks to a second thread
            # that sends them (the server starts on the first while the rest are built), then `meanwhile`
            # runs here while the server inserts.
            texts = [repeat(_copy_text(c.value)) if type(c) is _Same else _copy_texts(c) for c in table_columns]
            if given:
                lines = map("\t".join, zip(*texts, strict=False))  # the shared values repeat endlessly
            else:
                lines = repeat("\t".join(next(t) for t in texts), len(rows))
            raw = connection.connection
            encoding = raw.info.encoding
            sql = f"COPY {table} ({names}) FROM STDIN"
            chunks: queue.SimpleQueue = queue.SimpleQueue()

            def write() -> None:
                with raw.cursor() as cursor:
                    # the foreign keys (deferred) are checked at the end of the COPY, in this thread, not
                    # at the commit
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    with cursor.copy(sql) as copy:
                        while (chunk := chunks.get()) is not None:
                            if chunk is _ABORT:
                                raise RuntimeError("the rows to copy could not be prepared")
                            copy.write(chunk)
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")

            def produce() -> None:
                try:
                    while part := list(islice(lines, COPY_CHUNK)):
                        part.append("")
                        chunks.put("\n".join(part).encode(encoding))
                except BaseException:
                    chunks.put(_ABORT)
                    raise
                finally:
                    chunks.put(None)
                if meanwhile is not None:
                    meanwhile()

            _write_behind(write, produce)
            return
        if connection.vendor == "sqlite":
            # One statement over a JSON array of the rows: SQLite inserts them in one step without the
            # GIL, so a second thread writes while `meanwhile` runs here.
            statement = _sqlite_json_insert(table, names, table_columns)
            if statement is not None:
                raw = connection.connection
                _write_behind(lambda: raw.execute(*statement).close(), meanwhile)
                return
        if given:
            values = zip(*(repeat(c.value) if type(c) is _Same else c for c in table_columns), strict=False)
        else:
            values = repeat(tuple(c.value for c in table_columns), len(rows))
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(sql, list(values))
        if meanwhile is not None:
            meanwhile()

    @staticmethod
    def _columns_of(rows: list[dict[str, Any]], constants: list[Any], index: dict[str, tuple[int, Any]]) -> list[Any]:
        """The table's columns for the rows, in file order: each a list of the rows' (converted) values,
        or a _Same for a column no row gives (the default). Rows are grouped by the fields they give."""
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(tuple(row), []).append(i)
        fills: list[tuple[list[int], dict[int, str]]] = []
        for names, indexes in groups.items():
            given: dict[int, str] = {}  # position → the row key that fills it (the last one wins)
            for name in names:
                slot = index.get(name)
                if slot is not None:
                    given[slot[0]] = name
            fills.append((indexes, given))
        converters = dict(index.values())
        single = len(fills) == 1
        columns: list[Any] = []
        for position, constant in enumerate(constants):
            convert = converters.get(position)
            if single:
                name = fills[0][1].get(position)
                if name is None:
                    columns.append(_Same(constant))
                    continue
                column = [row[name] for row in rows]
                columns.append(list(map(convert, column)) if convert else column)
                continue
            if all(position not in given for _indexes, given in fills):
                columns.append(_Same(constant))
                continue
            column = [constant] * len(rows)
            for indexes, given in fills:
                name = given.get(position)
                if name is not None:
                    for i in indexes:
                        value = rows[i][name]
                        column[i] = convert(value) if convert else value
            columns.append(column)
        return columns

    def _move_stages(self, updates: list[tuple[Row, dict]]) -> list[tuple[Row, dict]]:
        """Stage changes of imported opportunities go through opportunity_move (gates, history rows)."""
        from keyfit.pipeline.services import opportunity_move

        kept = []
        for row, changes in updates:
            code = changes.pop("stage_code", None)
            lost_reason = row.data.get("lost_reason_code")
            changes.pop("lost_reason_code", None)
            if code:
                try:
                    with transaction.atomic():
                        opportunity_move(
                            actor=self.actor, opportunity=changes["pk"], stage_code=code, lost_reason=lost_reason
                        )
                except DomainError as exc:
                    row.outcome = "rejected"
                    messages = [m for ms in exc.fields.values() for m in ms] or [str(exc.message)]
                    messages += [str(u.get("label") or u.get("code")) for u in (exc.extra or {}).get("unmet", [])]
                    row.errors.append(
                        self._message(row.number, self._column_of("stage"), "; ".join(str(m) for m in messages))
                    )
                    continue
            if len(changes) > 1:
                kept.append((row, changes))
        return kept

    def _update(self, updates: list[tuple[Row, dict]], now) -> None:
        from keyfit.core.audit import audit_record, snapshot

        if self.kind.name == "opportunity":
            updates = self._move_stages(updates)
        model = self.model
        has_version = any(f.name == "version" for f in model._meta.concrete_fields)
        by_fields: dict[tuple[str, ...], list[models.Model]] = {}
        before: dict[int, dict] = {}
        if self.slow:
            for obj in model.objects.filter(pk__in=[c["pk"] for _r, c in updates]):
                before[obj.pk] = snapshot(obj)
        for _row, changes in updates:
            obj = model(pk=changes["pk"])
            names = sorted(n for n in changes if n != "pk")
            for name in names:
                setattr(obj, name, changes[name])
            obj.updated_at = now
            fields = [*names, "updated_at"]
            if has_version:
                obj.version = models.F("version") + 1
                fields.append("version")
            by_fields.setdefault(tuple(fields), []).append(obj)
        for fields, objs in by_fields.items():
            model.objects.bulk_update(objs, list(fields))
        if self.kind.name == "opportunity" and updates:
            # bulk_update bypasses the per-save upkeep of the board's summary: recompute it.
            from keyfit.pipeline.summary import rebuild_board_summary

            rebuild_board_summary()
        if self.slow:
            for obj in model.objects.filter(pk__in=list(before)):
                audit_record(
                    actor=self.actor, instance=obj, action="update", before=before[obj.pk], after=snapshot(obj)
                )

    def _opportunity_create(self, service, data: dict[str, Any]) -> None:
        code = data.get("stage_code")
        if code and self._stage_kinds.get(code) in ("won", "lost", "success"):
            self._opportunity_create_closed(data)
            return
        if data.get("won_on") or data.get("lost_on"):
            raise field_error("won_on" if data.get("won_on") else "lost_on", _("only a won or lost deal has this date"))
        data.pop("lost_reason_code", None)
        data.pop("won_on", None)
        data.pop("lost_on", None)
        extra = {k: v for k, v in data.items() if k not in _OPPORTUNITY_ARGS | {"account_id", "owner_id", "team_id"}}
        opportunity = service(actor=self.actor, **_opportunity_args(data))
        if extra:  # fields the create service does not take (e.g. notes) are set on the new record
            for name, value in extra.items():
                setattr(opportunity, name, value)
            opportunity.save(update_fields=list(extra))

    def _opportunity_create_closed(self, data: dict[str, Any]) -> None:
        """A deal already won or lost in the system the file comes from (its history, recorded as closed)."""
        from keyfit.pipeline.services import opportunity_create_closed

        args = _opportunity_args(data)
        for name in ("won_on", "lost_on", "lost_note"):
            if data.get(name):
                args[name] = data[name]
        args["lost_reason"] = data.get("lost_reason_code")
        extra = {
            k: v
            for k, v in data.items()
            if k
            not in _OPPORTUNITY_ARGS
            | {"account_id", "owner_id", "team_id", "won_on", "lost_on", "lost_note", "lost_reason_code"}
        }
        opportunity = opportunity_create_closed(actor=self.actor, **args)
        if extra:
            for name, value in extra.items():
                setattr(opportunity, name, value)
            opportunity.save(update_fields=list(extra))

    def _activity_create(self, service, data: dict[str, Any]) -> None:
        from keyfit.accounts.models import Account
        from keyfit.pipeline.models import Opportunity
        from keyfit.users.models import User

        data.pop("team_id", None)  # the service gives the activity its owner's team
        account = Account.objects.get(pk=data.pop("account_id"))
        opportunity_id = data.pop("opportunity_id", None)
        opportunity = Opportunity.objects.get(pk=opportunity_id) if opportunity_id else None
        owner = User.objects.get(pk=data.pop("owner_id"))
        service(actor=self.actor, account=account, opportunity=opportunity, owner=owner, **data)

    def _contract_create(self, service, data: dict[str, Any]) -> None:
        from keyfit.pipeline.models import Opportunity

        opportunity = Opportunity.objects.select_related("account").get(pk=data.pop("opportunity_id"))
        data.pop("account_id", None)
        data.setdefault("signed_on", None)
        service(actor=self.actor, opportunity=opportunity, **data)

    def _create_slow(self, rows: list[Row]) -> None:
        """Create through the domain service (routing, dedupe, stage history, per-record audit)."""
        from importlib import import_module

        if self.kind.name == "stage_change":
            for row in rows:
                _stage_change_insert(row.data)
            return
        module_name, func_name = self.kind.slow_service.rsplit(".", 1)
        try:
            service: Callable = getattr(import_module(module_name), func_name)
        except (ImportError, AttributeError):
            self._insert([self._insert_values(r.data, timezone.now()) for r in rows])
            return
        for row in rows:
            data = dict(self.kind.defaults)
            data.update(row.data)
            for name in ("email_normalized", "phone_normalized"):
                data.pop(name, None)
            try:
                with transaction.atomic():
                    if self.kind.name == "lead":
                        service(actor=self.actor, data=data, route=self.c.route)
                    elif self.kind.name == "opportunity":
                        self._opportunity_create(service, data)
                    elif self.kind.name == "activity":
                        self._activity_create(service, data)
                    elif self.kind.name == "contract":
                        self._contract_create(service, data)
                    elif self.kind.account_field:
                        from keyfit.accounts.models import Account

                        account = Account.objects.get(pk=data.pop(f"{self.kind.account_field}_id"))
                        service(actor=self.actor, account=account, **data)
                    else:
                        service(actor=self.actor, **data)
            except DomainError as exc:
                row.outcome = "rejected"
                messages = [f"{k}: {m}" for k, ms in exc.fields.items() for m in ms] or [exc.message]
                row.errors.append(_("row %(n)d: %(m)s") % {"n": row.number, "m": "; ".join(messages)})


# Set by the services when a file leaves them empty (a closed deal's date comes from its close date): an
# empty cell keeps them as they are.
_DERIVED_WHEN_EMPTY = frozenset({"won_on", "lost_on"})
_OPPORTUNITY_ARGS = {"name", "amount", "currency", "expected_close_date", "stage_code", "custom_fields", "external_id"}


def _stage_change_insert(data: dict[str, Any]) -> None:
    """Append one historical stage-history row; its time in the previous stage comes from the row before it.

    A row imported between two existing ones also corrects the next row's time in its previous stage.
    """
    from keyfit.pipeline.models import StageChange

    at = data.get("at") or timezone.now()
    history = StageChange.objects.filter(opportunity_id=data["opportunity_id"])
    before = history.filter(at__lte=at).order_by("-at", "-id").only("at").first()
    seconds = max(0, int((at - before.at).total_seconds())) if before is not None else None
    change = StageChange.objects.create(
        opportunity_id=data["opportunity_id"],
        from_stage_id=data.get("from_stage_id"),
        to_stage_id=data["to_stage_id"],
        actor_id=data.get("actor_id"),
        at=at,
        seconds_in_previous=seconds,
        reason=data.get("reason") or "",
        external_id=data["external_id"],
    )
    after = history.filter(at__gt=at).exclude(pk=change.pk).order_by("at", "id").only("pk", "at").first()
    if after is not None:
        StageChange.objects.filter(pk=after.pk).update(seconds_in_previous=int((after.at - at).total_seconds()))
    return change


def _opportunity_args(data: dict[str, Any]) -> dict[str, Any]:
    from keyfit.accounts.models import Account
    from keyfit.users.models import Team, User

    args = {k: v for k, v in data.items() if k in _OPPORTUNITY_ARGS}
    args["account"] = Account.objects.get(pk=data["account_id"])
    args["owner"] = User.objects.get(pk=data["owner_id"])
    if data.get("team_id"):
        args["team"] = Team.objects.get(pk=data["team_id"])
    return args


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if value == {}:  # most rows: no custom field values
        return "{}"
    return json.dumps(value, ensure_ascii=False)


def _converter(f: models.Field, vendor: str):
    internal = f.get_internal_type()
    if internal == "JSONField":
        return _json_text
    if vendor == "sqlite":
        if internal == "DateTimeField":
            return lambda v: None if v is None else v.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(" ")
        if internal == "DateField":
            return lambda v: None if v is None else v.isoformat()
        if internal == "DecimalField":
            return lambda v: None if v is None else str(v)
    return None


# --- writing new rows -----------------------------------------------------------------------------


class _Same:
    """A column whose value is the same on every row of an insert."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


# COPY's text format: a backslash starts an escape, tab and newline separate fields and rows
_COPY_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
)
_COPY_SPECIAL = re.compile(r"[\\\t\n\r\b\f\v]")


def _copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, int | decimal.Decimal | float):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return "\\\\x" + bytes(value).hex()
    return _copy_text(json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value))


def _copy_texts(values: list[Any]) -> list[str]:
    """A column in COPY's text format: plain text (the usual case) is checked for escapes in one pass."""
    if all(type(v) is str for v in values):
        if _COPY_SPECIAL.search("".join(values)):
            return [v.translate(_COPY_ESCAPES) for v in values]
        return values
    return list(map(_copy_text, values))


_JSON_SAFE = frozenset({str, int, bool, float, type(None)})


def _sqlite_json_insert(table: str, names: str, columns: list[Any]) -> tuple[str, list[Any]] | None:
    """`INSERT … SELECT … FROM json_each(?)` of the rows: the shared values as parameters, the others
    from one JSON array per row; None when a value would not come back from JSON as it went in."""
    select, params, given = [], [], []
    for column in columns:
        if type(column) is _Same:
            select.append("%s")
            params.append(column.value)
            continue
        if not set(map(type, column)) <= _JSON_SAFE:
            return None
        select.append(f"json_extract(value, '$[{len(given)}]')")
        given.append(column)
    if not given:
        return None
    try:
        payload = json.dumps(list(zip(*given, strict=True)), ensure_ascii=False, allow_nan=False)
    except ValueError:  # an infinite or NaN float
        return None
    if "\\u0000" in payload:  # a NUL character: left to the driver's own binding (executemany)
        return None
    sql = f"INSERT INTO {table} ({names}) SELECT {', '.join(select)} FROM json_each(%s)"  # noqa: S608
    return sql.replace("%s", "?"), [*params, payload]


def _write_behind(write: Callable[[], Any], meanwhile: Callable[[], None] | None) -> None:
    """write() (database work on the driver's own connection, which releases the GIL while the database
    works) in a second thread while meanwhile() (no database work) runs in this one; an error of
    write() is raised here, as the database error Django would raise."""
    if meanwhile is None:
        with connection.wrap_database_errors:
            write()
        return
    failed: list[BaseException] = []

    def target() -> None:
        try:
            write()
        except BaseException as exc:  # raised again below, in the caller's thread
            failed.append(exc)

    writer = threading.Thread(target=target, name="import-writer", daemon=True)
    writer.start()
    try:
        meanwhile()
    finally:
        writer.join()
    if failed:
        with connection.wrap_database_errors:
            raise failed[0]


# --- the rejected-rows file -------------------------------------------------------------------------


class RejectedWriter:
    """CSV (UTF-8 with BOM) of the original rows plus an `Errors` column; resumable by byte offset."""

    def __init__(self, path: Path, header: list[str], *, resume_at: int = 0) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_at and path.exists():
            self.fh = open(path, "r+b")  # noqa: SIM115
            self.fh.truncate(resume_at)
            self.fh.seek(resume_at)
        else:
            self.fh = open(path, "wb")  # noqa: SIM115
            self.fh.write(b"\xef\xbb\xbf")
            self._write([*header, _("Errors")])
        self.width = len(header)

    def _write(self, values: list[str]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow(values)
        self.fh.write(buffer.getvalue().encode("utf-8"))

    def add(self, row: Row) -> None:
        values = list(row.values[: self.width]) + [""] * max(0, self.width - len(row.values))
        self._write([*values, " | ".join(row.errors)])

    def checkpoint(self) -> int:
        self.fh.flush()
        return self.fh.tell()

    def close(self) -> None:
        self.fh.close()


class _ReadAhead:
    """Reads and prepares the next batch once, when called: while the database is still writing the
    current batch (engine.process calls it then), or else when the next batch is taken. A failure
    while reading (a decoding error) is raised when the batch is taken, after the current one is
    committed, as if it had been read afterwards."""

    def __init__(self, engine: Engine, source: Iterator[tuple[int, list[str]]], size: int) -> None:
        self.engine, self.source, self.size = engine, source, size
        self.rows: list[Row] = []
        self.error: Exception | None = None
        self.called = False

    def __call__(self, *, overlapped: bool = True) -> None:
        if self.called:
            return
        self.called = True
        try:
            items = list(islice(self.source, self.size))
            self.rows = self.engine.prepare_batch(items) if items else []
            if overlapped and self.rows:  # the database is busy anyway: validate the new records too
                self.engine.preclean(self.rows)
        except Exception as exc:  # raised by take()
            self.error = exc

    def take(self) -> list[Row]:
        self(overlapped=False)
        if self.error is not None:
            raise self.error
        return self.rows


def _commit_without_flush() -> None:
    """Let the current transaction (one batch of the bulk path) commit without waiting for its WAL to
    reach the disk. Safe for a resume: the job's row offset commits in the same transaction, so a batch
    lost in a server crash is missing from the offset as well and is done again; the job's final save
    is an ordinary commit, which makes every batch before it durable."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def run_rows(
    engine: Engine,
    rows: Iterator[tuple[int, list[str]]],
    *,
    skip: int = 0,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[list[Row], dict[str, int], int], bool] | None = None,
) -> dict[str, int]:
    """Feed rows to the engine in batches; on_batch(rows, counts, rows_done) returns False to stop.

    Each batch's writes and the caller's checkpoint share one transaction. The next batch is read and
    prepared while the database writes the current one.
    """
    totals = {"rows": skip, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    done = skip
    source = islice(iter(rows), skip, None)
    batch = _ReadAhead(engine, source, batch_size).take()
    while batch:
        ahead = _ReadAhead(engine, source, batch_size)
        with transaction.atomic():
            if not engine.slow and not engine.dry_run:
                _commit_without_flush()
            counts = engine.process(batch, meanwhile=ahead)
            done += len(batch)
            go_on = on_batch(batch, counts, done) if on_batch else True
        for key, value in counts.items():
            totals[key] += value
        totals["rows"] = done
        if not go_on:
            return totals
        batch = ahead.take()
    return totals


def elapsed(started: float) -> float:
    return time.perf_counter() - started
