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
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from keyfit.leads.calendar import Calendar
from keyfit.leads.choices import OPEN_STATUSES, DecisionKind, NotificationKind, Strategy
from keyfit.leads.conditions import VALUE_FIELDS, compile_all
from keyfit.leads.models import Lead, MemberLoad, Notification, RoutingDecision, RoutingMember, RoutingRule, RoutingTeam

DEFAULT_BATCH = 5000
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
    routing_team: RoutingTeam
    members: list[MemberState]
    tie_rank: dict[int, int]
    calendar: Calendar
    today: datetime.date
    rr_position: int
    has_preferences: bool
    # the members any strategy may still pick (not paused, quota left), in member order: kept up to date
    # as quotas run out, so picking never re-tests every member
    pool: list[MemberState] = field(default_factory=list)
    due: datetime.datetime | None = None
    changed: bool = False

    @property
    def strategy(self) -> str:
        return self.routing_team.strategy


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


def _load_teams(team_ids: Iterable[int], *, seed: int, now: datetime.datetime) -> dict[int, TeamState]:
    team_ids = sorted(set(team_ids))
    if not team_ids:
        return {}
    teams = list(
        RoutingTeam.objects.select_for_update(of=("self",))
        .select_related("team", "calendar")
        .prefetch_related("calendar__exceptions")
        .filter(pk__in=team_ids)
        .order_by("id")
    )
    members = list(
        RoutingMember.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(routing_team__in=team_ids, user__is_active=True)
        .order_by("id")
    )
    by_team: dict[int, list[RoutingMember]] = defaultdict(list)
    for m in sorted(members, key=lambda m: (m.position, m.id)):
        by_team[m.routing_team_id].append(m)
    # Open-lead counts of the least-loaded teams' members, read under the locks (the members of those
    # teams come from the locked rows: no separate query for them)
    least_loaded = {t.id for t in teams if t.strategy == Strategy.LEAST_LOADED}
    least_loaded_users = {m.user_id for m in members if m.routing_team_id in least_loaded}
    open_counts = _open_counts(least_loaded_users)
    calendars = {t.id: Calendar.from_model(t.calendar) for t in teams}
    todays = {t.id: calendars[t.id].local_date(now) for t in teams}
    oldest = min(todays.values()) - datetime.timedelta(days=29)
    loads: dict[int, list[tuple[datetime.date, int]]] = defaultdict(list)
    for member_id, day, assigned in MemberLoad.objects.filter(
        member__in=[m.id for m in members], day__gte=oldest
    ).values_list("member_id", "day", "assigned"):
        loads[member_id].append((day, assigned))
    states: dict[int, TeamState] = {}
    for t in teams:
        today = todays[t.id]
        first_day = today - datetime.timedelta(days=29)
        ms: list[MemberState] = []
        for index, m in enumerate(by_team.get(t.id, [])):
            rows = loads.get(m.id, [])
            ms.append(
                MemberState(
                    id=m.id,
                    user_id=m.user_id,
                    name=m.user.display_name,
                    index=index,
                    paused=m.paused,
                    max30=m.max_per_30_days,
                    prefers=compile_all(m.preferred_filters) if m.preferred_filters else None,
                    got_today=sum(n for d, n in rows if d == today),
                    got_30=sum(n for d, n in rows if first_day <= d <= today),
                    open_count=open_counts.get(m.user_id, 0),
                )
            )
        order = [m.id for m in ms]
        random.Random(f"{seed}:{t.id}").shuffle(order)
        states[t.id] = TeamState(
            routing_team=t,
            members=ms,
            tie_rank={mid: i for i, mid in enumerate(order)},
            calendar=calendars[t.id],
            today=today,
            rr_position=t.rr_position if -1 <= t.rr_position < max(len(ms), 1) else -1,
            has_preferences=any(m.prefers is not None for m in ms),
            pool=[m for m in ms if m.available()],
        )
    return states


def _open_counts(user_ids: set[int]) -> dict[int, int]:
    """The open leads (new, screening, qualified; not merged) of each user, in one round trip.

    Counted as all open leads by owner and status (an index-only scan of ``lead_queue_idx``) minus the
    open ones among merged leads (the small partial index of merged leads): filtering on ``merged_into``
    directly would visit every open lead's row.
    """
    if not user_ids:
        return {}
    users = sorted(user_ids)
    statuses = [str(s) for s in OPEN_STATUSES]
    owner_in = ", ".join(["%s"] * len(users))
    status_in = ", ".join(["%s"] * len(statuses))
    table = Lead._meta.db_table
    sql = (  # only placeholders and the table name are formatted in
        f"SELECT owner_id, COUNT(*) FROM {table} WHERE owner_id IN ({owner_in}) AND status IN ({status_in}) "  # noqa: S608
        f"GROUP BY owner_id UNION ALL "
        f"SELECT owner_id, -COUNT(*) FROM {table} WHERE merged_into_id IS NOT NULL AND owner_id IN ({owner_in}) "
        f"AND status IN ({status_in}) GROUP BY owner_id"
    )
    counts: dict[int, int] = defaultdict(int)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*users, *statuses, *users, *statuses])
        for owner_id, n in cursor.fetchall():
            counts[owner_id] += n
    return dict(counts)


_ROW_FIELDS = {"id", "priority", "created_at", "owner_id", "team_id", "route_requested"}
# online batches are small: read every field a condition may test instead of asking which are used
PENDING_FIELDS = sorted(_ROW_FIELDS | set(VALUE_FIELDS))


def _lock_all_teams() -> None:
    """Relax the commit (see `_relax_commit`) and lock every routing team in id order (the order every
    routing transaction locks them in), in one round trip."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SET LOCAL synchronous_commit TO OFF; SELECT id FROM leads_routingteam ORDER BY id FOR UPDATE"
            )
    else:
        _relax_commit()


def _fields_needed(rules: list[RoutingRule]) -> list[str]:
    names = set(_ROW_FIELDS)
    conds = [c for r in rules for c in r.conditions or []]
    conds += [
        c
        for m in RoutingMember.objects.exclude(preferred_filters=[]).values_list("preferred_filters", flat=True)
        for c in m
    ]
    for c in conds:
        names.add("custom_fields" if c["field"].startswith("cf.") else c["field"])
    return sorted(names)


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
    return list(qs.order_by("-priority", "created_at", "id").values(*fields)[:limit])


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
) -> RouteResult:
    """Route the unassigned open leads (all, or those in `lead_ids`), highest priority first.

    With `pending`, route every lead whose intake asked to be routed (`route_requested`) and that no
    other worker holds: concurrent producers then share batches instead of queueing one lead at a time.
    With `waiting_for` (a pending lead's id), route only while that lead is still waiting: a producer
    whose lead the batch ahead of it placed leaves the leads it sees to their own producers, queued
    behind it, who route them together.
    """
    result = RouteResult()
    ids = None if lead_ids is None else sorted({int(i) for i in lead_ids})
    after = None
    while True:
        with transaction.atomic():
            if not pending:
                _relax_commit()
            moment = now or timezone.now()
            if pending:
                # Group commit: take the routing teams' locks first, then every lead waiting at that
                # moment. Producers queued behind the locks find their leads already routed by the
                # batch ahead of them (one short transaction each) instead of routing one lead apiece.
                _lock_all_teams()
                rows = _select_batch(lead_ids=ids, fields=PENDING_FIELDS, limit=batch_size, after=after, pending=True)
                if (
                    waiting_for is not None
                    and len(rows) < batch_size
                    and not any(row["id"] == waiting_for for row in rows)
                ):
                    break
                if not rows:
                    break
            rules = list(
                RoutingRule.objects.filter(active=True).select_related("routing_team__team").order_by("position", "id")
            )
            if not pending:
                rows = _select_batch(lead_ids=ids, fields=_fields_needed(rules), limit=batch_size, after=after)
            if not rows:
                break
            _route_rows(
                rows, rules=rules, actor=actor, seed=seed, now=moment, result=result, keep=keep_decisions, notify=notify
            )
            result.batches += 1
        if ids is not None or len(rows) < batch_size:
            break
        after = rows[-1]
    return result


# session-level advisory lock held by the producer routing the pending leads (PostgreSQL)
ONLINE_ROUTER_LOCK = 0x6B66_6C65_6164


def route_new_lead(*, actor, lead_id: int, seed: int = 0) -> RouteResult:
    """Online routing of a lead just taken in: routes it together with every other pending lead.

    On PostgreSQL, outside a caller's transaction, one producer at a time routes (it holds the advisory
    lock ``ONLINE_ROUTER_LOCK``); the others wait for it to finish, all at once, and leave if it placed
    their lead, else the next one routes every lead waiting by then. When another worker's batch
    already holds the lead, wait for that batch to commit instead.
    """
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        result = _route_new_lead_grouped(actor=actor, lead_id=lead_id, seed=seed)
        if result is None:  # placed by another producer's batch, committed
            return RouteResult()
    else:
        result = route_leads(actor=actor, seed=seed, pending=True, batch_size=500, waiting_for=lead_id)
    if not any(d["lead_id"] == lead_id for d in result.decisions) and connection.vendor == "postgresql":
        with transaction.atomic():
            list(Lead.objects.select_for_update().filter(pk=lead_id).values_list("pk", flat=True))
    return result


def _route_new_lead_grouped(*, actor, lead_id: int, seed: int) -> RouteResult | None:
    """Route as the leader, or return None once another leader's committed batch placed the lead."""
    waiting = Lead.objects.filter(pk=lead_id, route_requested=True, owner__isnull=True, merged_into__isnull=True)
    with connection.cursor() as cursor:
        for _attempt in range(50):
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ONLINE_ROUTER_LOCK])
            if cursor.fetchone()[0]:
                break
            # another producer is routing: wait until it is done (every waiter wakes at once; the
            # shared lock is released in the same round trip), then see whether it took our lead
            cursor.execute(
                "SELECT pg_advisory_lock_shared(%s); SELECT pg_advisory_unlock_shared(%s)",
                [ONLINE_ROUTER_LOCK, ONLINE_ROUTER_LOCK],
            )
            if not waiting.exists():
                return None
        else:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ONLINE_ROUTER_LOCK])
        try:
            return route_leads(actor=actor, seed=seed, pending=True, batch_size=500, waiting_for=lead_id)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ONLINE_ROUTER_LOCK])


def reroute_breached(*, lead_rows: list[dict[str, Any]], now: datetime.datetime, seed: int = 0) -> RouteResult:
    """Re-assign SLA-breached leads inside their own team, never to the owner who missed the SLA."""
    result = RouteResult()
    if lead_rows:
        _relax_commit()
        _route_rows(
            lead_rows, rules=[], actor=None, seed=seed, now=now, result=result, keep=True, notify=True, sla=True
        )
    return result


def _route_rows(
    rows: list[dict[str, Any]],
    *,
    rules: list[RoutingRule],
    actor,
    seed: int,
    now: datetime.datetime,
    result: RouteResult,
    keep: bool,
    notify: bool,
    sla: bool = False,
) -> None:
    compiled = [(r, compile_all(r.conditions or [])) for r in rules]
    # first pass: the rule of every lead (rules need no state); only the teams used are then locked
    matched: list[RoutingRule | None] = []
    if not sla:
        for row in rows:
            for candidate, test in compiled:
                if test(row):
                    matched.append(candidate)
                    break
            else:
                matched.append(None)
        team_ids = {r.routing_team_id for r in matched if r is not None}
    else:
        team_ids = {r["routing_team_id"] for r in rows}
    teams = _load_teams(team_ids, seed=seed, now=now)
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
            key = (rule.pk if rule else None, team.routing_team.pk, member.id if member else None, preferred)
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
            team.due = team.calendar.add_working_minutes(now, team.routing_team.sla_minutes)
        team_id = team.routing_team.team_id
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
    _write_assignments(updates, now=now)
    if unplaced:
        Lead.objects.filter(pk__in=unplaced).update(route_requested=False)
    _write_loads(teams)
    _write_round_robin(teams)
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    _write_decisions(decisions, now=now, actor_id=actor_id, seed=seed, batch=uuid.uuid4().hex[:16])
    if keep:
        result.decisions.extend(
            {
                "lead_id": d[0],
                "kind": d[1],
                "owner_id": d[5],
                "team_id": d[3],
                "rule_id": d[2],
                "reason": f"lead {d[0]}{d[6].tail(d[8], d[9], d[10]).raw}",
            }
            for d in decisions
        )
    if notify and assigned_per_user:
        _notify_assigned(assigned_per_user, updates, now=now, sla=sla)


def _static_inputs(
    rule: RoutingRule | None, team: TeamState | None, member: MemberState | None, preferred: bool
) -> dict:
    """The inputs of a decision that every lead sent the same way shares (`_Outcome`)."""
    if team is None:
        return {"code": "no_rule"}
    info: dict[str, Any] = {
        "rule": rule.pk if rule else None,
        "rule_name": rule.name if rule else "",
        "team": team.routing_team.team_id,
        "team_name": team.routing_team.team.name,
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
            dues: dict[datetime.datetime, str] = {}
            lines = []
            for lead_id, owner_id, team_id, due in updates:
                due_text = dues.get(due)
                if due_text is None:
                    due_text = dues[due] = due.isoformat()
                lines.append(f"{int(lead_id)}\t{int(owner_id)}\t{int(team_id)}\t{due_text}\n")
            with cursor.cursor.copy("COPY leads_routing_batch (id, owner_id, team_id, due) FROM STDIN") as copy:
                copy.write("".join(lines))
            cursor.execute(
                """UPDATE leads_lead AS l SET owner_id = v.owner_id, team_id = v.team_id, assigned_at = %s,
                   sla_due_at = v.due, sla_breached_at = NULL, route_requested = FALSE, updated_at = %s
                   FROM leads_routing_batch AS v WHERE l.id = v.id""",
                [now, now],
            )
            cursor.execute("TRUNCATE leads_routing_batch")
        else:
            adapt = connection.ops.adapt_datetimefield_value
            stamp = adapt(now)
            cursor.executemany(
                "UPDATE leads_lead SET owner_id = %s, team_id = %s, assigned_at = %s, sla_due_at = %s, "
                "sla_breached_at = NULL, route_requested = FALSE, updated_at = %s WHERE id = %s",
                [(u[1], u[2], stamp, adapt(u[3]), stamp, u[0]) for u in updates],
            )


def _write_loads(teams: dict[int, TeamState]) -> None:
    rows = [
        MemberLoad(member_id=m.id, day=t.today, assigned=m.got_today)
        for t in teams.values()
        for m in t.members
        if m.assigned_now
    ]
    if rows:
        MemberLoad.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["member", "day"], update_fields=["assigned"]
        )


def _write_round_robin(teams: dict[int, TeamState]) -> None:
    for t in teams.values():
        if t.changed and t.strategy == Strategy.ROUND_ROBIN and t.rr_position != t.routing_team.rr_position:
            RoutingTeam.objects.filter(pk=t.routing_team.pk).update(rr_position=t.rr_position)


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


def _write_decisions(
    decisions: list[tuple], *, now: datetime.datetime, actor_id: int | None, seed: int, batch: str
) -> None:
    """Store the decisions built by `_route_rows`: (lead, kind, rule, team, from owner, to owner, outcome,
    priority, quota left, open leads, excluded owner)."""
    if not decisions:
        return
    if connection.vendor == "postgresql" and len(decisions) > 200:
        table = RoutingDecision._meta.db_table
        columns = ", ".join(_DECISION_COLUMNS)
        constant_end = f"\t{int(seed)}\t{batch.translate(_COPY_ESCAPES)}\n"
        at = now.isoformat()
        actor = _copy_value(actor_id)
        lines = []
        for (
            lead_id,
            kind,
            rule_id,
            team_id,
            from_id,
            to_id,
            outcome,
            priority,
            left,
            open_before,
            excluded,
        ) in decisions:
            lines.append(
                f"{int(lead_id)}\t{at}\t{kind}\t{_copy_value(rule_id)}\t{_copy_value(team_id)}\t"
                f"{_copy_value(from_id)}\t{_copy_value(to_id)}\t{actor}\t"
                f"lead {int(lead_id)}{outcome.tail(left, open_before, excluded).copy}\t"
                f"{outcome.head.copy}{_inputs_tail(priority, left, open_before, excluded)}{constant_end}"
            )
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write("".join(lines))
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
        notes.append(
            Notification(
                user_id=user_id,
                kind=NotificationKind.ASSIGNED,
                lead_id=first_lead[user_id],
                count=count,
                message=message,
                created_at=now,
            )
        )
    created = Notification.objects.bulk_create(notes)
    ids = [n.pk for n in created if n.pk]
    if ids:
        from keyfit.leads.tasks import send_lead_notifications

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
