"""Every read of the pipeline starts from visible_opportunities / visible_activities (scoping in SQL)."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, Sum
from django.utils import timezone

from keyfit.core import db
from keyfit.core.audit import audit_for
from keyfit.core.db import compiled_sql, cursor_values, prepared_cursor, stand_ins_for
from keyfit.core.errors import field_error
from keyfit.core.pagination import Page, _after, decode_cursor, encode_cursor, keyset_page
from keyfit.core.permissions import scope_key as _scope_key
from keyfit.core.permissions import scope_parts, scope_q
from keyfit.pipeline import lookups
from keyfit.pipeline.choices import StageKind
from keyfit.pipeline.lookups import StageRow
from keyfit.pipeline.models import (
    Activity,
    ActivityQuestion,
    BoardSummary,
    Opportunity,
    OpportunityContact,
    StageChange,
)
from keyfit.pipeline.permissions import access_opportunity, visible_activities, visible_opportunities
from keyfit.pipeline.summary import summary_version

BOARD_KINDS = (StageKind.OPEN, StageKind.SUCCESS)
CARD_ORDER = ("-updated_at", "-id")
LIST_ORDERS = {
    "recent": ("-updated_at", "-id"),
    "close": ("expected_close_date", "id"),
    "created": ("-created_at", "-id"),
}

# What a board card and a list row show, fetched as plain rows (named tuples with these attributes): the
# rest of the wide row is not read, and no model instances are built for a read-only page.
CARD_VALUES = (
    "id",
    "name",
    "version",
    "amount",
    "currency",
    "computed_probability",
    "manual_probability",
    "expected_close_date",
    "updated_at",
    "stage_id",
    "account__name",
    "owner__full_name",
    "owner__email",
)
LIST_VALUES = (*CARD_VALUES, "created_at")

FILTER_KEYS = ("q", "stage", "owner", "team", "account", "forecast", "status", "close_from", "close_to")


def _int(value, name):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise field_error(name, "Enter a whole number.") from None


def _date(value, name):
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise field_error(name, "Enter a date as YYYY-MM-DD.") from None


def apply_filters(qs, filters: dict[str, Any]):
    """Filters shared by the list page, the board and the API (all on indexed columns but `q`)."""
    f = {k: v for k, v in (filters or {}).items() if v not in (None, "", [])}
    if "q" in f:
        qs = qs.filter(Q(name__icontains=f["q"]) | Q(account__name__icontains=f["q"]))
    if "stage" in f:
        # Stages come from the cached lookups: a filter on the stage id needs no join.
        stage = lookups.stage_by_code(f["stage"])
        qs = qs.filter(stage_id=stage.id) if stage is not None else qs.none()
    if "owner" in f:
        qs = qs.filter(owner_id=_int(f["owner"], "owner"))
    if "team" in f:
        qs = qs.filter(team_id=_int(f["team"], "team"))
    if "account" in f:
        qs = qs.filter(account_id=_int(f["account"], "account"))
    if "forecast" in f:
        qs = qs.filter(forecast_category=f["forecast"])
    if "status" in f:
        kinds = {"open": [StageKind.OPEN], "won": [StageKind.WON, StageKind.SUCCESS], "lost": [StageKind.LOST]}
        wanted = kinds.get(f["status"], [])
        qs = qs.filter(stage_id__in=[s.id for s in lookups.stages() if s.kind in wanted])
    if "close_from" in f:
        qs = qs.filter(expected_close_date__gte=_date(f["close_from"], "close_from"))
    if "close_to" in f:
        qs = qs.filter(expected_close_date__lte=_date(f["close_to"], "close_to"))
    return qs


def seekable(qs, *, order: tuple[str, ...], cursor: str | None):
    """Add the leading column's bound of the keyset condition (`updated_at <= last seen`), so PostgreSQL
    seeks in the ordering index instead of filtering every row before the cursor (the OR form of the
    keyset condition is not an index condition by itself)."""
    if not cursor:
        return qs
    values = decode_cursor(cursor, len(order))
    first = order[0]
    lookup = "lte" if first.startswith("-") else "gte"
    return qs.filter(**{f"{first.lstrip('-')}__{lookup}": values[0]})


def opportunity_list(user, *, filters: dict[str, Any] | None = None):
    return apply_filters(visible_opportunities(user), filters or {}).select_related("account", "owner", "stage", "team")


def opportunity_page(user, *, filters=None, order: str = "recent", cursor: str | None = None, limit: int = 50):
    """A page of list rows: named tuples of LIST_VALUES (the stage's name comes from the cached lookups)."""
    order = order if order in LIST_ORDERS else "recent"
    order_by = LIST_ORDERS[order]
    active = {k: v for k, v in (filters or {}).items() if v not in (None, "", [])}

    def rows():
        qs = apply_filters(visible_opportunities(user), active).values_list(*LIST_VALUES, named=True)
        return qs.filter(expected_close_date__isnull=False) if order == "close" else qs

    if not cursor:
        # The first page's statement depends only on the scope, the filters, the order and the page size.
        first = compiled_rows(
            user,
            ("list", filters_key(active), order, limit),
            lambda: rows().order_by(*order_by)[: limit + 1],
            LIST_VALUES,
        )
        if first is not None:
            has_more = len(first) > limit
            items = first[:limit]
            next_cursor = encode_cursor([getattr(items[-1], f.lstrip("-")) for f in order_by]) if has_more else None
            return Page(items=items, next_cursor=next_cursor, limit=limit, has_more=has_more)
    else:
        # A page after a cursor: the same statement for every cursor (its values are parameters).
        after = cursor_values(cursor, len(order_by))
        if after is not None:
            stand_ins = stand_ins_for(after)
            page = compiled_rows(
                user,
                ("list-after", filters_key(active), order, limit, tuple(type(v) for v in after)),
                lambda: (
                    rows()
                    .filter(
                        **{
                            f"{order_by[0].lstrip('-')}__{'lte' if order_by[0].startswith('-') else 'gte'}": stand_ins[
                                0
                            ]
                        }
                    )
                    .filter(_after(order_by, stand_ins))
                    .order_by(*order_by)[: limit + 1]
                ),
                LIST_VALUES,
                values=dict(zip(map(id, stand_ins), after, strict=True)),
            )
            if page is not None:
                has_more = len(page) > limit
                items = page[:limit]
                next_cursor = (
                    encode_cursor([getattr(items[-1], f.lstrip("-")) for f in order_by]) if has_more and items else None
                )
                return Page(items=items, next_cursor=next_cursor, limit=limit, has_more=has_more)
    qs = rows()
    return keyset_page(seekable(qs, order=order_by, cursor=cursor), order=order_by, cursor=cursor, limit=limit)


def compiled_rows(user, key, build, names: tuple[str, ...], values: dict | None = None) -> list[Any] | None:
    """keyfit.core.db.compiled_rows for a values_list of Opportunity columns."""
    return db.compiled_rows(user, key, build, names, model=Opportunity, values=values)


def opportunity_get(user, pk) -> Opportunity:
    """The detail page's opportunity, with what it shows fetched in a fixed number of queries."""
    qs = Opportunity.objects.select_related(
        "account", "owner", "team", "stage", "lost_reason", "previous", "champion"
    ).prefetch_related(
        Prefetch("deal_contacts", queryset=OpportunityContact.objects.select_related("contact")),
        "contracts",
    )
    return access_opportunity(user, pk, queryset=qs)


@dataclass
class OpportunityPage:
    opportunity: Opportunity
    deal_contacts: list[OpportunityContact]
    contracts: list[Any]
    editable: bool  # within the user's write scope


_DEAL_SQL: dict[tuple, str] = {}


def opportunity_page_data(user, pk) -> OpportunityPage:
    """What the detail page shows besides its timeline and panels, in one query: the opportunity (scoped
    to `user`; NotFound otherwise) with the names of its account, owner, team, previous deal and champion,
    and its deal contacts and contracts as JSON arrays. The stage and the lost reason come from
    keyfit.pipeline.reference. Written as SQL: building this join through the ORM cost several times more
    than running it; the related objects carry only the fields the page shows (others load on access)."""
    import json

    from django.core.exceptions import EmptyResultSet
    from django.db import connection

    from keyfit.accounts.models import Account, Contact
    from keyfit.core.errors import NotFound
    from keyfit.pipeline.models import Contract
    from keyfit.pipeline.timeline import json_rows_sql
    from keyfit.users.models import Team, User

    qn = connection.ops.quote_name
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None

    def in_scope(write: bool) -> tuple[str, list] | None:
        """SQL for 'o is in the user's (write) scope': "" for everything, None for nothing."""
        scope = scope_q(user, write=write)
        if not scope:  # an administrator's scope is everything
            return "", []
        try:
            inner, inner_params = Opportunity.objects.filter(scope, pk=pk).values("pk").query.sql_with_params()
        except EmptyResultSet:
            return None
        return f'o."id" IN ({inner})', list(inner_params)

    read = in_scope(False)
    if read is None:
        raise NotFound()
    write = in_scope(True)
    params: list[Any] = []
    if write is None:
        editable_sql = "0"
    elif not write[0]:
        editable_sql = "1"
    else:
        editable_sql = f"CASE WHEN {write[0]} THEN 1 ELSE 0 END"
        params += write[1]
    params.append(pk)
    scope_sql = f" AND {read[0]}" if read[0] else ""
    params += read[1]
    # The statement's text depends only on the database and the scope conditions' SQL (values are
    # parameters): written once per process for each.
    key = (connection.vendor, editable_sql, scope_sql)
    sql = _DEAL_SQL.get(key)
    if sql is None:
        contacts_sql = json_rows_sql(
            [
                'oc."id"',
                'oc."contact_id"',
                'c."name"',
                'oc."role"',
                'oc."is_key"',
                'oc."motivation"',
                'oc."need"',
                'oc."expectations"',
                'oc."success_criteria"',
            ],
            f"{qn(OpportunityContact._meta.db_table)} oc INNER JOIN {qn(Contact._meta.db_table)} c "
            f'ON c."id" = oc."contact_id" WHERE oc."opportunity_id" = o."id"',
            'oc."is_key" DESC, oc."id"',  # OpportunityContact.Meta.ordering
        )
        contracts_sql = json_rows_sql(
            [
                'k."id"',
                'k."signed_on"',
                'k."start_date"',
                'k."end_date"',
                'CAST(k."annual_recurring_value" AS text)',
                'k."currency"',
            ],
            f'{qn(Contract._meta.db_table)} k WHERE k."opportunity_id" = o."id"',
            'k."start_date" DESC, k."id" DESC',  # Contract.Meta.ordering
        )

        opportunities = qn(Opportunity._meta.db_table)
        sql = f"""
SELECT {_opportunity_columns_sql("o")},
           (SELECT a."name" FROM {qn(Account._meta.db_table)} a WHERE a."id" = o."account_id") AS "x_account",
           u."full_name" AS "x_owner_name", u."email" AS "x_owner_email",
           (SELECT t."name" FROM {qn(Team._meta.db_table)} t WHERE t."id" = o."team_id") AS "x_team",
           (SELECT p."name" FROM {opportunities} p WHERE p."id" = o."previous_id") AS "x_previous",
           (SELECT ch."name" FROM {qn(Contact._meta.db_table)} ch WHERE ch."id" = o."champion_id") AS "x_champion",
           {contacts_sql} AS "x_contacts", {contracts_sql} AS "x_contracts", {editable_sql} AS "x_editable"
FROM {opportunities} o INNER JOIN {qn(User._meta.db_table)} u ON u."id" = o."owner_id"
WHERE o."id" = %s{scope_sql}"""  # noqa: S608  (table names from the models' metadata; values are parameters)
        _DEAL_SQL[key] = sql
    with prepared_cursor() as cursor:  # run on every detail page: planned once per connection
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise NotFound()
    opp = _opportunity_from_row(row)
    (
        opp.x_account,
        opp.x_owner_name,
        opp.x_owner_email,
        opp.x_team,
        opp.x_previous,
        opp.x_champion,
        opp.x_contacts,
        opp.x_contracts,
        opp.x_editable,
    ) = row[len(opp._meta.concrete_fields) :]
    db = opp._state.db
    opp.account = _partial(Account, db, id=opp.account_id, name=opp.x_account)
    opp.owner = _partial(User, db, id=opp.owner_id, full_name=opp.x_owner_name, email=opp.x_owner_email)
    opp.team = _partial(Team, db, id=opp.team_id, name=opp.x_team) if opp.team_id else None
    if opp.previous_id:
        opp.previous = _partial(Opportunity, db, id=opp.previous_id, name=opp.x_previous)
    if opp.champion_id:
        opp.champion = _partial(Contact, db, id=opp.champion_id, name=opp.x_champion)
    contacts = [
        OpportunityContact(
            id=row[0],
            opportunity=opp,
            contact=_partial(Contact, db, id=row[1], name=row[2], account_id=opp.account_id),
            role=row[3],
            is_key=bool(row[4]),
            motivation=row[5],
            need=row[6],
            expectations=row[7],
            success_criteria=row[8],
        )
        for row in json.loads(opp.x_contacts or "[]")
    ]
    contracts = [
        Contract(
            id=row[0],
            opportunity=opp,
            account_id=opp.account_id,
            signed_on=_iso_date(row[1]),
            start_date=_iso_date(row[2]),
            end_date=_iso_date(row[3]),
            annual_recurring_value=Decimal(row[4]),
            currency=row[5],
        )
        for row in json.loads(opp.x_contracts or "[]")
    ]
    return OpportunityPage(opportunity=opp, deal_contacts=contacts, contracts=contracts, editable=bool(opp.x_editable))


def _partial(model, db: str, **values):
    """An instance of `model` with only `values` loaded (others load on access). Model.from_db takes the
    values in the order of the model's fields, whatever the order of the names given."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(db, names, [values[name] for name in names])


def _opportunity_columns_sql(alias: str) -> str:
    """Every column of the opportunity table, named (a prepared statement must not read `alias.*`: its
    result would change under it when a migration adds a column)."""
    from django.db import connection

    qn = connection.ops.quote_name
    return ", ".join(f"{alias}.{qn(f.column)}" for f in Opportunity._meta.concrete_fields)


_CONVERTERS: dict[str, list] = {}


def _opportunity_from_row(row) -> Opportunity:
    """An Opportunity from the first columns of `row` (in _opportunity_columns_sql's order), with the
    conversions the ORM applies to them (JSON, booleans and dates on SQLite, …), as a raw query would."""
    from django.db import connection

    fields = Opportunity._meta.concrete_fields
    converters = _CONVERTERS.get(connection.alias)
    if converters is None:
        converters = []
        for i, f in enumerate(fields):
            column = f.get_col(Opportunity._meta.db_table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((i, column, found))
        _CONVERTERS[connection.alias] = converters
    values = list(row[: len(fields)])
    for i, column, functions in converters:
        for convert in functions:
            values[i] = convert(values[i], column, connection)
    return Opportunity.from_db(connection.alias, [f.attname for f in fields], values)


def _iso_date(value):
    return datetime.date.fromisoformat(value[:10]) if value else None


def stage_history(opportunity: Opportunity):
    return StageChange.objects.filter(opportunity=opportunity).select_related("from_stage", "to_stage", "actor")


# --- board -----------------------------------------------------------------------------------------


@dataclass
class Column:
    stage: StageRow
    count: int = 0
    totals: list[tuple[Decimal, str]] = field(default_factory=list)
    cards: list[Any] = field(default_factory=list)  # named tuples of CARD_VALUES
    next_cursor: str | None = None


def board_stages() -> list[StageRow]:
    """The board's columns (open and customer-success stages, active), from the cached lookups."""
    return [s for s in lookups.stages() if s.kind in BOARD_KINDS and s.active]


# Filters the maintained summary can answer (its key columns); any other filter counts the deals themselves.
SUMMARY_FILTERS = {"stage", "owner", "team", "status", "forecast"}


def board_totals(user, *, filters=None, stages: list | None = None) -> dict[int, dict[str, Any]]:
    """Per stage: count and amount totals per currency — one grouped SQL query, over the maintained
    BoardSummary (a row per stage, team, owner, currency and forecast category) when the filters allow, so its cost does not
    grow with the number of deals."""
    stage_ids = [s.pk for s in (stages if stages is not None else board_stages())]
    active = {k: v for k, v in (filters or {}).items() if v not in (None, "", [])}
    if set(active) <= SUMMARY_FILTERS:
        scope = scope_q(user)
        token = summary_version()  # read before the summary: totals kept under it are never newer than it
        key = _scope_key(scope)
        if key is not None:
            key = (key, filters_key(active), tuple(stage_ids))
            kept_token, kept = _TOTALS
            if kept_token == token and key in kept:
                return _copy_totals(kept[key])
        rows = (
            apply_filters(BoardSummary.objects.filter(scope), active)
            .filter(stage_id__in=stage_ids)
            .values_list("stage_id", "currency")
            .annotate(n=Sum("count"), priced=Sum("priced"), total=Sum("amount"))
            .order_by("stage_id", "currency")
        )
        result = _totals_from(rows)
        if key is not None:
            _keep_totals(token, key, result)
        return _copy_totals(result)
    else:
        rows = (
            apply_filters(visible_opportunities(user), filters or {})
            .filter(stage_id__in=stage_ids)
            .values_list("stage_id", "currency")
            .annotate(n=Count("id"), priced=Count("amount"), total=Sum("amount"))
            .order_by("stage_id", "currency")
        )
        return _totals_from(rows)


def _totals_from(rows) -> dict[int, dict[str, Any]]:
    result: dict[int, dict[str, Any]] = {}
    for stage_id, currency, n, priced, total in rows:
        if not n:
            continue
        entry = result.setdefault(stage_id, {"count": 0, "totals": []})
        entry["count"] += n
        if priced:
            entry["totals"].append((total, currency))
    return result


# Totals read from the summary, kept in this process while the summary's version token stays the same:
# (token, {(scope, filters, stages): totals}). Any change of the summary sets a new token (summary.py).
_TOTALS: tuple[str | None, dict] = (None, {})
_TOTALS_MAX = 1000


def _keep_totals(token: str, key, totals) -> None:
    global _TOTALS
    kept_token, kept = _TOTALS
    if kept_token != token or len(kept) >= _TOTALS_MAX:
        kept = {}
        _TOTALS = (token, kept)
    kept[key] = totals


def filters_key(filters: dict) -> tuple:
    """The filters with the stages they name resolved (a stage code could come to name another stage)."""
    key = sorted((name, str(value)) for name, value in filters.items())
    if "stage" in filters:
        stage = lookups.stage_by_code(filters["stage"])
        key.append(("stage_id", stage.id if stage is not None else None))
    if "status" in filters:
        key.append(("stage_kinds", tuple((s.id, s.kind) for s in lookups.stages())))
    return tuple(key)


def _copy_totals(totals):
    return {stage_id: {"count": e["count"], "totals": list(e["totals"])} for stage_id, e in totals.items()}


def _cards(user, filters):
    return apply_filters(visible_opportunities(user), filters or {})


def board_cards(user, *, stage, filters=None, cursor: str | None = None, limit: int = 20):
    """A page of one column's cards (named tuples of CARD_VALUES), newest change first."""
    qs = _cards(user, filters).filter(stage_id=stage.pk).values_list(*CARD_VALUES, named=True)
    return keyset_page(seekable(qs, order=CARD_ORDER, cursor=cursor), order=CARD_ORDER, cursor=cursor, limit=limit)


def _first_cards(user, stages: list, *, filters=None, limit: int) -> dict[int, Any]:
    """The first page of cards of several columns in one query where the database can: on PostgreSQL a
    LATERAL join runs one ordered, limited index scan per stage (the same rows as board_cards; one short
    statement for the planner whatever the number of columns). Other databases run board_cards per column."""
    from django.core.exceptions import EmptyResultSet
    from django.db import connection
    from django.db.models.expressions import RawSQL
    from django.db.models.utils import create_namedtuple_class

    if len(stages) < 2 or connection.vendor != "postgresql":
        return {stage.pk: board_cards(user, stage=stage, filters=filters, limit=limit) for stage in stages}
    rows: dict[int, list[Any]] = {stage.pk: [] for stage in stages}
    # The statement depends only on the scope, the filters and the page size (no cursor).
    active = {k: v for k, v in (filters or {}).items() if v not in (None, "", [])}

    parts = scope_parts(user)

    def inner():
        if parts is None:
            return (
                _cards(user, active)
                .filter(stage_id=RawSQL('"board_stage"."id"', ()))
                .order_by(*CARD_ORDER)
                .values_list(*CARD_VALUES)[: limit + 1]
            )
        # A manager's (SDR's, viewer's) scope in disjoint parts: the newest cards of each part from its own
        # index ((team, stage, -updated_at, -id) / (owner, stage, …)), merged — the same rows as one scan
        # of the stage's index filtered by the scope, which reads every other team's cards on its way.
        column = apply_filters(Opportunity.objects.all(), active).filter(stage_id=RawSQL('"board_stage"."id"', ()))
        branches = [column.filter(part).order_by(*CARD_ORDER).values_list(*CARD_VALUES)[: limit + 1] for part in parts]
        if len(branches) == 1:
            return branches[0]
        return branches[0].union(*branches[1:], all=True).order_by(*CARD_ORDER)[: limit + 1]

    compiled = compiled_sql(user, ("cards", filters_key(active), limit), inner)
    if compiled is None:
        try:
            compiled = inner().query.sql_with_params()
        except EmptyResultSet:
            compiled = (None, ())
    sql, params = compiled
    if sql is not None:
        row_class = create_namedtuple_class(*CARD_VALUES)  # the class values_list(named=True) makes
        stage_at = CARD_VALUES.index("stage_id")
        # `sql` is the ORM's own compiled statement; every value travels in `params` but the stage ids,
        # integers written into the statement: with them as a parameter PostgreSQL would plan each run
        # anew (a generic plan cannot know the array's length), with them written once per set of columns.
        stage_ids = ",".join(str(int(stage_id)) for stage_id in rows)
        lateral = f'SELECT "board_card".* FROM unnest(ARRAY[{stage_ids}]::bigint[]) AS "board_stage"("id") CROSS JOIN LATERAL ({sql}) AS "board_card"'  # noqa: S608
        with prepared_cursor() as cursor:  # run on every board: planned once per connection
            cursor.execute(lateral, params)
            for row in cursor.fetchall():
                rows[row[stage_at]].append(row_class._make(row))
    pages = {}
    for stage_id, items in rows.items():
        items.sort(key=lambda o: (o.updated_at, o.id), reverse=True)  # CARD_ORDER
        has_more = len(items) > limit
        items = items[:limit]
        cursor = encode_cursor([items[-1].updated_at, items[-1].id]) if has_more and items else None
        pages[stage_id] = Page(items=items, next_cursor=cursor, limit=limit, has_more=has_more)
    return pages


def board(user, *, filters=None, limit: int = 20) -> list[Column]:
    stages = board_stages()
    totals = board_totals(user, filters=filters, stages=stages)
    columns = []
    for stage in stages:
        entry = totals.get(stage.pk, {"count": 0, "totals": []})
        columns.append(Column(stage=stage, count=entry["count"], totals=entry["totals"]))
    pages = _first_cards(user, [c.stage for c in columns if c.count], filters=filters, limit=limit)
    for column in columns:
        page = pages.get(column.stage.pk)
        if page is not None:
            column.cards, column.next_cursor = page.items, page.next_cursor
    return columns


# --- timelines ---------------------------------------------------------------------------------------


@dataclass
class Entry:
    at: datetime.datetime
    kind: str  # "stage" | "activity" | "audit"
    obj: Any


def _activities_for(qs):
    return qs.select_related("owner", "opportunity").prefetch_related(
        "contacts", Prefetch("asked", queryset=ActivityQuestion.objects.select_related("question"))
    )


def opportunity_timeline(opportunity: Opportunity, *, limit: int = 100) -> list[Entry]:
    entries = [Entry(c.at, "stage", c) for c in stage_history(opportunity).order_by("-at", "-id")[:limit]]
    activities = _activities_for(opportunity.activities.order_by("-occurred_at", "-id"))[:limit]
    entries += [Entry(a.occurred_at, "activity", a) for a in activities]
    entries += [Entry(e.at, "audit", e) for e in audit_for(opportunity, limit=limit)]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def account_pipeline_timeline(user, account, *, limit: int = 50) -> list[Entry]:
    """Stage changes of the account's visible opportunities and its visible activities, newest first."""
    changes = (
        StageChange.objects.filter(opportunity__in=visible_opportunities(user).filter(account=account))
        .select_related("from_stage", "to_stage", "actor", "opportunity")
        .order_by("-at", "-id")[:limit]
    )
    activities = _activities_for(visible_activities(user).filter(account=account).order_by("-occurred_at", "-id"))[
        :limit
    ]
    entries = [Entry(c.at, "stage", c) for c in changes] + [Entry(a.occurred_at, "activity", a) for a in activities]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def account_opportunities(user, account):
    return visible_opportunities(user).filter(account=account).select_related("stage", "owner").order_by("-updated_at")


# --- activities -----------------------------------------------------------------------------------


def activity_list(user, *, opportunity=None, account=None, owner=None, open_only: bool = False):
    qs = visible_activities(user)
    if opportunity is not None:
        qs = qs.filter(opportunity_id=_int(opportunity, "opportunity"))
    if account is not None:
        qs = qs.filter(account_id=_int(account, "account"))
    if owner is not None:
        qs = qs.filter(owner_id=_int(owner, "owner"))
    if open_only:
        qs = qs.filter(done=False)
    return qs.select_related("account", "opportunity", "owner")


def my_activities(user, *, cursor=None, limit: int = 50):
    """The user's open activities, soonest next step first; `overdue` marks next steps in the past."""
    today = timezone.localdate()
    qs = Activity.objects.filter(owner=user, done=False, next_step_date__isnull=False).select_related(
        "account", "opportunity"
    )
    page = keyset_page(qs, order=("next_step_date", "id"), cursor=cursor, limit=limit)
    for activity in page.items:
        activity.overdue = activity.next_step_date < today
    return page
