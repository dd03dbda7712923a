"""The routing configuration (rules, teams, members, calendars) as plain, compiled data, kept per process.

Online routing runs one short transaction per batch of a few leads; reading and compiling the rules,
teams, members and calendars each time cost more than the routing itself. A process keeps the last
configuration it loaded together with the version it was loaded at. The version lives in the database,
on every routing team row (``RoutingTeam.config_version``): routing reads it together with the team
locks it takes anyway (no extra round trip, no cache server), and reloads when it moved.

Every save or delete of a rule, routing team, member, calendar or calendar exception, and every save of
a user or team that routing names, raises the version of all routing teams *before* it writes, taking
the team rows' locks in id order as routing does: a routing transaction in flight finishes with the
configuration it read (the change waits for it), and the next one sees the new version once the change
commits. (A save outside a transaction raises it right after the write instead. Queryset ``update()`` and
``bulk_create`` send no signals: call `configuration_changed()` after them.)
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from keyfit.leads.calendar import Calendar
from keyfit.leads.conditions import compile_all


@dataclass(frozen=True, slots=True)
class RuleConfig:
    pk: int
    name: str
    routing_team_id: int
    conditions: list
    test: Callable[[dict[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class MemberConfig:
    id: int
    user_id: int
    name: str
    paused: bool
    max30: int | None
    prefers: Callable[[dict[str, Any]], bool] | None


@dataclass(frozen=True, slots=True)
class TeamConfig:
    pk: int
    team_id: int
    team_name: str
    strategy: str
    sla_minutes: int
    calendar: Calendar
    members: tuple[MemberConfig, ...]  # active users, in member order (position, id)


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    token: tuple[tuple[int, int], ...]  # (team id, config version) of every routing team, by id
    rules: tuple[RuleConfig, ...]  # active rules in order
    teams: dict[int, TeamConfig]
    fields: tuple[str, ...]  # the lead fields routing reads: the rules' and preferred filters' and its own

    def quota_member_ids(self) -> list[int]:
        return sorted(m.id for t in self.teams.values() for m in t.members if m.max30 is not None)

    def least_loaded_user_ids(self) -> list[int]:
        return sorted({m.user_id for t in self.teams.values() if t.strategy == "least_loaded" for m in t.members})

    def oldest_day(self, now: datetime.datetime) -> datetime.date:
        """The first day whose quota counters routing at `now` may need (30 days in the earliest zone)."""
        days = [t.calendar.local_date(now) for t in self.teams.values()] or [now.date()]
        return min(days) - datetime.timedelta(days=29)


_kept: RoutingConfig | None = None


# lead fields routing reads whatever the conditions
ROW_FIELDS = frozenset({"id", "priority", "created_at", "owner_id", "team_id", "route_requested"})


def load() -> RoutingConfig:
    """Read the configuration from the database (with the teams' versions, as its token)."""
    from keyfit.leads.models import CalendarException, RoutingMember, RoutingRule, RoutingTeam

    rules = tuple(
        RuleConfig(pk, name, team_id, conditions or [], compile_all(conditions or []))
        for pk, name, team_id, conditions in RoutingRule.objects.filter(active=True)
        .order_by("position", "id")
        .values_list("id", "name", "routing_team_id", "conditions")
    )
    teams = list(
        RoutingTeam.objects.order_by("id").values_list(
            "config_version",
            "id",
            "team_id",
            "team__name",
            "strategy",
            "sla_minutes",
            "calendar_id",
            "calendar__timezone",
            "calendar__weekdays",
            "calendar__day_start",
            "calendar__day_end",
        )
    )
    calendar_ids = {t[6] for t in teams if t[6] is not None}
    exceptions: dict[int, list[tuple[datetime.date, bool]]] = {}
    if calendar_ids:
        for calendar_id, day, working in CalendarException.objects.filter(calendar__in=calendar_ids).values_list(
            "calendar_id", "date", "working"
        ):
            exceptions.setdefault(calendar_id, []).append((day, working))
    members: dict[int, list[MemberConfig]] = {}
    names = set(ROW_FIELDS)
    conditions = [c for r in rules for c in r.conditions]
    for mid, team_id, user_id, full_name, email, paused, max30, filters in (
        RoutingMember.objects.filter(user__is_active=True)
        .order_by("position", "id")
        .values_list(
            "id",
            "routing_team_id",
            "user_id",
            "user__full_name",
            "user__email",
            "paused",
            "max_per_30_days",
            "preferred_filters",
        )
    ):
        conditions += filters or []
        members.setdefault(team_id, []).append(
            MemberConfig(mid, user_id, full_name or email, paused, max30, compile_all(filters) if filters else None)
        )
    configs: dict[int, TeamConfig] = {}
    for c in conditions:
        names.add("custom_fields" if c["field"].startswith("cf.") else c["field"])
    for _version, pk, team_id, team_name, strategy, sla, calendar_id, tz, weekdays, start, end in teams:
        if calendar_id is None:
            calendar = Calendar()
        else:
            days = exceptions.get(calendar_id, [])
            calendar = Calendar(
                timezone=tz,
                weekdays=tuple(int(d) for d in (weekdays or [])),
                day_start=start,
                day_end=end,
                holidays=frozenset(d for d, working in days if not working),
                extra_workdays=frozenset(d for d, working in days if working),
            )
        configs[pk] = TeamConfig(pk, team_id, team_name, str(strategy), sla, calendar, tuple(members.get(pk, ())))
    token = tuple((t[1], t[0]) for t in teams)
    return RoutingConfig(token=token, rules=rules, teams=configs, fields=tuple(sorted(names)))


def kept(token: tuple[tuple[int, int], ...]) -> RoutingConfig:
    """The configuration at `token` (every team's id and version, read under the team locks): the one
    this process keeps when it is current, else loaded again (and kept)."""
    global _kept
    config = _kept
    if config is None or config.token != token:
        config = _kept = load()
    return config


def current() -> RoutingConfig | None:
    """The configuration this process keeps, if any (not checked against the database)."""
    return _kept


def forget() -> None:
    """Drop this process's configuration (tests; the version check makes it unnecessary otherwise)."""
    global _kept
    _kept = None


def configuration_changed() -> None:
    """Raise every routing team's configuration version, locking the team rows in id order first."""
    from keyfit.leads.models import RoutingTeam

    with transaction.atomic():
        ids = list(RoutingTeam.objects.select_for_update().order_by("id").values_list("id", flat=True))
        if ids:
            RoutingTeam.objects.filter(pk__in=ids).update(config_version=F("config_version") + 1)


def _before_write(sender, raw=False, **kwargs) -> None:
    # in a transaction: before the write, so that routing in flight finishes first (the change waits
    # for the team locks) and routing after it sees the new version with the new rows
    if not raw and connection.in_atomic_block:
        configuration_changed()


def _after_write(sender, raw=False, **kwargs) -> None:
    # a save in autocommit mode has committed by now: raise the version after it, so that no process
    # keeps the old rows under the new version
    if not raw and not connection.in_atomic_block:
        configuration_changed()


# user and team fields that routing shows or tests
_USER_FIELDS = {"full_name", "email", "is_active"}


def _user_saved(sender, instance, created=False, update_fields=None, raw=False, **kwargs) -> None:
    if raw or created or (update_fields is not None and not (set(update_fields) & _USER_FIELDS)):
        return
    from keyfit.leads.models import RoutingMember

    if RoutingMember.objects.filter(user_id=instance.pk).exists():
        configuration_changed()


def _team_saved(sender, instance, created=False, update_fields=None, raw=False, **kwargs) -> None:
    if raw or created or (update_fields is not None and "name" not in update_fields):
        return
    from keyfit.leads.models import RoutingTeam

    if RoutingTeam.objects.filter(team_id=instance.pk).exists():
        configuration_changed()


def connect() -> None:
    from django.contrib.auth import get_user_model

    from keyfit.leads.models import CalendarException, RoutingMember, RoutingRule, RoutingTeam, WorkingCalendar
    from keyfit.users.models import Team

    for model in (RoutingRule, RoutingTeam, RoutingMember, WorkingCalendar, CalendarException):
        uid = f"leads-routing-config-{model.__name__}"
        pre_save.connect(_before_write, sender=model, dispatch_uid=f"{uid}-pre-save")
        pre_delete.connect(_before_write, sender=model, dispatch_uid=f"{uid}-pre-delete")
        post_save.connect(_after_write, sender=model, dispatch_uid=f"{uid}-post-save")
        post_delete.connect(_after_write, sender=model, dispatch_uid=f"{uid}-post-delete")
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="leads-routing-config-user")
    post_save.connect(_team_saved, sender=Team, dispatch_uid="leads-routing-config-team")
