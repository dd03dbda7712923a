"""Statements the busiest pages run on every request, prepared once per database connection.

On PostgreSQL, planning the pipeline pages' statements (a LATERAL join, a three-part UNION ALL of index
scans with JSON subqueries, the list's scoped and ordered page) costs as much server time as running them:
0.3–0.9 ms each, every request. `prepared_cursor()` gives a Django cursor (queries logged and counted, errors
wrapped as usual) that binds its parameters on the server and prepares each statement on first use in
the connection (psycopg 3 keeps the connection's prepared statements, at most `prepared_max`, the least
used deallocated); PostgreSQL then plans it once (a generic plan once it has seen that the custom
plans are no better).

Only with persistent connections (`CONN_MAX_AGE` ≠ 0): a connection opened per request would prepare
every time, and a transaction-pooling PgBouncer — which docs/deployment.md pairs with `DB_CONN_MAX_AGE=0` —
may hand the next transaction another server connection. `settings.PREPARED_STATEMENTS = False` turns it
off altogether. Elsewhere (SQLite, psycopg 2) it is the ordinary cursor.

Write statements for it with explicit column lists (no `SELECT *` of a table): a prepared statement whose
result columns change under it (a migration adding a column) is refused by PostgreSQL until the
connection is renewed.
"""

import datetime
import uuid
import weakref
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections

_cursor_class = None
_NEVER_BY_COUNT = 2**31  # a threshold no statement reaches: only the ones asked for are prepared


def prepared_statements_enabled() -> bool:
    return _enabled(connections[DEFAULT_DB_ALIAS])


def _enabled(conn) -> bool:
    if conn.vendor != "postgresql" or not getattr(settings, "PREPARED_STATEMENTS", True):
        return False
    if conn.settings_dict.get("CONN_MAX_AGE") == 0:
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3


def _preparing_cursor_class():
    global _cursor_class
    if _cursor_class is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparingCursor(ServerBindingCursor):
            """Server-side binding, every statement prepared (kept by the connection, reused)."""

            def execute(self, query, params=None, *, prepare=None, binary=None):
                # Django opens connections with prepare_threshold=None (preparing disabled, for poolers);
                # allow it for this statement only, so that no other statement is counted or prepared.
                conn = self.connection
                threshold = conn.prepare_threshold
                conn.prepare_threshold = _NEVER_BY_COUNT
                try:
                    return super().execute(query, params, prepare=True, binary=binary)
                finally:
                    conn.prepare_threshold = threshold

        _cursor_class = PreparingCursor
    return _cursor_class


def prepared_cursor():
    """A cursor for a statement run on every request: prepared per connection on PostgreSQL with persistent
    connections (see the module's notes), the ordinary cursor otherwise. Use it as a context manager."""
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: `connection` is a proxy looked up per access
    if not _enabled(conn):
        return conn.cursor()
    # What connection.cursor() does (BaseDatabaseWrapper._cursor), with another cursor class.
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    with conn.wrap_database_errors:
        raw = conn.connection
        cursor = _preparing_cursor_class()(raw)
        if _own_timezone_needed(conn, raw):
            from django.db.backends.postgresql.psycopg_any import register_tzloader

            register_tzloader(conn.timezone, cursor)
        return conn._prepare_cursor(cursor)


# per open psycopg connection: whether a cursor must register the wrapper's time zone itself
_timezone_needed: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()


def _own_timezone_needed(conn, raw) -> bool:
    """As DatabaseWrapper.create_cursor: a cursor loads timestamps in the connection's time zone itself
    if the connection's loader has another one. Checked once per psycopg connection."""
    needed = _timezone_needed.get(raw)
    if needed is None:
        from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
        from psycopg.pq import Format  # psycopg 3 only (checked by the caller)

        loader = raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        needed = _timezone_needed[raw] = conn.timezone != loader.timezone
    return needed


def fetch_values(qs) -> list:
    """The rows of a ``values()`` queryset — the same dicts iterating it gives — with its statement run
    through `prepared_cursor()`: list pages run one shape of statement on every request, so PostgreSQL
    plans it once per connection instead of every time. Any other queryset (model instances,
    ``values_list``), or where statements are not prepared, is simply iterated."""
    from django.core.exceptions import EmptyResultSet
    from django.db.models.query import ValuesIterable

    if qs._result_cache is not None or qs._iterable_class is not ValuesIterable or qs.db != "default":
        return list(qs)
    if not prepared_statements_enabled():
        return list(qs)
    query = qs.query
    compiler = query.get_compiler(qs.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return []
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # What ValuesIterable does with the compiler's rows: the fields' conversions, then dicts by name.
    converters = compiler.get_converters([s[0] for s in compiler.select[0 : compiler.col_count]])
    if converters:
        rows = compiler.apply_converters(rows, converters)
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    return [dict(zip(names, row, strict=True)) for row in rows]


# --- statements compiled once per process -------------------------------------------------------------
#
# A list page's statement depends only on the reader's scope, the filters, the order and the page size;
# building it through the ORM costs more CPU than the database spends running it. `compiled_sql` keeps
# (sql, params) per key; a page after a cursor is compiled with stand-in objects in place of the cursor's
# values, which `compiled_rows` swaps for the real ones on every run.

# One stand-in per type and position; each is a distinct object, found in the compiled parameters by id().
_STAND_INS = {
    datetime.datetime: (
        datetime.datetime(1, 1, 1, 0, 0, 0, 111111, tzinfo=datetime.UTC),
        datetime.datetime(1, 1, 1, 0, 0, 0, 222222, tzinfo=datetime.UTC),
    ),
    datetime.date: (datetime.date(1, 1, 2), datetime.date(1, 1, 3)),
    int: (-(2**62) + 11, -(2**62) + 12),
    str: ("\x00stand-in-0-" + uuid.uuid4().hex, "\x00stand-in-1-" + uuid.uuid4().hex),
}

_COMPILED: dict = {}
_COMPILED_MAX = 2000


def cursor_values(cursor: str, size: int) -> list | None:
    """The cursor's values when they have the types a list order has (aware date-times, dates, integers,
    text); None otherwise (the ORM then reads the page, and reports a cursor it cannot use as it always did)."""
    from django.utils import timezone

    from keyfit.core.errors import ValidationFailed
    from keyfit.core.pagination import decode_cursor

    try:
        values = decode_cursor(cursor, size)
    except ValidationFailed:  # the ORM path reports it
        return None
    for value in values:
        if type(value) not in _STAND_INS:
            return None
        if isinstance(value, datetime.datetime) and timezone.is_naive(value):
            return None
    return values


def stand_ins_for(values: list) -> list:
    """The stand-ins to compile in place of a cursor's `values` (see cursor_values)."""
    return [_STAND_INS[type(value)][i] for i, value in enumerate(values)]


def compiled_sql(user, key, build):
    """(sql, params) of the queryset `build()` for `user`'s scope and `key` (None, () if it matches nothing),
    compiled once per process; None when the scope has no key (then compile it every time)."""
    from django.core.exceptions import EmptyResultSet

    from keyfit.core.permissions import scope_key, scope_q

    scope = scope_key(scope_q(user))
    if scope is None:
        return None
    key = (scope, key)
    compiled = _COMPILED.get(key)
    if compiled is None:
        try:
            compiled = build().query.sql_with_params()
        except EmptyResultSet:
            compiled = (None, ())
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[key] = compiled
    return compiled


def compiled_rows(user, key, build, names: tuple[str, ...], *, model, values: dict | None = None) -> list | None:
    """The rows of `build()` (a values_list of `model`'s columns and related columns `names`) as named
    tuples, from its statement compiled once per process (see compiled_sql) and prepared per connection,
    with the fields' own conversions (from_db_value, e.g. JSON). PostgreSQL only (its driver returns the
    Python values the ORM would for the other columns); None elsewhere, or when the scope has no key.
    `values` maps the id() of stand-in objects `build()` used to the values that replace them in the
    compiled parameters (each must be found there, as itself: else None)."""
    from django.db.models.utils import create_namedtuple_class

    if connection.vendor != "postgresql":
        return None
    compiled = compiled_sql(user, key, build)
    if compiled is None:
        return None
    sql, params = compiled
    if sql is None:
        return []
    if values:
        if {id(p) for p in params} & values.keys() != values.keys():
            return None  # a stand-in did not reach the parameters as itself: let the ORM read the page
        params = [values.get(id(p), p) for p in params]
    row_class = create_namedtuple_class(*names)  # the class values_list(named=True) makes
    with prepared_cursor() as cursor:  # run on every page: planned once per connection
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    converters = [(i, f.from_db_value) for i, f in enumerate(_fields(model, names)) if hasattr(f, "from_db_value")]
    if converters:
        rows = [list(row) for row in rows]
        for row in rows:
            for i, convert in converters:
                row[i] = convert(row[i], None, connection)
    return [row_class._make(row) for row in rows]


def _fields(model, names: tuple[str, ...]) -> list:
    """The `model` field of each column (by name or attname; None for a related column)."""
    from django.core.exceptions import FieldDoesNotExist

    fields = []
    for name in names:
        try:
            fields.append(None if "__" in name else model._meta.get_field(name))
        except FieldDoesNotExist:
            fields.append(None)
    return fields
