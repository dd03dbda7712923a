import json
from decimal import Decimal

import pytest

from keyfit.core.models import AuditEvent
from keyfit.leads.models import Lead, LeadSignal, RoutingDecision, ValueThreshold
from keyfit.leads.tests.factories import (
    LeadFactory,
    RoutingMemberFactory,
    RoutingRuleFactory,
    RoutingTeamFactory,
    SignalFactory,
)


def post(client, url, data):
    return client.post(url, data=json.dumps(data), content_type="application/json")


def qualified_lead(org, **kwargs):
    values = {
        "owner": org.sdr,
        "team": org.teams["east"],
        "status": "screening",
        "screen1_result": "pass",
        "need_confirmed": True,
        "purchase_intent": "yes",
        "estimated_value": Decimal("200000"),
    }
    values.update(kwargs)
    return LeadFactory(**values)


@pytest.mark.django_db
def test_create_normalises_and_reports_duplicates(org, api_client_for):
    existing = LeadFactory(
        email="li.wei@acme.cn", email_normalized="li.wei@acme.cn", company_domain="acme.cn", team=org.teams["east"]
    )
    client = api_client_for(org.east_manager)
    r = post(
        client,
        "/api/v1/leads",
        {"contact_name": "Li Wei", "email": " Li.Wei@ACME.cn ", "phone": "+86 138-0013-8000", "company_name": "Acme"},
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["lead"]["phone_normalized"] == "+8613800138000"
    assert body["lead"]["company_domain"] == "acme.cn"
    assert body["lead"]["source"] == "api"
    assert body["duplicates"] == [existing.pk]
    lead = Lead.objects.get(pk=body["lead"]["id"])
    assert lead.email_normalized == "li.wei@acme.cn"
    assert AuditEvent.objects.filter(object_id=str(lead.pk), action="create").count() == 1


@pytest.mark.django_db
def test_create_validates_with_field_errors(org, api_client_for):
    client = api_client_for(org.sdr)
    r = post(client, "/api/v1/leads", {"email": "not-an-email", "priority": 500, "currency": "XXXX"})
    assert r.status_code == 422
    assert set(r.json()["fields"]) == {"email", "priority", "currency"}
    r = post(client, "/api/v1/leads", {})
    assert r.status_code == 422 and "__all__" in r.json()["fields"]
    assert Lead.objects.count() == 0


@pytest.mark.django_db
def test_free_mail_domain_is_not_a_company_domain(org, api_client_for):
    r = post(api_client_for(org.admin), "/api/v1/leads", {"email": "someone@qq.com"})
    assert r.json()["lead"]["company_domain"] == ""


@pytest.mark.django_db
def test_viewer_cannot_create_and_nothing_is_written(org, api_client_for):
    r = post(api_client_for(org.viewer), "/api/v1/leads", {"email": "a@b.cn"})
    assert r.status_code == 403
    assert Lead.objects.count() == 0


@pytest.mark.django_db
def test_list_scoping_over_roles(org, api_client_for):
    mine = LeadFactory(owner=org.sdr, team=org.teams["east"])
    east = LeadFactory(owner=org.ae, team=org.teams["east"])
    south = LeadFactory(owner=org.south_sdr, team=org.teams["south"])
    unassigned = LeadFactory()
    expected = {
        "admin": {mine.pk, east.pk, south.pk, unassigned.pk},
        "vp": {mine.pk, east.pk, south.pk},
        "east_manager": {mine.pk, east.pk},
        "sdr": {mine.pk, east.pk},
        "ae": {east.pk},
        "south_sdr": {south.pk},
        "viewer": {mine.pk, east.pk},
    }
    for role, ids in expected.items():
        r = api_client_for(getattr(org, role)).get("/api/v1/leads")
        assert {item["id"] for item in r.json()["items"]} == ids, role
    assert api_client_for(org.south_sdr).get(f"/api/v1/leads/{mine.pk}").status_code == 404


@pytest.mark.django_db
def test_write_permissions_visible_but_not_writable_is_403(org, api_client_for):
    lead = LeadFactory(owner=org.ae, team=org.teams["east"])
    before = Lead.objects.get(pk=lead.pk).version
    for role, status in (("sdr", 403), ("viewer", 403), ("south_sdr", 404)):
        r = post(api_client_for(getattr(org, role)), f"/api/v1/leads/{lead.pk}/screen", {"step": 1})
        assert r.status_code == status, role
        r = post(
            api_client_for(getattr(org, role)),
            f"/api/v1/leads/{lead.pk}/signals",
            {"signal_type": "demo", "originator": "customer"},
        )
        assert r.status_code == status, role
    assert Lead.objects.get(pk=lead.pk).version == before
    assert LeadSignal.objects.count() == 0
    r = post(api_client_for(org.east_manager), f"/api/v1/leads/{lead.pk}/screen", {"step": 1})
    assert r.status_code == 200


@pytest.mark.django_db
def test_list_filters_and_cursor_pagination(org, api_client_for):
    for i in range(5):
        LeadFactory(owner=org.sdr, team=org.teams["east"], priority=10 * i, source="event" if i % 2 else "web_form")
    client = api_client_for(org.sdr)
    r = client.get("/api/v1/leads?source=event")
    assert len(r.json()["items"]) == 2
    r = client.get("/api/v1/leads?queue=true&limit=2")
    page = r.json()
    assert [i["priority"] for i in page["items"]] == [40, 30]
    r = client.get(f"/api/v1/leads?queue=true&limit=2&cursor={page['next_cursor']}")
    assert [i["priority"] for i in r.json()["items"]] == [20, 10]
    assert client.get("/api/v1/leads?status=bogus").status_code == 422


@pytest.mark.django_db
def test_list_query_budget(org, api_client_for, django_assert_max_num_queries):
    for _ in range(30):
        LeadFactory(owner=org.sdr, team=org.teams["east"])
    client = api_client_for(org.sdr)
    with django_assert_max_num_queries(6):
        r = client.get("/api/v1/leads?queue=true&limit=25")
    assert len(r.json()["items"]) == 25


@pytest.mark.django_db
def test_patch_with_stale_version_is_409(org, api_client_for):
    lead = LeadFactory(owner=org.sdr, team=org.teams["east"])
    client = api_client_for(org.sdr)
    r = client.patch(
        f"/api/v1/leads/{lead.pk}",
        data=json.dumps({"version": 1, "region": "Shanghai"}),
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    r = client.patch(
        f"/api/v1/leads/{lead.pk}",
        data=json.dumps({"version": 1, "region": "Zhejiang"}),
        content_type="application/json",
    )
    assert r.status_code == 409
    assert r.json()["current"]["region"] == "Shanghai"


@pytest.mark.django_db
def test_screen1_scores_with_breakdown(org, api_client_for):
    from keyfit.leads.models import FitRule

    FitRule.objects.create(name="SaaS", field="industry", operator="eq", value="saas", points=40, position=1)
    FitRule.objects.create(
        name="Big", field="company_size", operator="in", value=["250-999", "1000+"], points=30, position=2
    )
    FitRule.objects.create(
        name="Student", field="contact_title", operator="contains", value="student", points=-50, position=3
    )
    lead = LeadFactory(owner=org.sdr, team=org.teams["east"], industry="saas", company_size="1000+")
    r = post(api_client_for(org.sdr), f"/api/v1/leads/{lead.pk}/screen", {"step": 1})
    body = r.json()
    assert body["fit_score"] == 70
    assert body["screen1_result"] == "pass"
    assert body["status"] == "screening"
    assert [b["points"] for b in body["fit_breakdown"]] == [40, 30, 0]
    poor = LeadFactory(owner=org.sdr, team=org.teams["east"], contact_title="Student")
    body = post(api_client_for(org.sdr), f"/api/v1/leads/{poor.pk}/screen", {"step": 1}).json()
    assert (body["fit_score"], body["screen1_result"], body["status"], body["disqualify_reason"]) == (
        0,
        "fail",
        "disqualified",
        "poor_fit",
    )
    middle = LeadFactory(owner=org.sdr, team=org.teams["east"], industry="saas")
    body = post(api_client_for(org.sdr), f"/api/v1/leads/{middle.pk}/screen", {"step": 1}).json()
    assert (body["fit_score"], body["screen1_result"], body["status"]) == (40, "nurture", "nurture")


@pytest.mark.django_db
def test_screen2_records_answers_and_qualifies(org, api_client_for):
    lead = qualified_lead(org, need_confirmed=False, purchase_intent="unknown", estimated_value=None)
    client = api_client_for(org.sdr)
    body = post(client, f"/api/v1/leads/{lead.pk}/screen", {"step": 2, "need_confirmed": True}).json()
    assert body["screen2_unmet"] == ["no_customer_signal", "intent_not_yes", "value_below_threshold"]
    post(
        client,
        f"/api/v1/leads/{lead.pk}/signals",
        {"signal_type": "proposal", "originator": "customer", "note": "Asked for a proposal"},
    )
    body = post(
        client, f"/api/v1/leads/{lead.pk}/screen", {"step": 2, "purchase_intent": "yes", "estimated_value": "150000"}
    ).json()
    assert body["screen2_unmet"] == []
    assert body["status"] == "qualified"


CONDITIONS = [
    ("screen1_not_passed", {"screen1_result": "pending"}),
    ("need_not_confirmed", {"need_confirmed": False}),
    ("intent_not_yes", {"purchase_intent": "unknown"}),
    ("value_below_threshold", {"estimated_value": Decimal("99999.99")}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("code", "change"), CONDITIONS)
def test_conversion_refused_per_condition(org, api_client_for, code, change):
    lead = qualified_lead(org, **change)
    SignalFactory(lead=lead, originator="customer")
    r = post(api_client_for(org.sdr), f"/api/v1/leads/{lead.pk}/convert", {})
    assert r.status_code == 422
    assert r.json()["code"] == "conversion_refused"
    assert r.json()["unmet"] == [code]
    assert Lead.objects.get(pk=lead.pk).status == "screening"


@pytest.mark.django_db
def test_conversion_refused_without_a_customer_originated_signal(org, api_client_for):
    lead = qualified_lead(org)
    SignalFactory(lead=lead, originator="us", signal_type="outreach")
    r = post(api_client_for(org.sdr), f"/api/v1/leads/{lead.pk}/convert", {})
    assert r.status_code == 422
    assert r.json()["unmet"] == ["no_customer_signal"]


@pytest.mark.django_db
def test_conversion_refused_lists_every_unmet_condition(org, api_client_for):
    lead = LeadFactory(owner=org.sdr, team=org.teams["east"])
    r = post(api_client_for(org.sdr), f"/api/v1/leads/{lead.pk}/convert", {})
    assert r.json()["unmet"] == [
        "screen1_not_passed",
        "need_not_confirmed",
        "no_customer_signal",
        "intent_not_yes",
        "value_below_threshold",
    ]
    assert len(r.json()["fields"]["unmet"]) == 5


@pytest.mark.django_db
def test_value_threshold_per_segment(org, api_client_for):
    ValueThreshold.objects.create(segment="10-49", min_value=Decimal("20000"), currency="CNY")
    lead = qualified_lead(org, company_size="10-49", estimated_value=Decimal("25000"))
    SignalFactory(lead=lead)
    from keyfit.leads.services import conversion_unmet

    assert conversion_unmet(lead) == []
    lead.currency = "USD"
    assert conversion_unmet(lead) == ["value_below_threshold"]


@pytest.mark.django_db
def test_merge_keeps_signals_and_history(org, api_client_for):
    target = LeadFactory(owner=org.sdr, team=org.teams["east"], phone="")
    source = LeadFactory(
        owner=org.sdr, team=org.teams["east"], phone="13800138000", phone_normalized="+8613800138000", priority=80
    )
    SignalFactory(lead=source)
    RoutingDecision.objects.create(lead=source, kind="manual", reason="x")
    r = post(api_client_for(org.sdr), "/api/v1/leads/merge", {"target_id": target.pk, "source_ids": [source.pk]})
    assert r.status_code == 200, r.content
    assert r.json()["phone_normalized"] == "+8613800138000"
    assert r.json()["priority"] == 80
    assert LeadSignal.objects.get().lead_id == target.pk
    source.refresh_from_db()
    assert (source.merged_into_id, source.status, source.disqualify_reason.code) == (
        target.pk,
        "disqualified",
        "duplicate",
    )
    event = AuditEvent.objects.get(object_id=str(target.pk), action="merge")
    assert event.actor == org.sdr and event.changes["_extra"] == {"merged": [source.pk]}
    decisions = api_client_for(org.sdr).get(f"/api/v1/leads/{target.pk}/decisions").json()
    assert [d["lead_id"] for d in decisions] == [source.pk]


@pytest.mark.django_db
def test_merge_needs_write_access_to_every_lead(org, api_client_for):
    target = LeadFactory(owner=org.sdr, team=org.teams["east"])
    other = LeadFactory(owner=org.ae, team=org.teams["east"])
    r = post(api_client_for(org.sdr), "/api/v1/leads/merge", {"target_id": target.pk, "source_ids": [other.pk]})
    assert r.status_code == 403
    assert Lead.objects.get(pk=other.pk).merged_into_id is None


@pytest.mark.django_db
def test_route_endpoint_returns_counts_and_decisions(org, api_client_for, django_assert_max_num_queries):
    rt = RoutingTeamFactory(team=org.teams["east"])
    RoutingMemberFactory(routing_team=rt, user=org.sdr)
    RoutingRuleFactory(routing_team=rt, name="East China SaaS")
    leads = [LeadFactory() for _ in range(20)]
    client = api_client_for(org.admin)
    assert post(api_client_for(org.sdr), "/api/v1/leads/route", {}).status_code == 403
    assert post(api_client_for(org.east_manager), "/api/v1/leads/route", {}).status_code == 403
    assert Lead.objects.filter(owner__isnull=False).count() == 0
    with django_assert_max_num_queries(22):
        r = post(client, "/api/v1/leads/route", {})
    body = r.json()
    assert (body["routed"], body["unrouted"]) == (20, 0)
    assert (
        body["decisions"][0]["reason"]
        == f"lead {leads[0].pk} → {org.sdr.full_name}: rule 'East China SaaS', round robin"
    )
    r = client.get(f"/api/v1/leads/{leads[0].pk}/decisions")
    assert r.json()[0]["owner_id"] == org.sdr.pk
    mine = LeadFactory(team=org.teams["east"])
    r = post(api_client_for(org.east_manager), "/api/v1/leads/route", {"lead_ids": [mine.pk]})
    assert r.json()["routed"] == 1
    hidden = LeadFactory(team=org.teams["south"])
    assert post(api_client_for(org.east_manager), "/api/v1/leads/route", {"lead_ids": [hidden.pk]}).status_code == 404


@pytest.mark.django_db
def test_manual_reassignment_needs_a_reason(org, api_client_for):
    lead = LeadFactory(owner=org.sdr, team=org.teams["east"])
    client = api_client_for(org.east_manager)
    r = post(client, f"/api/v1/leads/{lead.pk}/reassign", {"owner_id": org.ae.pk, "reason": "  "})
    assert r.status_code == 422
    r = post(client, f"/api/v1/leads/{lead.pk}/reassign", {"owner_id": org.ae.pk, "reason": "Speaks Cantonese"})
    assert r.status_code == 200
    d = RoutingDecision.objects.get(lead=lead)
    assert (d.kind, d.from_owner_id, d.to_owner_id) == ("manual", org.sdr.pk, org.ae.pk)
    assert d.reason.endswith("Speaks Cantonese")


@pytest.mark.django_db
def test_bulk_create_validates_each_row(org):
    from keyfit.leads.services import leads_bulk_create

    LeadFactory(external_id="SF-1")
    rows = [
        {"email": "a@corp.cn", "external_id": "SF-2", "known_converted": True, "source": "import"},
        {"email": "bad"},
        {"email": "c@corp.cn", "external_id": "SF-1"},
        {"email": "d@corp.cn", "external_id": "SF-2"},
        {"phone": "13800138000", "source": "import"},
    ]
    results = leads_bulk_create(actor=org.admin, rows=rows)
    assert [bool(r["lead_id"]) for r in results] == [True, False, False, False, True]
    assert list(results[1]["errors"]) == ["email"]
    assert list(results[2]["errors"]) == ["external_id"]
    assert Lead.objects.get(pk=results[4]["lead_id"]).phone_normalized == "+8613800138000"
    assert Lead.objects.get(pk=results[0]["lead_id"]).known_converted is True
