"""Conditions on leads (field, operator, value), shared by ICP fit rules, routing rules and preferred filters.

A condition names a lead field or ``cf.<key>`` for a custom field. Conditions are compiled once into
plain Python callables over a dict of the lead's values, so routing a batch is a tight loop.
"""

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from keyfit.core.errors import ValidationFailed
from keyfit.leads.choices import Operator

# Lead fields a rule may test (name → kind). Custom fields are "cf.<key>".
RULE_FIELDS: dict[str, str] = {
    "source": "text",
    "campaign": "text",
    "company_name": "text",
    "company_domain": "text",
    "industry": "text",
    "company_size": "text",
    "region": "text",
    "contact_name": "text",
    "contact_title": "text",
    "email": "text",
    "phone": "text",
    "language": "text",
    "status": "text",
    "priority": "number",
    "estimated_value": "number",
    "currency": "text",
    "purchase_intent": "text",
    "need_confirmed": "bool",
    "fit_score": "number",
    "bant_budget": "text",
    "bant_authority": "text",
    "bant_need": "text",
    "bant_timeline": "text",
}
VALUE_FIELDS = (*tuple(RULE_FIELDS), "custom_fields")


def _number(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def validate_condition(cond: Any, prefix: str = "conditions") -> dict[str, Any]:
    if not isinstance(cond, dict):
        raise ValidationFailed(fields={prefix: [_("Each condition is an object with field, operator and value.")]})
    field = str(cond.get("field") or "")
    operator = str(cond.get("operator") or "")
    if not (field in RULE_FIELDS or (field.startswith("cf.") and len(field) > 3)):
        raise ValidationFailed(fields={f"{prefix}.field": [_("Unknown field “%(field)s”.") % {"field": field}]})
    if operator not in Operator.values:
        raise ValidationFailed(fields={f"{prefix}.operator": [_("Unknown operator.")]})
    value = cond.get("value")
    if operator == Operator.IN and not isinstance(value, list):
        raise ValidationFailed(fields={f"{prefix}.value": [_("The value of “in” is a list.")]})
    if operator in (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE) and _number(value) is None:
        raise ValidationFailed(fields={f"{prefix}.value": [_("Enter a number.")]})
    return {"field": field, "operator": operator, "value": value}


def validate_conditions(conds: Any, prefix: str = "conditions") -> list[dict[str, Any]]:
    if conds in (None, ""):
        return []
    if not isinstance(conds, list):
        raise ValidationFailed(fields={prefix: [_("Enter a list of conditions.")]})
    return [validate_condition(c, prefix) for c in conds]


def _getter(field: str) -> Callable[[dict[str, Any]], Any]:
    if field.startswith("cf."):
        key = field[3:]
        return lambda row: (row.get("custom_fields") or {}).get(key)
    return lambda row: row.get(field)


_MEMO_LIMIT = 4096
# only types whose equal values print alike (Decimal("1.0") == Decimal("1") but their texts differ)
_MEMO_TYPES = (str, int, type(None))


def _memoised(get: Callable[[dict[str, Any]], Any], test: Callable[[Any], bool]) -> Callable[[dict[str, Any]], bool]:
    """`test(get(row))`, remembering the answer per value: routing a batch tests the same few values
    (industries, regions, products) thousands of times. Keys carry the type (``True == 1``); other
    values (lists, numbers with several spellings) are tested every time."""
    memo: dict[tuple[type, Any], bool] = {}

    def check(row: dict[str, Any]) -> bool:
        got = get(row)
        if got.__class__ not in _MEMO_TYPES:
            return test(got)
        key = (got.__class__, got)
        answer = memo.get(key)
        if answer is None:
            answer = test(got)
            if len(memo) < _MEMO_LIMIT:
                memo[key] = answer
        return answer

    return check


def compile_condition(cond: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    return _memoised(_getter(cond["field"]), _value_test(cond))


def _value_test(cond: dict[str, Any]) -> Callable[[Any], bool]:
    """The condition as a test of the field's value."""
    op = cond["operator"]
    value = cond.get("value")
    if op == Operator.IS_SET:
        want = value is not False
        return lambda got: (got not in (None, "", [], {})) == want
    if op in (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE):
        bound = _number(value)
        compare = {
            Operator.GT: lambda a: a > bound,
            Operator.GTE: lambda a: a >= bound,
            Operator.LT: lambda a: a < bound,
            Operator.LTE: lambda a: a <= bound,
        }[op]

        def numeric(got: Any) -> bool:
            number = _number(got)
            return number is not None and compare(number)

        return numeric
    if op == Operator.IN:
        options = {_text(v) for v in (value or [])}

        def member(got: Any) -> bool:
            if isinstance(got, list):
                return any(_text(g) in options for g in got)
            return _text(got) in options

        return member
    if op == Operator.CONTAINS:
        needle = _text(value)

        def contains(got: Any) -> bool:
            if isinstance(got, list):
                return any(_text(g) == needle for g in got)
            return needle in _text(got)

        return contains
    target = _text(value)
    target_num = _number(value)

    def equals(got: Any) -> bool:
        if target_num is not None and not isinstance(got, str | bool) and _number(got) is not None:
            return _number(got) == target_num
        return _text(got) == target

    if op == Operator.NE:
        return lambda got: not equals(got)
    return equals


def compile_all(conds: Iterable[dict[str, Any]]) -> Callable[[dict[str, Any]], bool]:
    tests = [compile_condition(c) for c in conds]
    if not tests:
        return lambda row: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:  # the common case, without a generator per row
        first, second = tests
        return lambda row: first(row) and second(row)

    return lambda row: all(t(row) for t in tests)


def describe(cond: dict[str, Any]) -> str:
    value = cond.get("value")
    shown = ", ".join(str(v) for v in value) if isinstance(value, list) else ("" if value is None else str(value))
    return f"{cond['field']} {Operator(cond['operator']).label} {shown}".strip()


def lead_values(lead) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in VALUE_FIELDS}
