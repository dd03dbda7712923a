"""Keyset (cursor) pagination: constant cost at any depth, no COUNT, no OFFSET."""

import base64
import datetime
import decimal
import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BooleanField, F, Func, Q, QuerySet

from keyfit.core.db import fetch_values
from keyfit.core.errors import ValidationFailed


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None
    limit: int
    has_more: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"d": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"dec": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            return datetime.datetime.fromisoformat(value["dt"])
        if "d" in value:
            return datetime.date.fromisoformat(value["d"])
        if "dec" in value:
            return decimal.Decimal(value["dec"])
    return value


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != size:
            raise ValueError
        return [_decode_value(v) for v in values]
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(fields={"cursor": ["Invalid cursor."]}) from exc


class _RowAfter(Func):
    """``(a, b, ...) > (%s, %s, ...)`` (``<`` for a descending order): one row comparison, which PostgreSQL
    and SQLite use as a single index condition on a (…, a, b) index, and which is cheap to build."""

    output_field = BooleanField()

    def __init__(self, fields: list[str], values: list[Any], descending: bool):
        super().__init__(*[F(name) for name in fields])
        self.values = values
        self.operator = "<" if descending else ">"

    def as_sql(self, compiler, connection, **extra_context):
        columns, params, values = [], [], []
        for expression, value in zip(self.get_source_expressions(), self.values, strict=True):
            sql, column_params = compiler.compile(expression)
            columns.append(sql)
            params.extend(column_params)
            # As a lookup would: the field turns the value into what the database stores (e.g. SQLite datetimes).
            values.append(expression.output_field.get_db_prep_value(value, connection, prepared=False))
        placeholders = ", ".join(["%s"] * len(values))
        return f"({', '.join(columns)}) {self.operator} ({placeholders})", (*params, *values)


def _after(order: tuple[str, ...], values: list[Any]) -> Q:
    """Rows strictly after `values` in `order` (fields prefixed with '-' sort descending).

    When every field sorts the same way this is one row comparison (``(name, id) > (%s, %s)``). A mixed
    order is spelled out; there the leading column's bound comes first, as its own condition: the OR form
    alone is not an index condition, and without the bound PostgreSQL filters every row before the cursor
    instead of seeking.
    """
    if len({name.startswith("-") for name in order}) == 1:
        return Q(_RowAfter([name.lstrip("-") for name in order], values, order[0].startswith("-")))
    first = order[0]
    bound = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]})
    q = Q(pk__in=[])
    for i, name in enumerate(order):
        field_name = name.lstrip("-")
        lookup = "lt" if name.startswith("-") else "gt"
        clause = Q(**{f"{field_name}__{lookup}": values[i]})
        for j in range(i):
            clause &= Q(**{order[j].lstrip("-"): values[j]})
        q |= clause
    return bound & q


rows_after = _after  # for pages that merge several ordered reads themselves


def keyset_page(qs: QuerySet, *, order: tuple[str, ...], cursor: str | None, limit: int) -> Page:
    """One page of `qs` in `order` (which must end with a unique field, e.g. 'id')."""
    limit = max(1, limit)
    if cursor:
        qs = qs.filter(_after(order, decode_cursor(cursor, len(order))))
    rows = fetch_values(qs.order_by(*order)[: limit + 1])  # values(): from a prepared statement on PostgreSQL
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = encode_cursor([_attr(last, name.lstrip("-")) for name in order])
    return Page(items=rows, next_cursor=next_cursor, limit=limit, has_more=has_more)


def _attr(obj: Any, path: str) -> Any:
    value = obj
    for part in path.split("__"):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value
