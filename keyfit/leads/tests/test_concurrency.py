"""Two workers routing the same 10,000 leads at once on PostgreSQL: each lead once, no quota overrun."""

import datetime
import threading
import zoneinfo

import pytest
from django.db import connection, connections
from django.db.models import Count

from keyfit.leads.models import Lead, MemberLoad, RoutingDecision
from keyfit.leads.routing import route_leads
from keyfit.leads.services import lead_create
from keyfit.leads.tests.factories import RoutingMemberFactory, RoutingRuleFactory, RoutingTeamFactory
from keyfit.users.tests.factories import TeamFactory, UserFactory

NOW = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


def _produce(admin, prefix, barrier, seen, errors, count=15):
    """One producer thread: `count` new leads routed online as they are created (every other one SaaS),
    their owners into `seen`, any exception into `errors`."""
    try:
        barrier.wait()
        for n in range(count):
            lead = lead_create(
                actor=admin,
                data={"company_name": f"{prefix}{n}", "industry": "saas" if n % 2 else "retail"},
                route=True,
            )
            seen[lead.pk] = lead.owner_id
    except Exception as exc:  # pragma: no cover - reported by the test
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_route_the_same_leads_at_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (SQLite serialises writers itself)")
    capacity = RoutingTeamFactory(team=TeamFactory(), strategy="capacity")
    capped = []
    for i in range(3):
        user = UserFactory(role="sdr")
        capped.append(
            RoutingMemberFactory(routing_team=capacity, user=user, position=i, max_per_30_days=60000)
        )  # 2,000 a day
    rr = RoutingTeamFactory(team=TeamFactory(), strategy="round_robin")
    for i in range(4):
        RoutingMemberFactory(routing_team=rr, user=UserFactory(role="sdr"), position=i)
    RoutingRuleFactory(
        routing_team=capacity, position=1, conditions=[{"field": "industry", "operator": "eq", "value": "saas"}]
    )
    RoutingRuleFactory(routing_team=rr, position=2, conditions=[])
    Lead.objects.bulk_create(
        [
            Lead(company_name=f"C{i}", industry="saas" if i % 10 < 7 else "retail", priority=i % 100)
            for i in range(10000)
        ],
        batch_size=2000,
    )
    errors = []
    barrier = threading.Barrier(2)

    def worker(seed):
        try:
            barrier.wait()
            route_leads(seed=seed, now=NOW, batch_size=700, keep_decisions=False)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assigned = RoutingDecision.objects.filter(kind="auto")
    per_lead = assigned.values("lead_id").annotate(n=Count("id")).filter(n__gt=1)
    assert list(per_lead) == []
    assert assigned.count() == Lead.objects.filter(owner__isnull=False).count()
    # 7,000 SaaS leads for 3 × 2,000 daily quota: exactly 6,000 placed, 1,000 wait; 3,000 others all placed
    loads = dict(MemberLoad.objects.values_list("member_id", "assigned"))
    assert [loads[m.pk] for m in capped] == [2000, 2000, 2000]
    for m in capped:
        assert Lead.objects.filter(owner_id=m.user_id).count() == 2000
    assert Lead.objects.filter(owner__isnull=True).count() == 1000
    assert Lead.objects.filter(owner__isnull=True).exclude(industry="saas").count() == 0
    # the open-lead counters the database keeps match a recount after the two workers' statements
    from keyfit.leads.tests.test_routing import _kept_counts, _recount

    assert _kept_counts() == _recount()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("session_lock", [True, False], ids=["one-router", "transaction-pooler"])
def test_concurrent_producers_share_batches_and_place_each_lead_once(session_lock, settings):
    """Online intake from 4 threads: every lead routed exactly once, each caller sees its lead's owner —
    with one router at a time holding the session lock, and without any session lock (behind a pooler in
    transaction mode each intake routes the waiting leads in its own transaction)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row and advisory locks")
    from django.test.utils import CaptureQueriesContext

    settings.ONLINE_ROUTER_SESSION_LOCK = session_lock

    capacity = RoutingTeamFactory(team=TeamFactory(), strategy="capacity")
    capped = [
        RoutingMemberFactory(routing_team=capacity, user=UserFactory(role="sdr"), position=i, max_per_30_days=300)
        for i in range(2)
    ]  # 10 a day each
    rr = RoutingTeamFactory(team=TeamFactory(), strategy="round_robin")
    for i in range(3):
        RoutingMemberFactory(routing_team=rr, user=UserFactory(role="sdr"), position=i)
    RoutingRuleFactory(
        routing_team=capacity, position=1, conditions=[{"field": "industry", "operator": "eq", "value": "saas"}]
    )
    RoutingRuleFactory(routing_team=rr, position=2, conditions=[])
    admin = UserFactory(role="admin")
    errors: list[Exception] = []
    seen: dict[int, int | None] = {}
    barrier = threading.Barrier(4)

    def producer(index):
        _produce(admin, f"P{index}-", barrier, seen, errors)

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) == 60
    with CaptureQueriesContext(connection) as queries:
        lead_create(actor=admin, data={"company_name": "One more", "industry": "retail"}, route=True)
    advisory = [q["sql"] for q in queries if "advisory_lock" in q["sql"] or "keyfit_route_wait" in q["sql"]]
    assert bool(advisory) is session_lock
    decisions = RoutingDecision.objects.filter(lead_id__in=seen)
    assert decisions.values("lead_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    assert decisions.count() == 60
    # 28 SaaS leads for 2 × 10 a day: 20 placed, 8 unrouted; the 32 others all placed
    loads = dict(MemberLoad.objects.values_list("member_id", "assigned"))
    assert sorted(loads.get(m.pk) for m in capped) == [10, 10]
    stored = dict(Lead.objects.filter(pk__in=seen).values_list("pk", "owner_id"))
    assert stored == seen  # what each caller got back is what was stored
    assert sum(owner is None for owner in stored.values()) == 8
    assert Lead.objects.filter(pk__in=seen, route_requested=True).count() == 0


@pytest.mark.postgres
@pytest.mark.django_db
def test_batch_decisions_written_by_copy_keep_names_with_special_characters():
    """Large batches are COPYed as text: backslashes, tabs and quotes in names survive unchanged."""
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    team = RoutingTeamFactory(team=TeamFactory(name="Team\\East"), strategy="capacity")
    user = UserFactory(role="sdr", full_name="Li\tWei \\ “李伟”")
    RoutingMemberFactory(routing_team=team, user=user, position=0, max_per_30_days=9000)  # 300 a day
    RoutingRuleFactory(routing_team=team, position=1, name="East\\China\n'SaaS'", conditions=[])
    leads = Lead.objects.bulk_create([Lead(company_name=f"C{i}", priority=50) for i in range(301)])
    result = route_leads(seed=3, now=NOW)
    assert (result.routed, result.unrouted) == (300, 1)
    first = RoutingDecision.objects.get(lead=leads[0])
    assert first.reason == f"lead {leads[0].pk} → Li\tWei \\ “李伟”: rule 'East\\China\n'SaaS'', quota 299/300 left"
    assert first.inputs == {
        "priority": 50,
        "rule": first.rule_id,
        "rule_name": "East\\China\n'SaaS'",
        "team": team.team_id,
        "team_name": "Team\\East",
        "strategy": "capacity",
        "code": "assigned",
        "member": "Li\tWei \\ “李伟”",
        "member_id": user.pk,
        "preferred": False,
        "quota_day": 300,
        "quota_left": 299,
    }
    last = RoutingDecision.objects.get(lead=leads[-1])
    assert last.kind == "unrouted" and last.to_owner_id is None
    assert last.reason == (
        f"lead {leads[-1].pk}: rule 'East\\China\n'SaaS'' → team Team\\East; no member available (paused or at quota)"
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_online_routing_while_the_configuration_changes():
    """Producers route online while an admin pauses members, changes quotas, adds and deletes a member:
    every lead placed once, only with members present when it was placed, no quota overrun, the kept
    configuration never stale after a change committed, the open-lead counters exact."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row and advisory locks")
    from keyfit.leads.models import RoutingMember
    from keyfit.leads.tests.test_routing import _kept_counts, _recount

    capacity = RoutingTeamFactory(team=TeamFactory(), strategy="capacity")
    capped = [
        RoutingMemberFactory(routing_team=capacity, user=UserFactory(role="sdr"), position=i, max_per_30_days=300)
        for i in range(2)
    ]  # 10 a day each
    least = RoutingTeamFactory(team=TeamFactory(), strategy="least_loaded")
    loaded = [RoutingMemberFactory(routing_team=least, user=UserFactory(role="sdr"), position=i) for i in range(3)]
    RoutingRuleFactory(
        routing_team=capacity, position=1, conditions=[{"field": "industry", "operator": "eq", "value": "saas"}]
    )
    RoutingRuleFactory(routing_team=least, position=2, conditions=[])
    admin = UserFactory(role="admin")
    errors: list[Exception] = []
    seen: dict[int, int | None] = {}
    barrier = threading.Barrier(4)
    extra_user = UserFactory(role="sdr")

    def producer(index):
        _produce(admin, f"C{index}-", barrier, seen, errors)

    def admin_edits():
        try:
            barrier.wait()
            for step in range(6):
                member = RoutingMember.objects.get(pk=loaded[step % 2].pk)  # the third is never paused
                member.paused = not member.paused
                member.save()
                cap = RoutingMember.objects.get(pk=capped[step % 2].pk)
                cap.max_per_30_days = 300 if step % 2 else 240  # 10 or 8 a day
                cap.save()
                added = RoutingMember.objects.create(routing_team=least, user=extra_user, position=9)
                added.delete()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=admin_edits))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) == 45
    decisions = RoutingDecision.objects.filter(lead_id__in=seen)
    assert decisions.values("lead_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    assert decisions.count() == 45
    stored = dict(Lead.objects.filter(pk__in=seen).values_list("pk", "owner_id"))
    assert stored == seen
    loads = dict(MemberLoad.objects.values_list("member_id", "assigned"))
    assert all(loads.get(m.pk, 0) <= 10 for m in capped)
    # 21 SaaS leads for at most 2 × 10: at least one waits; every retail lead found a least-loaded member
    assert sum(owner is None for owner in stored.values()) >= 1
    assert Lead.objects.filter(pk__in=seen, owner__isnull=True).exclude(industry="saas").count() == 0
    assert _kept_counts() == _recount()
    # after the last change, the kept configuration is the current one: the paused members get nothing
    paused = set(RoutingMember.objects.filter(paused=True).values_list("user_id", flat=True))
    lead = lead_create(actor=admin, data={"company_name": "After", "industry": "retail"}, route=True)
    assert lead.owner_id is not None and lead.owner_id not in paused


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ahead", ["confirmed", "one_rejected"])
def test_overlapped_batches_hand_out_leads_as_one_batch_after_the_other(ahead, monkeypatch):
    """Bulk routing on PostgreSQL reads the next batch while the previous one writes, and picks and writes
    it from the state the previous one will leave: the owners, reasons, quota counters and round-robin
    positions are those of routing the batches one after the other — also when a batch finds under its
    locks another state than the one it picked from (here: a wrong prediction), rolls back and routes
    again."""
    if connection.vendor != "postgresql":
        pytest.skip("overlapped batches are PostgreSQL's")
    from django.db import transaction

    from keyfit.leads import routing

    outcomes = []
    route_ahead = routing._route_ahead

    def spy(*args, **kwargs):
        outcomes.append(route_ahead(*args, **kwargs))
        return outcomes[-1]

    monkeypatch.setattr(routing, "_route_ahead", spy)
    if ahead == "one_rejected":
        handoff = routing._handoff
        calls = []

        def predict_wrong_every_other_time(config, locked, counters, plan):  # (a rejected batch makes two)
            found = handoff(config, locked, counters, plan)
            calls.append(plan)
            if len(calls) % 2:
                # one more open lead for every least-loaded user: a batch routed ahead from it must fail its check
                opened = {user: n + 1 for user, n in found.counters[1].items()}
                return found._replace(counters=(found.counters[0], opened))
            return found

        monkeypatch.setattr(routing, "_handoff", predict_wrong_every_other_time)

    from keyfit.leads.models import RoutingTeam
    from keyfit.leads.tests.test_routing import _kept_counts, _recount

    capacity = RoutingTeamFactory(team=TeamFactory(), strategy="capacity")
    for i in range(3):
        RoutingMemberFactory(routing_team=capacity, user=UserFactory(role="sdr"), position=i, max_per_30_days=9000)
    least = RoutingTeamFactory(team=TeamFactory(), strategy="least_loaded")
    for i in range(3):
        RoutingMemberFactory(routing_team=least, user=UserFactory(role="sdr"), position=i)
    rr = RoutingTeamFactory(team=TeamFactory(), strategy="round_robin")
    for i in range(4):
        RoutingMemberFactory(
            routing_team=rr,
            user=UserFactory(role="sdr"),
            position=i,
            paused=i == 3,
            preferred_filters=[{"field": "region", "operator": "eq", "value": "Shanghai"}] if i == 0 else [],
        )
    RoutingRuleFactory(
        routing_team=capacity, position=1, conditions=[{"field": "industry", "operator": "eq", "value": "saas"}]
    )
    RoutingRuleFactory(
        routing_team=least, position=2, conditions=[{"field": "region", "operator": "in", "value": ["Hubei"]}]
    )
    RoutingRuleFactory(routing_team=rr, position=3, conditions=[])
    Lead.objects.bulk_create(
        [
            Lead(
                company_name=f"C{i}",
                industry="saas" if i % 3 == 0 else "retail",
                region=["Shanghai", "Hubei", "Beijing"][i % 3 if i % 2 else 1],
                priority=i % 97,
            )
            for i in range(3000)
        ],
        batch_size=1000,
    )

    def outcome():
        return (
            dict(Lead.objects.values_list("pk", "owner_id")),
            sorted(RoutingDecision.objects.values_list("lead_id", "reason")),
            sorted(MemberLoad.objects.values_list("member_id", "assigned")),
            sorted(RoutingTeam.objects.values_list("pk", "rr_position")),
        )

    with transaction.atomic():  # inside a transaction: one batch after the other on this connection
        first = route_leads(seed=5, now=NOW, batch_size=400, keep_decisions=False)
    one_by_one = outcome()
    Lead.objects.update(owner=None, team=None, assigned_at=None, sla_due_at=None)
    RoutingDecision.objects.all().delete()
    MemberLoad.objects.all().delete()
    RoutingTeam.objects.update(rr_position=-1)
    second = route_leads(seed=5, now=NOW, batch_size=400, keep_decisions=False)  # overlapped
    # 1,000 SaaS leads for 3 × 300 a day: 100 wait
    assert (first.routed, first.unrouted, first.batches) == (2900, 100, 8)
    assert (second.routed, second.unrouted, second.batches) == (2900, 100, 8)
    assert outcome() == one_by_one
    assert _kept_counts() == _recount()
    if ahead == "confirmed":
        assert outcomes and all(outcomes)  # every batch routed ahead was confirmed
    else:
        assert outcomes.count(False) >= 1


def _router_lock_holders() -> int:
    from keyfit.leads.routing import ONLINE_ROUTER_LOCK

    # a bigint key: the high half in classid, the low half in objid; advisory locks belong to a database
    # (tests running at once in other databases hold their own)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND (classid::bigint << 32) + objid::bigint = %s",
            [ONLINE_ROUTER_LOCK],
        )
        return cursor.fetchone()[0]


def _online_team():
    team = RoutingTeamFactory(team=TeamFactory(), strategy="round_robin")
    members = [RoutingMemberFactory(routing_team=team, user=UserFactory(role="sdr"), position=i) for i in range(2)]
    RoutingRuleFactory(routing_team=team, position=1, conditions=[])
    return members


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_online_leader_commits_and_releases_its_lock_in_one_round_trip(settings):
    """The leader's batch sends its writes, its COMMIT and the release of the router lock in one
    pipeline: the lead is committed and owned, the lock is free, the notification's task row written
    and its enqueued signal sent once the pipeline's answers are in."""
    if connection.vendor != "postgresql":
        pytest.skip("the online router lock is PostgreSQL's")
    from django.tasks.signals import task_enqueued
    from django.test.utils import CaptureQueriesContext
    from django_tasks_db.models import DBTaskResult

    from keyfit.leads.models import Notification

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
    members = _online_team()
    admin = UserFactory(role="admin")
    lead_create(actor=admin, data={"company_name": "Warm-up"}, route=True)
    enqueued = []

    def on_enqueued(sender, task_result, **kwargs):
        enqueued.append(task_result.args)

    task_enqueued.connect(on_enqueued)
    try:
        with CaptureQueriesContext(connection) as queries:
            lead = lead_create(actor=admin, data={"company_name": "Led"}, route=True)
    finally:
        task_enqueued.disconnect(on_enqueued)
    assert lead.owner_id in {m.user_id for m in members}
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.owner_id, stored.route_requested) == (lead.owner_id, False)
    assert _router_lock_holders() == 0
    sent = [q["sql"] for q in queries]
    # the intake, its commit and the wait for the router lock in one pipeline
    assert sent[0] == "BEGIN"
    assert sent[1].startswith("WITH r AS (SELECT")
    assert sent[2] == "COMMIT"
    assert "FROM keyfit_route_wait(" in sent[3] and "currval(" in sent[3]
    commit = sent.index("COMMIT", 3)
    assert sent[commit - 1].startswith("WITH n AS (INSERT INTO leads_notification")  # the last write
    assert sent[commit + 1].startswith("SELECT pg_advisory_unlock")
    # the atomic block's own commit, logged by Django, found nothing left to commit; nothing follows
    assert sent[commit + 2 :] == ["COMMIT"]
    note = Notification.objects.get(lead=lead)
    task = DBTaskResult.objects.get(args_kwargs__kwargs__notification_ids=[note.pk])
    assert task.status == "READY"
    assert enqueued == [[]]  # the signal, sent after the sync


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_online_batch_writes_nothing_and_releases_the_router_lock(monkeypatch):
    """A write of the leader's pipeline fails: the COMMIT and the release in the same pipeline do not
    run; the batch is rolled back, the lock released, and the next intake routes both waiting leads."""
    if connection.vendor != "postgresql":
        pytest.skip("the online router lock is PostgreSQL's")
    from django.db import DatabaseError

    from keyfit.leads import routing

    _online_team()
    admin = UserFactory(role="admin")
    write = routing._write_round_robin

    def failing(teams):
        write(teams)
        routing._execute("SELECT 1 / 0", [])

    monkeypatch.setattr(routing, "_write_round_robin", failing)
    with pytest.raises(DatabaseError):
        lead_create(actor=admin, data={"company_name": "Failed"}, route=True)
    failed = Lead.objects.get(company_name="Failed")
    assert (failed.owner_id, failed.route_requested) == (None, True)  # taken in, still waiting
    assert not RoutingDecision.objects.exists()
    assert _router_lock_holders() == 0
    monkeypatch.setattr(routing, "_write_round_robin", write)
    lead_create(actor=admin, data={"company_name": "Next"}, route=True)
    assert Lead.objects.filter(owner__isnull=True).count() == 0
    assert RoutingDecision.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_waiting_producer_takes_the_lead_when_its_lead_is_left(monkeypatch):
    """Another connection holds the router lock and does not route: once it lets go, the waiting producer
    (its check and its try for the lock in one statement) routes its own lead."""
    if connection.vendor != "postgresql":
        pytest.skip("the online router lock is PostgreSQL's")
    import time

    from keyfit.leads.routing import ONLINE_ROUTER_LOCK

    members = _online_team()
    admin = UserFactory(role="admin")
    held = threading.Event()
    release = threading.Event()

    def other_router():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [ONLINE_ROUTER_LOCK])
                held.set()
                release.wait(10)
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ONLINE_ROUTER_LOCK])
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_router)
    thread.start()
    assert held.wait(10)
    timer = threading.Timer(0.3, release.set)
    timer.start()
    began = time.monotonic()
    lead = lead_create(actor=admin, data={"company_name": "Waited"}, route=True)
    thread.join()
    assert time.monotonic() - began >= 0.25  # it waited for the other holder
    assert lead.owner_id in {m.user_id for m in members}
    assert RoutingDecision.objects.filter(lead=lead).count() == 1
    assert _router_lock_holders() == 0


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("prepared", [False, True], ids=["plain", "prepared"])
def test_small_batches_write_their_rows_as_json_in_fixed_statements(prepared, monkeypatch, settings):
    """A small batch (online routing) writes its leads, decisions, quota counters, notifications and task
    row with one statement text each whatever the number of rows (the rows as one JSON parameter), prepared once
    per connection with persistent connections: names with quotes, backslashes, tabs and braces survive,
    a decision without a rule or owner has its NULLs, and a second batch reuses the statements."""
    if connection.vendor != "postgresql":
        pytest.skip("the array statements are PostgreSQL's")
    from django.test.utils import CaptureQueriesContext
    from django_tasks_db.models import DBTaskResult

    from keyfit.leads.models import Notification

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
    if prepared:
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    team = RoutingTeamFactory(team=TeamFactory(name='Team {East}, "1"'), strategy="capacity")
    user = UserFactory(role="sdr", full_name="Li\tWei \\ “李伟” {a,b}")
    member = RoutingMemberFactory(routing_team=team, user=user, position=0, max_per_30_days=60)  # 2 a day
    RoutingRuleFactory(
        routing_team=team,
        position=1,
        name="East's {SaaS}",
        conditions=[{"field": "region", "operator": "eq", "value": "e"}],
    )
    leads = [Lead.objects.create(company_name=f"C{i}", region="e", priority=90 - i) for i in range(3)]
    stray = Lead.objects.create(company_name="Stray", region="w", priority=10)
    with CaptureQueriesContext(connection) as first:
        result = route_leads(seed=3, now=NOW)
    assert (result.routed, result.unrouted) == (2, 2)
    stored = {lead.pk: lead for lead in Lead.objects.all()}
    assert [stored[lead.pk].owner_id for lead in leads] == [user.pk, user.pk, None]
    assert stored[leads[0].pk].sla_due_at is not None and stored[leads[0].pk].team_id == team.team_id
    decision = RoutingDecision.objects.get(lead=leads[0])
    assert decision.reason == f"lead {leads[0].pk} → Li\tWei \\ “李伟” {{a,b}}: rule 'East's {{SaaS}}', quota 1/2 left"
    assert decision.inputs["member"] == "Li\tWei \\ “李伟” {a,b}" and decision.inputs["quota_left"] == 1
    assert (decision.seed, decision.kind, decision.at) == (3, "auto", NOW)
    none = RoutingDecision.objects.get(lead=stray)
    assert (none.kind, none.rule_id, none.team_id, none.to_owner_id) == ("unrouted", None, None, None)
    assert MemberLoad.objects.get(member=member).assigned == 2
    note = Notification.objects.get()
    assert (note.user_id, note.count, note.lead_id, note.message) == (
        user.pk,
        2,
        leads[0].pk,
        "2 leads were assigned to you",
    )
    assert DBTaskResult.objects.get().args_kwargs["kwargs"] == {"notification_ids": [note.pk]}
    again = [Lead.objects.create(company_name=f"D{i}", region="w", priority=5) for i in range(2)]
    with CaptureQueriesContext(connection) as second:
        route_leads(seed=3, now=NOW)
    assert RoutingDecision.objects.filter(lead__in=again, kind="unrouted").count() == 2
    for captured in (first, second):  # 4 rows, then 2: one INSERT each, its rows as one JSON parameter
        # (Django logs a statement bound on the server as "QUERY = '…' PARAMS = …")
        logged = [q["sql"].removeprefix("QUERY = '") for q in captured]
        inserts = [sql for sql in logged if sql.startswith("INSERT INTO leads_routingdecision")]
        assert len(inserts) == 1 and "json_to_recordset(" in inserts[0]
    if prepared:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%json_to_recordset%"]
            )
            assert cursor.fetchone()[0] >= 3  # leads, decisions, quota counters
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%INSERT INTO leads_notif%"]
            )
            assert cursor.fetchone()[0] == 1  # the notifications with their task row, each value cast
    task = DBTaskResult.objects.get()
    assert (task.status, task.queue_name, task.priority, task.worker_ids, task.return_value) == (
        "READY",
        "default",
        0,
        [],
        None,
    )
    assert task.task_path == "keyfit.leads.tasks.send_lead_notifications" and task.enqueued_at is not None
