"""Lead routing: ordered rules pick a team, the team's strategy picks a member, quotas cap it.

Routing is set-based. A batch of leads is read in one query, every assignment is computed in memory
(rules, members and quota counters are small), then written with one UPDATE of the leads, one upsert of
the quota counters and one insert of the decisions. Concurrency: on PostgreSQL the batch's leads are
locked with ``FOR UPDATE SKIP LOCKED`` (two workers never take the same lead) and the routing teams and
member rows with ``FOR UPDATE`` in id order before the quota counters are read (no quota overrun, no
deadlock); on SQLite the IMMEDIATE transaction serialises writers. Ties are broken by an order shuffled
with the given seed, so a run is reproducible.
"""

import datetime
import json
import math
import random
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from keyfit.core.audit import json_default
from keyfit.core.db import prepared_cursor
from keyfit.leads import routing_config
from keyfit.leads.calendar import Calendar
from keyfit.leads.choices import OPEN_STATUSES, DecisionKind, NotificationKind, Strategy
from keyfit.leads.conditions import VALUE_FIELDS
from keyfit.leads.models import Lead, MemberLoad, Notification, OwnerLoad, RoutingDecision
from keyfit.leads.routing_config import RoutingConfig, RuleConfig, TeamConfig

DEFAULT_BATCH = 5000
# bulk routing on PostgreSQL reads the next batch on a second connection while a batch writes
OVERLAP_BATCHES = True
OVERLAP_WORKERS = 2  # connections taking the batches in turn
UNLIMITED = None


@dataclass
class MemberState:
    id: int
    user_id: int
    name: str
    index: int
    paused: bool
    max30: int | None
    prefers: Callable[[dict[str, Any]], bool] | None
    got_today: int = 0
    got_30: int = 0
    open_count: int = 0
    assigned_now: int = 0

    @property
    def day_quota(self) -> int | None:
        return None if self.max30 is None else math.ceil(self.max30 / 30)

    def remaining(self) -> int | None:
        if self.max30 is None:
            return None
        return max(0, min(self.day_quota - self.got_today, self.max30 - self.got_30))

    def available(self) -> bool:
        if self.paused:
            return False
        remaining = self.remaining()
        return remaining is None or remaining > 0


@dataclass
class TeamState:
    config: TeamConfig
    members: list[MemberState]
    tie_rank: dict[int, int]
    today: datetime.date
    rr_read: int  # the round-robin position read under the lock
    rr_position: int
    has_preferences: bool
    # the members any strategy may still pick (not paused, quota left), in member order: kept up to date
    # as quotas run out, so picking never re-tests every member
    pool: list[MemberState] = field(default_factory=list)
    due: datetime.datetime | None = None
    changed: bool = False

    @property
    def strategy(self) -> str:
        return self.config.strategy

    @property
    def calendar(self) -> Calendar:
        return self.config.calendar


@dataclass
class RouteResult:
    routed: int = 0
    unrouted: int = 0
    decisions: list[dict[str, Any]] = field(default_factory=list)
    batches: int = 0
    # lead id → the column values routing wrote (kept with the decisions): lets the caller update its
    # in-memory lead without reading it back
    written: dict[int, dict[str, Any]] = field(default_factory=dict)

    def apply_to(self, lead) -> bool:
        """Set on `lead` what this run wrote to its row; False when this run did not route it."""
        values = self.written.get(lead.pk)
        if values is None:
            return False
        for name, value in values.items():
            setattr(lead, name, value)
        return True


def _pick(team: TeamState, row: dict[str, Any], exclude_user: int | None) -> tuple[MemberState | None, bool]:
    pool = team.pool
    if exclude_user is not None:
        pool = [m for m in pool if m.user_id != exclude_user]
    if not pool:
        return None, False
    preferred = False
    if team.has_preferences:
        favoured = [m for m in pool if m.prefers is not None and m.prefers(row)]
        if favoured:
            pool, preferred = favoured, True
    strategy = team.strategy
    if strategy == Strategy.ROUND_ROBIN:
        size = len(team.members)
        start = team.rr_position
        best = min(pool, key=lambda m: (m.index - start - 1) % size)
        return best, preferred
    if strategy == Strategy.CAPACITY:

        def capacity_key(m: MemberState):
            remaining = m.remaining()
            share = 1.0 if remaining is None else remaining / m.day_quota
            return (-share, team.tie_rank[m.id])

        return min(pool, key=capacity_key), preferred
    return min(pool, key=lambda m: (m.open_count, team.tie_rank[m.id])), preferred


class _ConfigMoved(Exception):
    """The routing configuration changed between reading it and locking the teams: route the batch again."""


def _check_config_current(config, locked, needed) -> None:
    """Raise _ConfigMoved unless every team the batch needs is locked at the version `config` was read at
    (a change committed between reading the configuration and locking its teams)."""
    versions = dict(config.token)
    if len(locked) != len(needed) or any(versions.get(pk) != version for pk, (_rr, version) in locked.items()):
        raise _ConfigMoved


def _lock_teams(team_ids: Iterable[int] | None) -> dict[int, tuple[int, int]]:
    """Lock the routing teams (`team_ids`, or all) in id order, relaxing the commit (see `_relax_commit`)
    in the same round trip on PostgreSQL: {team id: (round-robin position, configuration version)}."""
    where = ""
    if team_ids is not None:
        ids = sorted({int(i) for i in team_ids})
        if not ids:
            _relax_commit()
            return {}
        where = f" WHERE id IN ({', '.join(str(i) for i in ids)})"  # integers only
    sql = f"SELECT id, rr_position, config_version FROM leads_routingteam{where} ORDER BY id"  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SET LOCAL synchronous_commit TO OFF; {sql} FOR UPDATE")
            cursor.nextset()
        else:
            cursor.execute(sql)
        return {pk: (rr, version) for pk, rr, version in cursor.fetchall()}


def _token(locked: dict[int, tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    return tuple((pk, locked[pk][1]) for pk in sorted(locked))


Counters = tuple[dict[int, list[tuple[datetime.date, int]]], dict[int, int]]


def _counters_sql(members: list[int], users: list[int], since: datetime.date) -> str:
    """The quota counters of `members` from `since` on and the open leads of `users` (integers and a
    date are formatted in: the statement can join a multi-statement round trip)."""
    parts = []
    if members:
        parts.append(
            f"SELECT 0, member_id, day, assigned FROM {MemberLoad._meta.db_table} "  # noqa: S608
            f"WHERE member_id IN ({', '.join(str(int(m)) for m in members)}) AND day >= '{since.isoformat()}'"
        )
    if users:
        parts.append(
            f"SELECT 1, user_id, NULL, open_leads FROM {OwnerLoad._meta.db_table} "  # noqa: S608
            f"WHERE user_id IN ({', '.join(str(int(u)) for u in users)})"
        )
    return " UNION ALL ".join(parts)


def _counters_from(rows: Iterable[tuple]) -> Counters:
    loads: dict[int, list[tuple[datetime.date, int]]] = defaultdict(list)
    open_counts: dict[int, int] = {}
    for kind, key, day, n in rows:
        if kind == 0:
            if isinstance(day, str):  # SQLite through a UNION
                day = datetime.date.fromisoformat(day)
            loads[key].append((day, n))
        else:
            open_counts[key] = n
    return loads, open_counts


def _read_counters(members: list[int], users: list[int], since: datetime.date) -> Counters:
    """The quota counters of `members` from `since` on and the open leads of `users`, in one round trip."""
    sql = _counters_sql(members, users, since)
    if not sql:
        return defaultdict(list), {}
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return _counters_from(cursor.fetchall())


def _counter_keys(
    config: RoutingConfig, locked: dict[int, tuple[int, int]], now: datetime.datetime
) -> tuple[list[int], list[int], datetime.date]:
    """What `_team_states` reads for the `locked` teams: the members with a quota, the users of
    least-loaded teams, and the first day of the 30 days."""
    teams = [config.teams[pk] for pk in sorted(locked) if pk in config.teams]
    if not teams:
        return [], [], now.date()
    oldest = min(t.calendar.local_date(now) for t in teams) - datetime.timedelta(days=29)
    quota_members = sorted(m.id for t in teams for m in t.members if m.max30 is not None)
    users = sorted({m.user_id for t in teams if t.strategy == Strategy.LEAST_LOADED for m in t.members})
    return quota_members, users, oldest


def _team_states(
    config: RoutingConfig,
    locked: dict[int, tuple[int, int]],
    *,
    seed: int,
    now: datetime.datetime,
    counters: Counters | None = None,
) -> dict[int, TeamState]:
    """The state of the locked teams: their members with today's and the 30 days' quota counters and
    (least-loaded teams) open leads, read under the team locks (or given: `counters`, read under the
    locks for every team of `config`)."""
    teams = [config.teams[pk] for pk in sorted(locked) if pk in config.teams]
    if not teams:
        return {}
    todays = {t.pk: t.calendar.local_date(now) for t in teams}
    loads, open_counts = counters if counters is not None else _read_counters(*_counter_keys(config, locked, now))
    states: dict[int, TeamState] = {}
    for t in teams:
        today = todays[t.pk]
        first_day = today - datetime.timedelta(days=29)
        ms: list[MemberState] = []
        for index, m in enumerate(t.members):
            rows = loads.get(m.id, ())
            ms.append(
                MemberState(
                    id=m.id,
                    user_id=m.user_id,
                    name=m.name,
                    index=index,
                    paused=m.paused,
                    max30=m.max30,
                    prefers=m.prefers,
                    got_today=sum(n for d, n in rows if d == today),
                    got_30=sum(n for d, n in rows if first_day <= d <= today),
                    open_count=open_counts.get(m.user_id, 0),
                )
            )
        order = [m.id for m in ms]
        random.Random(f"{seed}:{t.pk}").shuffle(order)
        rr = locked[t.pk][0]
        rr = rr if -1 <= rr < max(len(ms), 1) else -1
        states[t.pk] = TeamState(
            config=t,
            members=ms,
            tie_rank={mid: i for i, mid in enumerate(order)},
            today=today,
            rr_read=rr,
            rr_position=rr,
            has_preferences=any(m.prefers is not None for m in ms),
            pool=[m for m in ms if m.available()],
        )
    return states


_ROW_FIELDS = routing_config.ROW_FIELDS
# online batches are small: read every field a condition may test instead of asking which are used
PENDING_FIELDS = sorted(_ROW_FIELDS | set(VALUE_FIELDS))


def _pending_sql(limit: int) -> str:
    """The leads waiting for online routing, locked (``SKIP LOCKED``), highest priority first."""
    columns = ", ".join(Lead._meta.get_field(name).column for name in PENDING_FIELDS)
    statuses = ", ".join(f"'{s}'" for s in OPEN_STATUSES)  # choice values: plain words
    return (
        f"SELECT {columns} FROM {Lead._meta.db_table} WHERE route_requested AND owner_id IS NULL "  # noqa: S608
        f"AND merged_into_id IS NULL AND status IN ({statuses}) ORDER BY priority DESC, created_at, id "
        f"LIMIT {int(limit)} FOR UPDATE SKIP LOCKED"
    )


def _lock_all_and_read_pending(
    limit: int, now: datetime.datetime
) -> tuple[dict[int, tuple[int, int]], list[dict[str, Any]], Counters | None]:
    """PostgreSQL: relax the commit, lock every routing team in id order, then read the waiting leads
    and — for the configuration this process keeps — the counters of every team, in one round trip (each
    statement after the locks are granted). The counters serve when the configuration is still current."""
    kept = routing_config.current()
    counters_sql = ""
    if kept is not None:
        counters_sql = _counters_sql(kept.quota_member_ids(), kept.least_loaded_user_ids(), kept.oldest_day(now))
    with connection.cursor() as cursor:
        # only column names, choice values and integers are formatted in
        lock = "SELECT id, rr_position, config_version FROM leads_routingteam ORDER BY id FOR UPDATE"
        # the batch's writes are prepared statements over one JSON parameter: planned once (a custom
        # plan, the default for them, is planned again at every execution)
        relax = "SET LOCAL synchronous_commit TO OFF; SET LOCAL plan_cache_mode TO force_generic_plan"
        sql = f"{relax}; {lock}; {_pending_sql(limit)}"
        cursor.execute(f"{sql}; {counters_sql}" if counters_sql else sql)
        cursor.nextset()
        cursor.nextset()  # past the two SETs
        locked = {pk: (rr, version) for pk, rr, version in cursor.fetchall()}
        cursor.nextset()
        rows = [dict(zip(PENDING_FIELDS, values, strict=True)) for values in cursor.fetchall()]
        counters = None
        if kept is not None:
            if counters_sql:
                cursor.nextset()
                counters = _counters_from(cursor.fetchall())
            else:
                counters = (defaultdict(list), {})
            if kept.token != _token(locked):
                counters = None  # read for another configuration
    for row in rows:
        if isinstance(row.get("custom_fields"), str):
            row["custom_fields"] = json.loads(row["custom_fields"])
    return locked, rows, counters


def _match(rows: list[dict[str, Any]], rules: tuple[RuleConfig, ...]) -> list[RuleConfig | None]:
    """The first rule each lead matches (rules need no state)."""
    matched: list[RuleConfig | None] = []
    for row in rows:
        for rule in rules:
            if rule.test(row):
                matched.append(rule)
                break
        else:
            matched.append(None)
    return matched


def _reason(lead_id: int, d: dict[str, Any]) -> str:
    return f"lead {lead_id}{_reason_tail(d)}"


def _reason_tail(d: dict[str, Any]) -> str:
    """The reason after "lead <id>" (the same for every lead given the same inputs)."""
    code = d["code"]
    if code == "no_rule":
        return ": no routing rule matched"
    if code == "no_member":
        return f": rule '{d['rule_name']}' → team {d['team_name']}; no member available (paused or at quota)"
    text = f" → {d['member']}"
    if d.get("rule_name"):
        text += f": rule '{d['rule_name']}'"
    else:
        text += f": team {d['team_name']}"
    strategy = d["strategy"]
    if d.get("quota_day") is not None:
        text += f", quota {d['quota_left']}/{d['quota_day']} left"
    if strategy == Strategy.ROUND_ROBIN:
        text += ", round robin"
    elif strategy == Strategy.LEAST_LOADED:
        text += f", least loaded ({d['open']} open)"
    elif d.get("quota_day") is None:
        text += ", capacity (no cap)"
    if d.get("preferred"):
        text += ", preferred filter"
    if d.get("excluded"):
        text += ", SLA breached by previous owner"
    return text


def _relax_commit() -> None:
    """Routing commits do not wait for the WAL flush (PostgreSQL ``synchronous_commit = off``).

    The row locks of a routing transaction are held until commit; waiting for the disk there serialises
    every producer behind fsync. A crash can lose at most the last few hundred milliseconds of routing,
    atomically: those leads are simply unassigned again and the next routing run places them. Lead
    intake itself commits normally (before routing starts).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _select_batch(
    *, lead_ids: list[int] | None, fields: list[str], limit: int, after: dict | None, pending: bool = False
) -> list[dict[str, Any]]:
    qs = Lead.objects.filter(owner__isnull=True, merged_into__isnull=True, status__in=OPEN_STATUSES)
    if lead_ids is not None:
        qs = qs.filter(pk__in=lead_ids)
    if pending:
        qs = qs.filter(route_requested=True)
    if after is not None:
        # keyset progression: leads a previous batch could not place are not read again in this run
        p, c, i = after["priority"], after["created_at"], after["id"]
        qs = qs.filter(Q(priority__lt=p) | Q(priority=p, created_at__gt=c) | Q(priority=p, created_at=c, id__gt=i))
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    qs = qs.order_by("-priority", "created_at", "id")[:limit]
    if connection.vendor != "postgresql":
        return list(qs.values(*fields))
    # PostgreSQL returns every routing field in its Python type but the JSON custom fields: read plain
    # tuples and decode each distinct custom-fields text once (a batch repeats the same few)
    sql, params = qs.values_list(*fields).query.sql_with_params()
    decoded: dict[str, Any] = {}
    position = fields.index("custom_fields") if "custom_fields" in fields else -1
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = []
    for values in rows:
        row = dict(zip(fields, values, strict=True))
        if position >= 0:
            text = values[position]
            if isinstance(text, str):
                value = decoded.get(text)
                if value is None:
                    value = json.loads(text)
                    if len(decoded) < 10_000:
                        decoded[text] = value
                row["custom_fields"] = value
        out.append(row)
    return out


def route_leads(
    *,
    actor=None,
    lead_ids: Iterable[int] | None = None,
    seed: int = 0,
    now: datetime.datetime | None = None,
    batch_size: int = DEFAULT_BATCH,
    keep_decisions: bool = True,
    notify: bool = True,
    pending: bool = False,
    waiting_for: int | None = None,
    release: "_RouterLock | None" = None,
) -> RouteResult:
    """Route the unassigned open leads (all, or those in `lead_ids`), highest priority first.

    With `pending`, route every lead whose intake asked to be routed (`route_requested`) and that no
    other worker holds: concurrent producers then share batches instead of queueing one lead at a time.
    With `waiting_for` (a pending lead's id), route only while that lead is still waiting: a producer
    whose lead the batch ahead of it placed leaves the leads it sees to their own producers, queued
    behind it, who route them together. With `release` (the online router's lock, held), the last batch
    commits and releases it in the round trip of its writes.
    """
    result = RouteResult()
    ids = None if lead_ids is None else sorted({int(i) for i in lead_ids})
    if (
        OVERLAP_BATCHES
        and not pending
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and (ids is None or len(ids) > batch_size)
    ):
        return _route_overlapped(
            actor=actor, ids=ids, seed=seed, now=now, batch_size=batch_size, keep=keep_decisions, notify=notify
        )
    after = None
    attempts = 0
    while True:
        try:
            with transaction.atomic():
                moment = now or timezone.now()
                counters = None
                if pending:
                    rows, matched, config, locked, counters = _pending_batch(ids, batch_size, after, moment)
                    if (
                        waiting_for is not None
                        and len(rows) < batch_size
                        and not any(row["id"] == waiting_for for row in rows)
                    ):
                        break
                else:
                    # the configuration is read before the teams are locked (only the teams the batch
                    # needs are): when a change committed in between, the batch is routed again
                    config = routing_config.load()
                    rows = _select_batch(lead_ids=ids, fields=list(config.fields), limit=batch_size, after=after)
                    matched = _match(rows, config.rules)
                    needed = {r.routing_team_id for r in matched if r is not None}
                    locked = _lock_teams(needed)
                    _check_config_current(config, locked, needed)
                if not rows:
                    break
                teams = _team_states(config, locked, seed=seed, now=moment, counters=counters)
                last = ids is not None or len(rows) < batch_size  # no batch after this one
                _route_rows(
                    rows,
                    matched=matched,
                    teams=teams,
                    actor=actor,
                    seed=seed,
                    now=moment,
                    result=result,
                    keep=keep_decisions,
                    notify=notify,
                    finish=release.commit_and_release if release is not None and last else None,
                )
                result.batches += 1
        except _ConfigMoved:
            attempts += 1
            if attempts > 20:  # pragma: no cover - the configuration keeps changing
                raise RuntimeError("The routing configuration keeps changing; try again.") from None
            continue
        if last:
            break
        after = rows[-1]
    return result


class _Relay:
    """The order of overlapped batches: who may read next (after which row) and who may route next."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.read = -1  # the last batch whose leads were read
        self.after: dict | None = None  # its last lead
        self.last_read = False  # it was the last batch (short)
        self.committed = -1  # the last batch routed and committed
        # batch → the team state it leaves behind if it commits as picked (`_Handoff`)
        self.handoffs: dict[int, _Handoff] = {}
        self.redo: set[int] = set()  # batches that write their leads again (their picks were not confirmed)
        self.error: BaseException | None = None
        self.merged = threading.Lock()

    def wait(self, ready: Callable[[], bool]) -> bool:
        with self.changed:
            self.changed.wait_for(lambda: ready() or self.error is not None)
            return self.error is None

    def update(self, **values) -> None:
        with self.changed:
            for name, value in values.items():
                setattr(self, name, value)
            self.changed.notify_all()


class _Handoff(NamedTuple):
    """What a batch leaves its teams at if it commits as it picked: the configuration token, each team's
    round-robin position and version, and the quota counters and open leads routing would then read."""

    token: tuple[tuple[int, int], ...]
    locked: dict[int, tuple[int, int]]
    counters: Counters


def _handoff(config: RoutingConfig, locked: dict[int, tuple[int, int]], counters: Counters, plan: "_Plan") -> _Handoff:
    """The state after `plan` commits, from the state it started from (`locked`, `counters`)."""
    loads = {member: list(days) for member, days in counters[0].items()}
    for t in plan.teams.values():
        for m in t.members:
            # `_write_loads` sets today's counter to the member's new total (read back for quotas only)
            if m.assigned_now and m.max30 is not None:
                loads[m.id] = [(d, n) for d, n in loads.get(m.id, ()) if d != t.today] + [(t.today, m.got_today)]
    # (a user without a row yet has one once the batch gave them a lead)
    opened = {
        user: counters[1].get(user, 0) + plan.assigned_per_user.get(user, 0)
        for user in counters[1].keys() | plan.assigned_per_user.keys()
    }
    positions = {pk: (plan.teams[pk].rr_position if pk in plan.teams else rr, v) for pk, (rr, v) in locked.items()}
    return _Handoff(config.token, positions, (loads, opened))


def _state_key(teams: dict[int, TeamState]) -> tuple:
    """Everything picking reads from the database, per team: equal keys, equal picks (open leads count in
    least-loaded teams only)."""
    return tuple(
        (
            pk,
            t.rr_read,
            t.today,
            tuple(
                (m.id, m.got_today, m.got_30, m.open_count if t.strategy == Strategy.LEAST_LOADED else None)
                for m in t.members
            ),
        )
        for pk, t in sorted(teams.items())
    )


def _merge(result: RouteResult, part: RouteResult) -> None:
    result.routed += part.routed
    result.unrouted += part.unrouted
    result.batches += part.batches
    result.decisions.extend(part.decisions)
    result.written.update(part.written)


def _route_overlapped(
    *,
    actor,
    ids: list[int] | None,
    seed: int,
    now: datetime.datetime | None,
    batch_size: int,
    keep: bool,
    notify: bool,
) -> RouteResult:
    """Bulk routing on PostgreSQL over two connections, batches taken in turn: while one batch writes
    and commits, the next one reads its leads (``SKIP LOCKED``, after the last lead of the batch ahead)
    and matches their rules. It then waits for the batch ahead to commit before it locks its teams and
    reads their counters, so the leads are handed out exactly as one batch after the other would."""
    result = RouteResult()
    relay = _Relay()

    def worker(first: int) -> None:
        try:
            batch = first
            while _route_relayed(
                batch,
                relay,
                result,
                actor=actor,
                ids=ids,
                seed=seed,
                now=now,
                size=batch_size,
                keep=keep,
                notify=notify,
            ):
                batch += OVERLAP_WORKERS
        except BaseException as exc:  # handed to the caller below
            relay.update(error=exc)
        finally:
            connections.close_all()  # this thread's connection

    threads = [
        threading.Thread(target=worker, args=(first,), name=f"routing-{first}") for first in range(OVERLAP_WORKERS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if relay.error is not None:
        raise relay.error
    return result


def _route_relayed(
    batch: int, relay: _Relay, result: RouteResult, *, actor, ids, seed, now, size, keep, notify
) -> bool:
    """Route overlapped batch number `batch`; False when there is no such batch.

    Once the batch ahead has picked (and published the state it will leave, `_Handoff`), this batch picks
    from that state and writes its decisions and leads at once, while the batch ahead writes and commits
    on the other connection. Then, under its team locks, it reads the counters: when they are the state
    it picked from, it writes the counters and commits; otherwise (another router moved them, or the
    batch ahead failed) it rolls its writes back and routes from the counters it read. Either way the
    leads are handed out exactly as one batch after the other would."""
    if not relay.wait(lambda: relay.read == batch - 1 or relay.last_read):
        return False
    if relay.last_read:  # a batch ahead was the last one
        return False
    after = relay.after
    published = False
    try:
        for _attempt in range(20):
            part = RouteResult()
            try:
                with transaction.atomic():
                    moment = now or timezone.now()
                    config = routing_config.load()
                    rows = _select_batch(lead_ids=ids, fields=list(config.fields), limit=size, after=after)
                    if not published:
                        relay.update(
                            read=batch, after=rows[-1] if rows else None, last_read=ids is not None or len(rows) < size
                        )
                        published = True
                    matched = _match(rows, config.rules)
                    if not relay.wait(lambda: relay.committed == batch - 1 or (batch - 1) in relay.handoffs):
                        return False
                    if not rows:
                        relay.wait(lambda: relay.committed == batch - 1)
                        return False
                    needed = {r.routing_team_id for r in matched if r is not None}
                    handoff = relay.handoffs.get(batch - 1)
                    routed = False
                    if (
                        handoff is not None
                        and relay.committed < batch - 1
                        and handoff.token == config.token
                        and needed <= handoff.locked.keys()
                    ):
                        routed = _route_ahead(
                            rows, matched, needed, handoff, relay, batch, part, config=config, actor=actor,
                            seed=seed, now=moment, keep=keep, notify=notify,
                        )  # fmt: skip
                    relay.wait(lambda: relay.committed == batch - 1)
                    if relay.error is not None:
                        return False  # nothing written (`_route_ahead` rolled its writes back)
                    if not routed:
                        locked = _lock_teams(needed)
                        _check_config_current(config, locked, needed)
                        counters = _read_counters(*_counter_keys(config, locked, moment))
                        teams = _team_states(config, locked, seed=seed, now=moment, counters=counters)
                        plan = _plan_rows(
                            rows, matched=matched, teams=teams, actor=actor, seed=seed, now=moment, result=part,
                            keep=keep,
                        )  # fmt: skip
                        relay.update(handoffs={**relay.handoffs, batch: _handoff(config, locked, counters, plan)})
                        _write_leads(plan)
                        _write_counters(plan, notify=notify)
                        if keep:
                            _keep_decisions(plan, part)
                    part.batches += 1
                with relay.merged:
                    _merge(result, part)
                return True
            except _ConfigMoved:
                continue
        raise RuntimeError("The routing configuration keeps changing; try again.")  # pragma: no cover
    finally:
        if not published:
            relay.update(read=batch, last_read=True)
        relay.update(committed=batch)


def _route_ahead(
    rows, matched, needed, handoff: _Handoff, relay: _Relay, batch: int, part: RouteResult, *, config, actor, seed,
    now, keep, notify,
) -> bool:  # fmt: skip
    """Pick and write a batch's leads from the state the batch ahead will leave (`handoff`) before that
    batch commits; True when the counters read under the team locks afterwards confirm that state (the
    batch is then complete), False after rolling the writes back (route the batch from what was read)."""
    predicted = {pk: handoff.locked[pk] for pk in needed}
    teams = _team_states(config, predicted, seed=seed, now=now, counters=handoff.counters)
    started_from = _state_key(teams)
    savepoint = transaction.savepoint_create()
    plan = _plan_rows(rows, matched=matched, teams=teams, actor=actor, seed=seed, now=now, result=part, keep=keep)
    relay.update(handoffs={**relay.handoffs, batch: _handoff(config, handoff.locked, handoff.counters, plan)})
    # No row another router locks is locked before the team locks: the open-lead trigger is told to
    # leave this UPDATE to `_add_open_leads` (migration 0009), which counts it after the locks.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL keyfit.ownerload_deferred TO on")
    _write_leads(plan)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL keyfit.ownerload_deferred TO off")
    # the batch ahead commits, or it will write its leads again: then roll back at once, releasing the
    # open-lead rows its UPDATE will need
    if not relay.wait(lambda: relay.committed == batch - 1 or (batch - 1) in relay.redo):
        transaction.savepoint_rollback(savepoint)
        return False
    if relay.committed != batch - 1:
        transaction.savepoint_rollback(savepoint)
        part.routed = part.unrouted = 0
        part.written.clear()
        return False
    locked = _lock_teams(needed)
    _check_config_current(config, locked, needed)
    counters = _read_counters(*_counter_keys(config, locked, now))
    if _state_key(_team_states(config, locked, seed=seed, now=now, counters=counters)) == started_from:
        _add_open_leads(plan.assigned_per_user)
        _write_counters(plan, notify=notify)
        if keep:
            _keep_decisions(plan, part)
        transaction.savepoint_commit(savepoint)
        return True
    relay.update(redo=relay.redo | {batch})
    transaction.savepoint_rollback(savepoint)
    part.routed = part.unrouted = 0
    part.written.clear()
    return False


def _pending_batch(
    ids: list[int] | None, batch_size: int, after: dict | None, now: datetime.datetime
) -> tuple[list[dict[str, Any]], list[RuleConfig | None], RoutingConfig, dict[int, tuple[int, int]], Counters | None]:
    """Group commit: take every routing team's lock first, then every lead waiting at that moment.
    Producers queued behind the locks find their leads already routed by the batch ahead of them (one
    short transaction each) instead of routing one lead apiece. The configuration is the one this
    process keeps, unless the teams' versions moved."""
    counters = None
    if connection.vendor == "postgresql" and ids is None and after is None:
        locked, rows, counters = _lock_all_and_read_pending(batch_size, now)
    else:
        locked = _lock_teams(None)
        rows = _select_batch(lead_ids=ids, fields=PENDING_FIELDS, limit=batch_size, after=after, pending=True)
    config = routing_config.kept(_token(locked))
    matched = _match(rows, config.rules)
    needed = {r.routing_team_id for r in matched if r is not None}
    return rows, matched, config, {pk: locked[pk] for pk in needed if pk in locked}, counters


# session-level advisory lock held by the producer routing the pending leads (PostgreSQL)
ONLINE_ROUTER_LOCK = 0x6B66_6C65_6164


def route_new_lead(*, actor, lead_id: int, seed: int = 0) -> RouteResult:
    """Online routing of a lead just taken in: routes it together with every other pending lead.

    On PostgreSQL, outside a caller's transaction, one producer at a time routes (it holds the advisory
    lock ``ONLINE_ROUTER_LOCK``); the others wait for it to finish, all at once, and leave if it placed
    their lead (the result then carries what was written to it, read in the same round trip as the wait),
    else the next one routes every lead waiting by then. When another worker's batch already holds the
    lead, wait for that batch to commit instead.
    """
    if shares_batches():
        _, result = _route_new_lead_grouped(actor=actor, seed=seed, lead_id=lead_id)
        return _after_grouped(lead_id, result)
    result = route_leads(actor=actor, seed=seed, pending=True, batch_size=500, waiting_for=lead_id)
    return _after_grouped(lead_id, result)


def take_in_and_route(*, actor, seed: int, intake_sql: str, intake_params: list) -> tuple[int, RouteResult]:
    """`route_new_lead` for a lead not yet stored, where intakes share batches (`shares_batches()`): the
    statement that inserts it (`intake_sql`, returning the new id as its first column), its commit and
    the wait for the online router (`keyfit_route_wait`, with the lead's id from its sequence) are one
    round trip. Returns the new lead's id and the routing result."""
    lead_id, result = _route_new_lead_grouped(actor=actor, seed=seed, intake=(intake_sql, intake_params))
    return lead_id, _after_grouped(lead_id, result)


def shares_batches() -> bool:
    """Whether intakes share the batches of one router holding the session lock: on PostgreSQL, outside
    a caller's transaction, unless session state cannot be relied on (a pooler in transaction mode,
    ``settings.ONLINE_ROUTER_SESSION_LOCK = False``); otherwise each intake routes the waiting leads in
    its own transaction (team locks, ``SKIP LOCKED``)."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and getattr(settings, "ONLINE_ROUTER_SESSION_LOCK", True)
    )


def _after_grouped(lead_id: int, result: RouteResult) -> RouteResult:
    """When the batch that routed did not hold the lead (another worker's batch does), wait for that
    batch to commit by locking the lead's row."""
    if lead_id in result.written and not result.decisions:  # placed by another producer's batch
        return result
    if not any(d["lead_id"] == lead_id for d in result.decisions) and connection.vendor == "postgresql":
        with transaction.atomic():
            list(Lead.objects.select_for_update().filter(pk=lead_id).values_list("pk", flat=True))
    return result


# the lead columns routing writes (`_write_assignments`), read back by a producer whose lead another
# producer's batch placed; `keyfit_route_wait` (migration 0011) returns them in this order
_WRITTEN_FIELDS = (
    "owner_id",
    "team_id",
    "assigned_at",
    "sla_due_at",
    "sla_breached_at",
    "route_requested",
    "updated_at",
)
# the wait for the online router (a function of migration 0011), for a given lead or for the lead this
# connection inserted last (in the pipeline of its intake)
_WAIT_SQL = (  # column names only
    f"SELECT leader, found_lead, {', '.join(_WRITTEN_FIELDS)} FROM keyfit_route_wait(%s::bigint, {{lead}})"  # noqa: S608
)
_WAIT_FOR_LEAD_SQL = _WAIT_SQL.format(lead="%s::bigint")
_WAIT_FOR_INSERTED_SQL = _WAIT_SQL.format(lead=f"currval(pg_get_serial_sequence('{Lead._meta.db_table}', 'id'))")


class _RouterLock:
    """The online router's session lock (`ONLINE_ROUTER_LOCK`) as this producer holds it: `held` is True
    or False, or None while a statement that may take it is unanswered."""

    def __init__(self) -> None:
        self.held: bool | None = False

    def commit_and_release(self) -> None:
        """Commit the batch and release the lock, as the last statements of its pipeline: the waiting
        producers wake once the batch is committed, with no round trip between the two."""
        with connection.cursor() as cursor:
            cursor.execute("COMMIT")  # the atomic block's own commit then finds nothing to do
        cursor = connection.cursor()
        cursor.execute("SELECT pg_advisory_unlock(%s)", [ONLINE_ROUTER_LOCK])

        def released(unlocked: bool) -> None:
            if unlocked:
                self.held = False

        _after_sync_value(cursor, released)

    def release(self) -> None:
        if self.held is not False:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ONLINE_ROUTER_LOCK])
            self.held = False


def _take_in_and_wait(intake: tuple[str, list], router: _RouterLock) -> tuple[int, tuple]:
    """Send the intake statement between BEGIN and COMMIT, then the wait for the router, in one pipeline:
    the lead is committed before its producer waits. (The new id, the wait's row.)"""
    sql, params = intake
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself (`connection` is looked up per access)
    router.held = None
    try:
        with conn.cursor() as control, _pipelined(True):
            control.execute("BEGIN")
            inserted = prepared_cursor()
            inserted.execute(sql, params)
            control.execute("COMMIT")
            waited = prepared_cursor()
            waited.execute(_WAIT_FOR_INSERTED_SQL, [ONLINE_ROUTER_LOCK])
    except Exception:
        # a failed insert leaves the BEGIN's transaction open and aborted (its COMMIT was skipped)
        from psycopg.pq import TransactionStatus

        raw = conn.connection  # None if the connection could not be opened
        if raw is not None and raw.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            with conn.cursor() as cursor:
                cursor.execute("ROLLBACK")
        raise
    with inserted, waited:
        lead_id = int(inserted.fetchone()[0])
        row = waited.fetchone()
    router.held = bool(row[0])
    return lead_id, row


def _route_new_lead_grouped(
    *, actor, seed: int, lead_id: int | None = None, intake: tuple[str, list] | None = None
) -> tuple[int, RouteResult]:
    """Route as the leader, or — once another leader's committed batch placed the lead — return a result
    with no decision whose `written` holds the lead's routing columns as that batch left them. With
    `intake`, the lead is inserted first in the same round trip as the wait. (The lead's id, the result.)"""
    router = _RouterLock()
    try:
        if intake is not None:
            lead_id, row = _take_in_and_wait(intake, router)
        else:
            with prepared_cursor() as cursor:
                router.held = None
                cursor.execute(_WAIT_FOR_LEAD_SQL, [ONLINE_ROUTER_LOCK, lead_id])
                row = cursor.fetchone()
            router.held = bool(row[0])
        if not router.held:
            done = RouteResult()
            if row[1]:  # the lead is there: what the batch wrote to it
                done.written[lead_id] = dict(zip(_WRITTEN_FIELDS, row[2:], strict=True))
            return lead_id, done
        routed = route_leads(actor=actor, seed=seed, pending=True, batch_size=500, waiting_for=lead_id, release=router)
        return lead_id, routed
    finally:
        router.release()


def reroute_breached(*, lead_rows: list[dict[str, Any]], now: datetime.datetime, seed: int = 0) -> RouteResult:
    """Re-assign SLA-breached leads inside their own team, never to the owner who missed the SLA."""
    result = RouteResult()
    if lead_rows:
        locked = _lock_teams({r["routing_team_id"] for r in lead_rows})
        config = routing_config.load()  # read under the locks: current
        teams = _team_states(config, locked, seed=seed, now=now)
        _route_rows(
            lead_rows,
            matched=None,
            teams=teams,
            actor=None,
            seed=seed,
            now=now,
            result=result,
            keep=True,
            notify=True,
            sla=True,
        )
    return result


def _route_rows(
    rows: list[dict[str, Any]],
    *,
    matched: list[RuleConfig | None] | None,
    teams: dict[int, TeamState],
    actor,
    seed: int,
    now: datetime.datetime,
    result: RouteResult,
    keep: bool,
    notify: bool,
    sla: bool = False,
    finish: Callable[[], None] | None = None,
) -> None:
    """Pick a member for every lead (`_plan_rows`) and write the batch: leads, decisions, counters. A
    pipelined batch sends `finish`'s statements last, in the same round trip."""
    plan = _plan_rows(
        rows, matched=matched, teams=teams, actor=actor, seed=seed, now=now, result=result, keep=keep, sla=sla
    )
    with _pipelined(len(rows) <= PIPELINE_MAX) as piped:
        _write_leads(plan)
        _write_counters(plan, notify=notify)
        if finish is not None and piped:
            finish()
    if keep:
        _keep_decisions(plan, result)


@dataclass
class _Plan:
    """A batch's picks, ready to write: the leads' new owners, the decisions, the leads left waiting."""

    updates: list[tuple[int, int, int, datetime.datetime]]
    decisions: list[tuple]
    unplaced: list[int]
    assigned_per_user: dict[int, int]
    teams: dict[int, TeamState]
    now: datetime.datetime
    actor_id: int | None
    seed: int
    batch: str
    sla: bool
    copy_text: Future | None


def _plan_rows(
    rows: list[dict[str, Any]],
    *,
    matched: list[RuleConfig | None] | None,
    teams: dict[int, TeamState],
    actor,
    seed: int,
    now: datetime.datetime,
    result: RouteResult,
    keep: bool,
    sla: bool = False,
) -> _Plan:
    """Pick the members in memory (the team states move on with each lead) and build the decisions; the
    decisions' COPY text of a large batch starts building in a thread."""
    updates: list[tuple[int, int, int, datetime.datetime]] = []
    decisions: list[tuple] = []
    assigned_per_user: dict[int, int] = defaultdict(int)
    kind_routed = str(DecisionKind.SLA if sla else DecisionKind.AUTO)
    kind_unrouted = str(DecisionKind.UNROUTED)
    outcomes: dict[tuple, _Outcome] = {}
    unplaced: list[int] = []
    written = result.written if keep else None
    for position, row in enumerate(rows):
        lead_id = row["id"]
        if sla:
            rule = None
            team = teams.get(row["routing_team_id"])
        else:
            rule = matched[position]
            team = teams.get(rule.routing_team_id) if rule is not None else None
        member = None
        preferred = False
        excluded = row.get("owner_id") if sla else None
        if team is not None:
            member, preferred = _pick(team, row, excluded)
            key = (rule.pk if rule else None, team.config.pk, member.id if member else None, preferred)
        else:
            key = ()
        outcome = outcomes.get(key)
        if outcome is None:
            outcome = outcomes[key] = _Outcome(_static_inputs(rule, team, member, preferred))
        quota_left = open_before = None
        if member is None:
            result.unrouted += 1
            if row.get("route_requested"):
                unplaced.append(lead_id)
            if written is not None:
                written[lead_id] = {"route_requested": False} if row.get("route_requested") else {}
            decisions.append(
                (
                    lead_id,
                    kind_unrouted,
                    outcome.rule_id,
                    outcome.team_id,
                    excluded,
                    None,
                    outcome,
                    row.get("priority"),
                    None,
                    None,
                    None,
                )
            )
            continue
        result.routed += 1
        member.got_today += 1
        member.got_30 += 1
        member.assigned_now += 1
        member.open_count += 1
        if member.max30 is not None:
            quota_left = member.remaining()
            if not quota_left:
                team.pool.remove(member)
        strategy = team.strategy
        if strategy == Strategy.ROUND_ROBIN:
            team.rr_position = member.index
        elif strategy == Strategy.LEAST_LOADED:
            open_before = member.open_count - 1
        team.changed = True
        if team.due is None:
            team.due = team.calendar.add_working_minutes(now, team.config.sla_minutes)
        team_id = team.config.team_id
        updates.append((lead_id, member.user_id, team_id, team.due))
        assigned_per_user[member.user_id] += 1
        if written is not None:
            written[lead_id] = {
                "owner_id": member.user_id,
                "team_id": team_id,
                "assigned_at": now,
                "sla_due_at": team.due,
                "sla_breached_at": None,
                "route_requested": False,
                "updated_at": now,
            }
        decisions.append(
            (
                lead_id,
                kind_routed,
                outcome.rule_id,
                team_id,
                excluded,
                member.user_id,
                outcome,
                row.get("priority"),
                quota_left,
                open_before,
                excluded,
            )
        )
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    batch = uuid.uuid4().hex[:16]
    copy_text = None
    if connection.vendor == "postgresql" and len(decisions) > COPY_DECISIONS_MIN:
        # the decisions' COPY text is built in a thread while the database updates the leads
        executor = ThreadPoolExecutor(max_workers=1)
        copy_text = executor.submit(_decision_copy_text, decisions, now, actor_id, seed, batch)
        executor.shutdown(wait=False)
    return _Plan(updates, decisions, unplaced, assigned_per_user, teams, now, actor_id, seed, batch, sla, copy_text)


def _write_leads(plan: _Plan) -> None:
    """Write what the batch decided for its leads: owners, the leads left waiting, the decisions."""
    _write_assignments(plan.updates, now=plan.now)
    if plan.unplaced:
        _execute(
            f"UPDATE {Lead._meta.db_table} SET route_requested = FALSE "  # noqa: S608
            f"WHERE id IN ({', '.join(['%s'] * len(plan.unplaced))})",
            plan.unplaced,
        )
    _write_plan_decisions(plan)


def _add_open_leads(assigned_per_user: dict[int, int]) -> None:
    """Count new leads in their owners' open leads (`OwnerLoad`) as the trigger would have, for a leads
    UPDATE it was told to leave alone (the leads were open and unowned before)."""
    rows = sorted((int(user), int(n)) for user, n in assigned_per_user.items() if n)
    if rows:
        table = OwnerLoad._meta.db_table
        _execute(
            f"INSERT INTO {table} AS o (user_id, open_leads) VALUES {', '.join(['(%s, %s)'] * len(rows))} "  # noqa: S608
            "ON CONFLICT (user_id) DO UPDATE SET open_leads = o.open_leads + excluded.open_leads",
            [v for row in rows for v in row],
        )


def _write_plan_decisions(plan: _Plan) -> None:
    _write_decisions(
        plan.decisions, now=plan.now, actor_id=plan.actor_id, seed=plan.seed, batch=plan.batch, copy_text=plan.copy_text
    )


def _write_counters(plan: _Plan, *, notify: bool) -> None:
    """Write the teams' counters the batch moved (quota counters, round-robin positions; the open leads
    per owner follow the leads by trigger) and notify the new owners."""
    _write_loads(plan.teams)
    _write_round_robin(plan.teams)
    if notify and plan.assigned_per_user:
        _notify_assigned(plan.assigned_per_user, plan.updates, now=plan.now, sla=plan.sla)


def _keep_decisions(plan: _Plan, result: RouteResult) -> None:
    result.decisions.extend(
        {
            "lead_id": d[0],
            "kind": d[1],
            "owner_id": d[5],
            "team_id": d[3],
            "rule_id": d[2],
            "reason": f"lead {d[0]}{d[6].tail(d[8], d[9], d[10]).raw}",
        }
        for d in plan.decisions
    )


def _static_inputs(
    rule: RuleConfig | None, team: TeamState | None, member: MemberState | None, preferred: bool
) -> dict:
    """The inputs of a decision that every lead sent the same way shares (`_Outcome`)."""
    if team is None:
        return {"code": "no_rule"}
    info: dict[str, Any] = {
        "rule": rule.pk if rule else None,
        "rule_name": rule.name if rule else "",
        "team": team.config.team_id,
        "team_name": team.config.team_name,
        "strategy": str(team.strategy),
    }
    if member is None:
        info["code"] = "no_member"
        return info
    info.update(code="assigned", member=member.name, member_id=member.user_id, preferred=preferred)
    if member.max30 is not None:
        info["quota_day"] = member.day_quota
    return info


# COPY's text format: backslash, tab, newline and carriage return are escaped; \N is NULL
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class _Text(NamedTuple):
    raw: str
    copy: str  # escaped for COPY

    @classmethod
    def of(cls, raw: str) -> "_Text":
        if "\\" in raw or "\t" in raw or "\n" in raw or "\r" in raw:  # rare; translate() is slow
            return cls(raw, raw.translate(_COPY_ESCAPES))
        return cls(raw, raw)


class _Outcome:
    """What the decisions of every lead sent the same way (rule, team, member, preferred) share: the
    static inputs, their JSON text, and the reasons (which differ only by quota left and open count).
    The per-lead inputs (priority, quota left, open leads, excluded owner) are added to the JSON text."""

    __slots__ = ("_tails", "head", "info", "rule_id", "team_id")

    def __init__(self, info: dict[str, Any]):
        self.info = info
        self.rule_id = info.get("rule")
        self.team_id = info.get("team")
        self.head = _Text.of(json.dumps(info, separators=(",", ":"))[:-1])
        self._tails: dict[tuple, _Text] = {}

    def tail(self, quota_left: int | None, open_before: int | None, excluded: int | None) -> _Text:
        key = (quota_left, open_before, excluded)
        text = self._tails.get(key)
        if text is None:
            d = dict(self.info)
            if quota_left is not None:
                d["quota_left"] = quota_left
            if open_before is not None:
                d["open"] = open_before
            if excluded is not None:
                d["excluded"] = excluded
            text = self._tails[key] = _Text.of(_reason_tail(d))
        return text


def _inputs_tail(priority: int | None, quota_left: int | None, open_before: int | None, excluded: int | None) -> str:
    """The per-lead end of a decision's inputs JSON (after `_Outcome.head`); integers only."""
    text = ',"priority":' + ("null" if priority is None else str(int(priority)))
    if quota_left is not None:
        text += f',"quota_left":{int(quota_left)}'
    if open_before is not None:
        text += f',"open":{int(open_before)}'
    if excluded is not None:
        text += f',"excluded":{int(excluded)}'
    return text + "}"


def _copy_value(value: Any) -> str:
    return "\\N" if value is None else str(value)


# batches up to this size (online routing) send their writes in one PostgreSQL pipeline; larger ones COPY
PIPELINE_MAX = 50


# the callbacks to run once the open pipeline has been synced (`_pipelined`), per thread
_pipeline = threading.local()


@contextmanager
def _pipelined(small: bool):
    """Send the statements of the block without waiting for each answer (psycopg's pipeline mode) on
    PostgreSQL: the writes of an online batch cost one round trip while the team locks are held. A
    statement whose answer is needed registers what reads it with `_after_sync`, which runs once the
    answers are in (reading it inside the block would cost a round trip of its own)."""
    if small and connection.vendor == "postgresql":
        connection.ensure_connection()
        _pipeline.after_sync = after = []
        try:  # errors as Django's: the pipeline raises them at its sync, outside any Django cursor
            with connection.wrap_database_errors, connection.connection.pipeline():
                yield True
        finally:
            _pipeline.after_sync = None
        for callback in after:
            callback()
    else:
        yield False


def _after_sync(callback: Callable[[], None]) -> None:
    """Run `callback` once the statements sent so far have been answered: at once outside a pipeline,
    else when the pipeline of `_pipelined` is synced (not when it fails)."""
    pending = getattr(_pipeline, "after_sync", None)
    if pending is None:
        callback()
    else:
        pending.append(callback)


def _after_sync_value(cursor, use: Callable[[Any], None]) -> None:
    """Once `cursor`'s statement is answered (`_after_sync`): the first column of its row to `use`, the
    cursor closed."""

    def read() -> None:
        try:
            value = cursor.fetchone()[0]
        finally:
            cursor.close()
        use(value)

    _after_sync(read)


def _execute(sql: str, params: list, *, prepared: bool = False) -> None:
    """Run a write; with `prepared`, a statement of one fixed text (its rows as one JSON parameter, every
    parameter cast) prepared once per connection where `prepared_cursor` prepares."""
    with prepared_cursor() if prepared else connection.cursor() as cursor:
        cursor.execute(sql, params)


def _write_assignments(updates: list[tuple[int, int, int, datetime.datetime]], *, now: datetime.datetime) -> None:
    if not updates:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(updates) > 50:
            # COPY the assignments into a temporary table, then one joined UPDATE (no per-row SQL)
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS leads_routing_batch "
                "(id bigint PRIMARY KEY, owner_id bigint, team_id bigint, due timestamptz) ON COMMIT DELETE ROWS"
            )
            ends: dict[tuple, str] = {}
            lines = []
            for lead_id, owner_id, team_id, due in updates:
                end = ends.get((owner_id, team_id, due))
                if end is None:
                    end = ends[owner_id, team_id, due] = f"\t{int(owner_id)}\t{int(team_id)}\t{due.isoformat()}\n"
                lines.append(f"{int(lead_id)}{end}")
            with cursor.cursor.copy("COPY leads_routing_batch (id, owner_id, team_id, due) FROM STDIN") as copy:
                copy.write("".join(lines))
            cursor.execute(
                """UPDATE leads_lead AS l SET owner_id = v.owner_id, team_id = v.team_id, assigned_at = %s,
                   sla_due_at = v.due, sla_breached_at = NULL, route_requested = FALSE, updated_at = %s
                   FROM leads_routing_batch AS v WHERE l.id = v.id""",
                [now, now],
            )
            cursor.execute("TRUNCATE leads_routing_batch")
        elif connection.vendor == "postgresql":
            # one statement text for any number of leads (the rows as one JSON parameter): prepared once
            _execute(
                "UPDATE leads_lead AS l SET owner_id = v.owner_id, team_id = v.team_id, "  # noqa: S608 - typed names
                "assigned_at = %s::timestamptz, sla_due_at = v.due, sla_breached_at = NULL, "
                "route_requested = FALSE, updated_at = %s::timestamptz "
                f"FROM {_recordset('id bigint, owner_id bigint, team_id bigint, due timestamptz')} "
                "WHERE l.id = v.id",
                [now, now, _json_rows(("id", "owner_id", "team_id", "due"), updates)],
                prepared=True,
            )
        else:
            adapt = connection.ops.adapt_datetimefield_value
            stamp = adapt(now)
            cursor.executemany(
                "UPDATE leads_lead SET owner_id = %s, team_id = %s, assigned_at = %s, sla_due_at = %s, "
                "sla_breached_at = NULL, route_requested = FALSE, updated_at = %s WHERE id = %s",
                [(u[1], u[2], stamp, adapt(u[3]), stamp, u[0]) for u in updates],
            )


def _write_loads(teams: dict[int, TeamState]) -> None:
    """Today's quota counter of every member this batch gave leads to (read under the team locks, so
    the new value is the old one plus this batch's)."""
    rows = [(m.id, t.today, m.got_today) for t in teams.values() for m in t.members if m.assigned_now]
    if rows and connection.vendor == "postgresql":
        _execute(
            f"INSERT INTO {MemberLoad._meta.db_table} (member_id, day, assigned) "  # noqa: S608
            f"SELECT * FROM {_recordset('member_id bigint, day date, assigned integer')} "
            "ON CONFLICT (member_id, day) DO UPDATE SET assigned = excluded.assigned",
            [_json_rows(("member_id", "day", "assigned"), rows)],
            prepared=True,
        )
    elif rows:
        adapt = connection.ops.adapt_datefield_value
        _execute(
            f"INSERT INTO {MemberLoad._meta.db_table} (member_id, day, assigned) "  # noqa: S608
            f"VALUES {', '.join(['(%s, %s, %s)'] * len(rows))} "
            "ON CONFLICT (member_id, day) DO UPDATE SET assigned = excluded.assigned",
            [v for member, day, n in rows for v in (member, adapt(day), n)],
        )


def _write_round_robin(teams: dict[int, TeamState]) -> None:
    postgres = connection.vendor == "postgresql"
    sql = (  # typed parameters where the statement is prepared
        "UPDATE leads_routingteam SET rr_position = %s::integer WHERE id = %s::bigint"
        if postgres
        else "UPDATE leads_routingteam SET rr_position = %s WHERE id = %s"
    )
    for t in teams.values():
        if t.changed and t.strategy == Strategy.ROUND_ROBIN and t.rr_position != t.rr_read:
            _execute(sql, [t.rr_position, t.config.pk], prepared=postgres)


_DECISION_COLUMNS = (
    "lead_id",
    "at",
    "kind",
    "rule_id",
    "team_id",
    "from_owner_id",
    "to_owner_id",
    "actor_id",
    "reason",
    "inputs",
    "seed",
    "batch",
)


COPY_DECISIONS_MIN = 200  # more decisions than this are COPYed (PostgreSQL)


# the varying columns of a few decisions, as `_write_decisions` sends them (one JSON row each)
_DECISION_ROW = ("lead_id", "kind", "rule_id", "team_id", "from_id", "to_id", "reason", "inputs")


def _decisions_sql() -> str:
    """The INSERT of a few decisions on PostgreSQL: one text whatever their number (the varying columns as
    one JSON parameter), parameters: at, actor, seed, batch, then the rows of `_write_decisions`."""
    table = RoutingDecision._meta.db_table
    rows = _recordset(
        "lead_id bigint, kind text, rule_id bigint, team_id bigint, from_id bigint, to_id bigint, reason text, "
        "inputs text"
    )
    return (
        f"INSERT INTO {table} ({', '.join(_DECISION_COLUMNS)}) "  # noqa: S608 - names only
        "SELECT v.lead_id, p.at, v.kind, v.rule_id, v.team_id, v.from_id, v.to_id, p.actor, v.reason, "
        "v.inputs::jsonb, p.seed, p.batch "
        "FROM (SELECT %s::timestamptz AS at, %s::bigint AS actor, %s::bigint AS seed, %s::text AS batch) AS p, "
        f"{rows}"
    )


def _json_rows(names: tuple[str, ...], rows: Iterable[tuple]) -> str:
    """Rows as the one parameter of `_recordset`: a statement of one text whatever their number, and the
    rows are parsed by the database (psycopg binding them as typed arrays cost the router more Python
    than the rest of the statement)."""
    return json.dumps([dict(zip(names, row, strict=True)) for row in rows], ensure_ascii=False, default=json_default)


def _recordset(columns: str) -> str:
    """The rows of one JSON parameter (`_json_rows`) as a table ``v`` with the given typed columns."""
    return f"json_to_recordset(%s::json) AS v ({columns})"


def _decision_copy_text(
    decisions: list[tuple], now: datetime.datetime, actor_id: int | None, seed: int, batch: str
) -> str:
    """The decisions as COPY text. Pure Python: a large batch builds it in a thread while the database
    runs the batch's UPDATE of the leads."""
    constant_end = f"\t{int(seed)}\t{batch.translate(_COPY_ESCAPES)}\n"
    at = now.isoformat()
    actor = _copy_value(actor_id)
    # kind, rule, team, previous and new owner, actor: the same for every lead sent the same way
    middles: dict[tuple, str] = {}
    lines = []
    for lead_id, kind, rule_id, team_id, from_id, to_id, outcome, priority, left, open_before, excluded in decisions:
        key = (id(outcome), kind, from_id, to_id)
        middle = middles.get(key)
        if middle is None:
            middle = middles[key] = (
                f"\t{at}\t{kind}\t{_copy_value(rule_id)}\t{_copy_value(team_id)}\t"
                f"{_copy_value(from_id)}\t{_copy_value(to_id)}\t{actor}\tlead "
            )
        lines.append(
            f"{int(lead_id)}{middle}{int(lead_id)}{outcome.tail(left, open_before, excluded).copy}\t"
            f"{outcome.head.copy}{_inputs_tail(priority, left, open_before, excluded)}{constant_end}"
        )
    return "".join(lines)


def _write_decisions(
    decisions: list[tuple],
    *,
    now: datetime.datetime,
    actor_id: int | None,
    seed: int,
    batch: str,
    copy_text: Future | None = None,
) -> None:
    """Store the decisions built by `_route_rows`: (lead, kind, rule, team, from owner, to owner, outcome,
    priority, quota left, open leads, excluded owner)."""
    if not decisions:
        return
    if connection.vendor == "postgresql" and len(decisions) > COPY_DECISIONS_MIN:
        text = (
            copy_text.result() if copy_text is not None else _decision_copy_text(decisions, now, actor_id, seed, batch)
        )
        table = RoutingDecision._meta.db_table
        columns = ", ".join(_DECISION_COLUMNS)
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(text)
        return
    if connection.vendor == "postgresql":  # a few rows: one INSERT of one text (prepared), no ids asked back
        # (lead, kind, rule, team, from owner, to owner, outcome, priority, quota left, open leads, excluded)
        rows = [
            (*d[:6], f"lead {d[0]}{d[6].tail(d[8], d[9], d[10]).raw}", d[6].head.raw + _inputs_tail(*d[7:11]))
            for d in decisions
        ]
        _execute(_decisions_sql(), [now, actor_id, seed, batch, _json_rows(_DECISION_ROW, rows)], prepared=True)
        return
    RoutingDecision.objects.bulk_create(
        [
            RoutingDecision(
                lead_id=lead_id,
                at=now,
                kind=kind,
                rule_id=rule_id,
                team_id=team_id,
                from_owner_id=from_id,
                to_owner_id=to_id,
                actor_id=actor_id,
                reason=f"lead {lead_id}{outcome.tail(left, open_before, excluded).raw}",
                inputs=json.loads(outcome.head.raw + _inputs_tail(priority, left, open_before, excluded)),
                seed=seed,
                batch=batch,
            )
            for lead_id, kind, rule_id, team_id, from_id, to_id, outcome, priority, left, open_before, excluded in decisions
        ],
        batch_size=2000,
    )


def _notify_assigned(per_user: dict[int, int], updates, *, now: datetime.datetime, sla: bool) -> None:
    first_lead: dict[int, int] = {}
    for lead_id, user_id, _team_id, _due in updates:
        first_lead.setdefault(user_id, lead_id)
    notes = []
    for user_id, count in per_user.items():
        if count == 1:
            message = f"lead {first_lead[user_id]} was assigned to you"
        else:
            message = f"{count} leads were assigned to you"
        if sla:
            message += " (first-touch SLA breached by the previous owner)"
        # (user, kind, lead, count, message, created at): the columns `_notify_in_one_statement` writes
        notes.append((user_id, str(NotificationKind.ASSIGNED), first_lead[user_id], count, message, now))
    from keyfit.leads.tasks import send_lead_notifications

    if _notify_in_one_statement(notes, send_lead_notifications):
        return
    created = Notification.objects.bulk_create(
        [
            Notification(user_id=user_id, kind=kind, lead_id=lead_id, count=count, message=message, created_at=at)
            for user_id, kind, lead_id, count, message, at in notes
        ]
    )
    ids = [n.pk for n in created if n.pk]
    if ids:
        if _tasks_in_database(send_lead_notifications):
            # a database queue: the task row commits with the routing transaction (atomically, and
            # without a second synchronous commit per routing batch)
            send_lead_notifications.enqueue(notification_ids=ids)
        else:
            transaction.on_commit(lambda: send_lead_notifications.enqueue(notification_ids=ids))


def _tasks_in_database(task) -> bool:
    try:
        from django_tasks_db.backend import DatabaseBackend
    except ImportError:  # pragma: no cover
        return False
    return isinstance(task.get_backend(), DatabaseBackend)


_NOTE_COLUMNS = ("user_id", "kind", "lead_id", "count", "message", "created_at")
_NOTIFY_SQL: tuple[str, list] | None = None


def _notify_sql(task_model) -> tuple[str, list]:
    """The statement of `_notify_in_one_statement` and the task row's fields it binds, built once per
    process (only table and column names and types go in)."""
    global _NOTIFY_SQL
    if _NOTIFY_SQL is None:
        fields = [f for f in task_model._meta.concrete_fields if f.name != "args_kwargs"]
        qn = connection.ops.quote_name
        typed = "user_id bigint, kind text, lead_id bigint, count integer, message text, created_at timestamptz"
        sql = (
            f"WITH n AS (INSERT INTO {Notification._meta.db_table} ({', '.join(_NOTE_COLUMNS)}) "  # noqa: S608
            f"SELECT * FROM {_recordset(typed)} RETURNING id) "
            f"INSERT INTO {qn(task_model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}, args_kwargs) "
            # each value cast to its column's type: the statement is prepared (server-side binding)
            f"SELECT {', '.join(f'%s::{f.db_type(connection)}' for f in fields)}, jsonb_build_object('args', "
            "'[]'::jsonb, 'kwargs', jsonb_build_object('notification_ids', (SELECT jsonb_agg(id ORDER BY id) "
            "FROM n))) RETURNING args_kwargs"
        )
        _NOTIFY_SQL = (sql, fields)
    return _NOTIFY_SQL


def _notify_in_one_statement(notes: list[tuple], task) -> bool:
    """PostgreSQL with the database task queue: insert the notifications and the row of the task that
    e-mails them in one statement (the task's arguments, the new notifications' ids, are built by the
    database) — what ``bulk_create`` and ``task.enqueue(notification_ids=…)`` write in two. False (nothing
    done) on other databases or task backends, or with a custom task id function."""
    if connection.vendor != "postgresql" or not notes or not _tasks_in_database(task):
        return False
    backend = task.get_backend()
    if backend.options.get("id_function"):
        return False
    from django.db.models.signals import post_save, pre_save
    from django.tasks.signals import task_enqueued
    from django_tasks_db.models import DBTaskResult

    backend.validate_task(task)
    row = DBTaskResult(
        id=DBTaskResult._meta.pk.get_default(),
        args_kwargs={"args": [], "kwargs": {"notification_ids": []}},
        priority=task.priority,
        task_path=task.module_path,
        queue_name=task.queue_name,
        run_after=task.run_after,
        backend_name=backend.alias,
    )
    pre_save.send(sender=DBTaskResult, instance=row, raw=False, using=connection.alias, update_fields=None)
    sql, fields = _notify_sql(DBTaskResult)
    # the notes as one JSON parameter (one statement text for any number of them); the task row's values
    params: list[Any] = [_json_rows(_NOTE_COLUMNS, notes)]
    params += [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]
    cursor = prepared_cursor()
    cursor.execute(sql, params)

    def enqueued(args_kwargs) -> None:
        row.args_kwargs = json.loads(args_kwargs) if isinstance(args_kwargs, str) else args_kwargs
        row._state.adding = False
        row._state.db = connection.alias
        post_save.send(
            sender=DBTaskResult, instance=row, created=True, update_fields=None, raw=False, using=connection.alias
        )
        task_enqueued.send(type(backend), task_result=row.task_result)

    _after_sync_value(cursor, enqueued)
    return True
