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

from django.conf import settings
from django.db import connection

_cursor_class = None
_NEVER_BY_COUNT = 2**31  # a threshold no statement reaches: only the ones asked for are prepared


def prepared_statements_enabled() -> bool:
    if connection.vendor != "postgresql" or not getattr(settings, "PREPARED_STATEMENTS", True):
        return False
    if connection.settings_dict.get("CONN_MAX_AGE") == 0:
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
    if not prepared_statements_enabled():
        return connection.cursor()
    # What connection.cursor() does (BaseDatabaseWrapper._cursor), with another cursor class.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = _preparing_cursor_class()(connection.connection)
        _register_timezone(cursor)
        return connection._prepare_cursor(cursor)


def _register_timezone(cursor) -> None:
    """As DatabaseWrapper.create_cursor: the connection's time zone for timestamps, if the loader differs."""
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format  # psycopg 3 only (checked by the caller)

    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if connection.timezone != loader.timezone:
        register_tzloader(connection.timezone, cursor)


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
