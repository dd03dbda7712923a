"""Intake of one lead: the stored row and its audit event (one statement on PostgreSQL, the ORM elsewhere),
and the custom-field definitions kept per process."""

import datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keyfit.core import customfields
from keyfit.core.errors import ValidationFailed
from keyfit.core.models import AuditEvent, CustomFieldDefinition
from keyfit.leads.models import Lead
from keyfit.leads.services import lead_create

pytestmark = pytest.mark.django_db


def _fields(lead: Lead) -> dict:
    return {f.attname: getattr(lead, f.attname) for f in Lead._meta.concrete_fields}


@pytest.fixture(params=["plain", "prepared"])
def statements(request, monkeypatch):
    """Each intake test twice on PostgreSQL: statements planned each time, and prepared once per
    connection as with persistent connections (tests otherwise open a connection per request)."""
    if request.param == "prepared":
        if connection.vendor != "postgresql":
            pytest.skip("statements are prepared on PostgreSQL only")
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    return request.param


def _prepared_intakes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["WITH r AS %"])
        return cursor.fetchone()[0]


def test_created_lead_is_stored_as_returned_with_its_audit_event(org, statements):
    lead = lead_create(
        actor=org.admin,
        data={
            "source": "api",
            "company_name": "Hangzhou Tea Co",
            "company_domain": "tea.cn",
            "contact_name": "Wang Fang",
            "email": "Wang.Fang@Tea.cn",
            "phone": "+86 138 0000 1234",
            "priority": 77,
            "estimated_value": "125000.50",
            "need_confirmed": True,
            "owner_id": org.ae.pk,
            "custom_fields": {},
        },
    )
    stored = Lead.objects.get(pk=lead.pk)
    assert _fields(stored) == _fields(lead)
    assert stored.estimated_value == Decimal("125000.50")
    assert stored.email_normalized == "wang.fang@tea.cn"
    assert stored.owner_id == org.ae.pk
    assert stored.version == 1
    assert isinstance(stored.assigned_at, datetime.datetime)
    event = AuditEvent.objects.get(object_id=str(lead.pk), content_type__model="lead")
    assert (event.action, event.verb, event.actor_id, event.actor_label) == ("create", "", org.admin.pk, str(org.admin))
    assert event.object_repr == "Wang Fang · Hangzhou Tea Co"
    assert event.changes["id"] == [None, lead.pk]
    assert event.changes["company_name"] == [None, "Hangzhou Tea Co"]
    assert event.changes["estimated_value"] == [None, "125000.50"]
    assert event.changes["need_confirmed"] == [None, True]
    assert event.changes["priority"] == [None, 77]
    assert event.changes["owner_id"] == [None, org.ae.pk]
    assert event.changes["fit_breakdown"] == [None, []]
    assert "updated_at" not in event.changes and "version" not in event.changes
    assert "campaign" in event.changes  # "" is a value; only None is left out
    assert all(before is None and after is not None for before, after in event.changes.values())
    if statements == "prepared":
        assert _prepared_intakes() == 1


def test_a_lead_without_names_is_logged_by_its_id(org, statements):
    lead = lead_create(actor=org.admin, data={"source": "manual", "phone": "13800001111", "priority": 10})
    event = AuditEvent.objects.get(object_id=str(lead.pk), content_type__model="lead")
    assert event.object_repr == "13800001111"
    assert (event.actor_id, event.actor_label) == (org.admin.pk, str(org.admin))
    system = lead_create(actor=None, data={"source": "api", "company_name": "System Co"})
    event = AuditEvent.objects.get(object_id=str(system.pk), content_type__model="lead")
    assert (event.actor_id, event.actor_label, event.object_repr) == (None, "system", "System Co")
    if statements == "prepared":  # one statement per parameter types (an actor or none), reused
        prepared = _prepared_intakes()
        lead_create(actor=None, data={"source": "api", "company_name": "System Co 2"})
        lead_create(actor=org.admin, data={"source": "api", "company_name": "Admin Co 2"})
        assert prepared == _prepared_intakes() == 2
    nameless = Lead(priority=10)
    nameless.pk = lead.pk
    assert str(nameless) == f"#{lead.pk}"
    assert Lead.objects.get(pk=lead.pk).priority == 10


def _definition_reads(captured) -> int:
    return sum("core_customfielddefinition" in q["sql"] for q in captured)


def test_intake_reads_the_definitions_once_per_process_until_one_changes(org):
    data = {"source": "api", "company_name": "Kept Co", "custom_fields": {"tier": "gold"}}
    definition = CustomFieldDefinition.objects.create(
        target="lead", key="tier", label_en="Tier", label_zh_hans="等级", field_type="text"
    )
    assert lead_create(actor=org.admin, data=data).custom_fields == {"tier": "gold"}
    with CaptureQueriesContext(connection) as captured:
        assert lead_create(actor=org.admin, data=data).custom_fields == {"tier": "gold"}
    assert _definition_reads(captured) == 0
    inserts = [q["sql"] for q in captured if q["sql"].startswith(("INSERT", "WITH"))]
    assert len(inserts) == (1 if connection.vendor == "postgresql" else 2)  # with its audit event, or each
    definition.max_length = 2
    definition.save()  # a new token: the next intake reads the definitions again
    with CaptureQueriesContext(connection) as captured, pytest.raises(ValidationFailed) as failed:
        lead_create(actor=org.admin, data=data)
    assert _definition_reads(captured) == 1
    assert failed.value.fields == {"custom_fields.tier": ["At most 2 characters."]}


def test_a_definition_changed_by_another_process_is_seen_when_the_token_moves(org):
    data = {"source": "api", "company_name": "Other Co", "custom_fields": {"tier": "gold"}}
    with pytest.raises(ValidationFailed):
        lead_create(actor=org.admin, data=data)  # no such field yet
    CustomFieldDefinition.objects.bulk_create(  # no signal in this process
        [CustomFieldDefinition(target="lead", key="tier", label_en="Tier", label_zh_hans="等级", field_type="text")]
    )
    with pytest.raises(ValidationFailed):
        lead_create(actor=org.admin, data=data)  # kept until the token changes
    cache.set(customfields.DEFINITIONS_VERSION_KEY, "set-by-another-process")
    assert lead_create(actor=org.admin, data=data).custom_fields == {"tier": "gold"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement intake is PostgreSQL's")
def test_intake_without_an_external_id_opens_no_transaction(org, monkeypatch):
    """The lead and its audit event are one statement, atomic by itself: no BEGIN and COMMIT round trips."""
    from keyfit.leads import services

    def no_transaction(*args, **kwargs):
        raise AssertionError("a transaction was opened")

    monkeypatch.setattr(services.transaction, "atomic", no_transaction)
    lead = lead_create(actor=org.admin, data={"source": "api", "company_name": "One statement Co"})
    assert Lead.objects.filter(pk=lead.pk, company_name="One statement Co").exists()
    assert AuditEvent.objects.filter(object_id=str(lead.pk), action="create").count() == 1
    with pytest.raises(AssertionError, match="a transaction was opened"):  # an external id is checked first
        lead_create(actor=org.admin, data={"source": "api", "company_name": "Checked Co", "external_id": "X-1"})


def test_an_external_id_already_taken_is_refused_and_nothing_is_stored(org):
    lead_create(actor=org.admin, data={"source": "api", "company_name": "First Co", "external_id": "CRM-7"})
    with pytest.raises(ValidationFailed) as refused:
        lead_create(actor=org.admin, data={"source": "api", "company_name": "Second Co", "external_id": "CRM-7"})
    assert "external_id" in refused.value.fields
    assert not Lead.objects.filter(company_name="Second Co").exists()


def test_a_lead_built_from_positional_values_equals_the_keyword_built_one(org):
    """`_new_lead` (Django's positional initialisation, defaults taken once per process) gives the
    instance `Lead(**values)` gives: every field, a fresh default object per lead where the default is
    callable, and the keyword path for a name that is not a field's attribute."""
    from keyfit.leads.services import _clean, _new_lead

    values = _clean(
        {
            "source": "web_form",
            "company_name": "Suzhou Silk Co",
            "email": "li@silk.cn",
            "phone": "13900001111",
            "estimated_value": "900.10",
            "owner_id": org.ae.pk,
            "custom_fields": {},
        }
    )
    built, expected = _new_lead(values), Lead(**values)
    made, made_expected = _fields(built), _fields(expected)
    # a callable default (the creation time) is made per lead
    assert abs(made.pop("created_at") - made_expected.pop("created_at")) < datetime.timedelta(seconds=5)
    assert made == made_expected
    assert built._state.adding and built.pk is None
    other = _new_lead(values)
    assert "fit_breakdown" not in values
    assert other.fit_breakdown == [] and other.fit_breakdown is not built.fit_breakdown  # one list per lead
    with pytest.raises(TypeError):  # not an attribute of Lead: the keyword path says so
        _new_lead({**values, "no_such_field": 1})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_online_intake_stores_commits_and_waits_in_one_pipeline(org):
    """Outside a transaction on PostgreSQL, the insert, its commit and the wait for the online router go
    in one round trip: the lead and its audit event are stored, and the lead is routed."""
    if connection.vendor != "postgresql":
        pytest.skip("the online router is PostgreSQL's")
    from keyfit.leads.tests.factories import RoutingMemberFactory, RoutingRuleFactory, RoutingTeamFactory
    from keyfit.leads.tests.test_concurrency import _router_lock_holders
    from keyfit.users.tests.factories import TeamFactory, UserFactory

    team = RoutingTeamFactory(team=TeamFactory(), strategy="round_robin")
    members = [RoutingMemberFactory(routing_team=team, user=UserFactory(role="sdr"), position=i) for i in range(2)]
    RoutingRuleFactory(routing_team=team, position=1, conditions=[])
    with CaptureQueriesContext(connection) as queries:
        lead = lead_create(actor=org.admin, data={"source": "api", "company_name": "Piped Co"}, route=True)
    sent = [q["sql"] for q in queries]
    begin = sent.index("BEGIN")  # after the first reads of the process (custom-field definitions)
    assert sent[begin + 1].startswith("WITH r AS (SELECT")
    assert sent[begin + 2] == "COMMIT" and "keyfit_route_wait(" in sent[begin + 3]
    stored = Lead.objects.get(pk=lead.pk)
    assert stored.owner_id == lead.owner_id and lead.owner_id in {m.user_id for m in members}
    assert stored.route_requested is False
    assert AuditEvent.objects.filter(object_id=str(lead.pk), action="create").count() == 1
    assert _router_lock_holders() == 0  # the router lock is not left held


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_online_intake_that_fails_stores_nothing_and_holds_no_lock(org, monkeypatch):
    """The insert fails inside the pipeline: its commit and the wait are not run, nothing is stored and
    the router lock is not taken."""
    if connection.vendor != "postgresql":
        pytest.skip("the online router is PostgreSQL's")
    from django.db import DatabaseError

    from keyfit.leads import services
    from keyfit.leads.tests.test_concurrency import _router_lock_holders

    statement = services._insert_statement

    def broken(lead, *, actor):
        sql, params = statement(lead, actor=actor)
        return sql.replace("RETURNING object_id", "RETURNING 1 / 0"), params

    monkeypatch.setattr(services, "_insert_statement", broken)
    with pytest.raises(DatabaseError):
        lead_create(actor=org.admin, data={"source": "api", "company_name": "Broken Co"}, route=True)
    assert not Lead.objects.filter(company_name="Broken Co").exists()
    assert not AuditEvent.objects.filter(object_repr="Broken Co").exists()
    assert _router_lock_holders() == 0
