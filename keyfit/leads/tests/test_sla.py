import datetime
import zoneinfo

import pytest
from django.core.management import call_command

from keyfit.leads.calendar import Calendar
from keyfit.leads.models import CalendarException, Lead, Notification, RoutingDecision
from keyfit.leads.routing import route_leads
from keyfit.leads.services import lead_signal_add, leads_check_slas
from keyfit.leads.tests.factories import (
    CalendarFactory,
    LeadFactory,
    RoutingMemberFactory,
    RoutingRuleFactory,
    RoutingTeamFactory,
)
from keyfit.users.tests.factories import TeamFactory, UserFactory

SH = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime.datetime(*args, tzinfo=SH)


CAL = Calendar(
    timezone="Asia/Shanghai",
    weekdays=(0, 1, 2, 3, 4),
    day_start=datetime.time(9, 0),
    day_end=datetime.time(18, 0),
    holidays=frozenset({datetime.date(2026, 10, 1), datetime.date(2026, 10, 2), datetime.date(2026, 10, 5)}),
    extra_workdays=frozenset({datetime.date(2026, 10, 10)}),  # a Saturday worked in exchange
)


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (at(2026, 11, 23, 10, 0), 240, at(2026, 11, 23, 14, 0)),  # Monday inside hours
        (at(2026, 11, 23, 16, 0), 240, at(2026, 11, 24, 11, 0)),  # spills into Tuesday
        (at(2026, 11, 23, 7, 30), 60, at(2026, 11, 23, 10, 0)),  # before opening
        (at(2026, 11, 27, 17, 0), 240, at(2026, 11, 30, 12, 0)),  # Friday → Monday over the weekend
        (at(2026, 11, 28, 11, 0), 240, at(2026, 11, 30, 13, 0)),  # received on Saturday
        (at(2026, 9, 30, 16, 0), 240, at(2026, 10, 6, 11, 0)),  # National Day holidays + weekend
        (at(2026, 10, 9, 17, 0), 120, at(2026, 10, 10, 10, 0)),  # make-up Saturday is worked
        (at(2026, 11, 23, 18, 0), 540, at(2026, 11, 24, 18, 0)),  # exactly one working day
    ],
)
def test_working_minutes_over_weekends_and_holidays(start, minutes, due):
    assert CAL.add_working_minutes(start, minutes) == due


def test_utc_input_is_read_in_the_calendar_zone():
    start = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.UTC)  # 17:00 Friday in Shanghai
    assert CAL.add_working_minutes(start, 120) == at(2026, 11, 30, 10, 0)


@pytest.fixture
def sla_team(db):
    team = TeamFactory()
    manager = UserFactory(role="manager", team=team)
    team.manager = manager
    team.save()
    calendar = CalendarFactory()
    CalendarException.objects.create(calendar=calendar, date=datetime.date(2026, 12, 1), working=False, name="Holiday")
    rt = RoutingTeamFactory(team=team, sla_minutes=120, calendar=calendar, reassign_on_breach=True)
    users = [UserFactory(team=team, role="sdr", full_name=f"SDR {i}") for i in range(2)]
    for i, u in enumerate(users):
        RoutingMemberFactory(routing_team=rt, user=u, position=i)
    RoutingRuleFactory(routing_team=rt, name="All")
    return rt, users, manager


def test_breach_detection_notifies_and_reassigns(sla_team):
    _rt, users, manager = sla_team
    lead = LeadFactory()
    touched = LeadFactory()
    route_leads(now=at(2026, 11, 30, 17, 0))  # Monday 17:00; Tuesday is a holiday
    lead.refresh_from_db()
    assert lead.sla_due_at == at(2026, 12, 2, 10, 0)
    lead_signal_add(actor=users[1], lead=touched, signal_type="outreach", originator="us")
    assert leads_check_slas(now=at(2026, 12, 2, 9, 59)) == {"breached": 0, "reassigned": 0}
    assert leads_check_slas(now=at(2026, 12, 2, 10, 1)) == {"breached": 1, "reassigned": 1}
    lead.refresh_from_db()
    assert lead.owner_id == users[1].pk  # never back to the owner who missed it
    decision = RoutingDecision.objects.filter(lead=lead).order_by("-id").first()
    assert decision.kind == "sla"
    assert decision.from_owner_id == users[0].pk
    kinds = sorted(Notification.objects.filter(lead=lead).values_list("user_id", "kind"))
    expected = [
        (users[0].pk, "assigned"),
        (users[0].pk, "sla_breach"),
        (manager.pk, "sla_breach"),
        (users[1].pk, "assigned"),
    ]
    assert kinds == sorted(expected)
    assert lead.sla_due_at == at(2026, 12, 2, 12, 1)


def test_command_runs_the_check(sla_team, capsys):
    LeadFactory(owner=sla_team[1][0], team=sla_team[0].team, sla_due_at=at(2020, 1, 1, 9, 0))
    call_command("check_lead_slas")
    assert "1 breached, 1 re-assigned" in capsys.readouterr().out
    assert Lead.objects.get().sla_breached_at is None  # re-assigned: a fresh SLA for the new owner
