import json
from decimal import Decimal

import pytest

from keyfit.accounts.choices import BuyingRole
from keyfit.core.models import AuditEvent
from keyfit.pipeline.models import Activity, ActivityQuestion, Opportunity, Question, StageChange
from keyfit.pipeline.tests.factories import PipelineAccountFactory, PipelineContactFactory

pytestmark = pytest.mark.django_db


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def _patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def test_create_list_detail(org, api_client_for):
    account = PipelineAccountFactory(owner=org.ae, team=org.teams["east"])
    buyer = PipelineContactFactory(account=account)
    client = api_client_for(org.ae)
    response = _post(
        client,
        "/api/v1/opportunities",
        {
            "name": "MES upgrade",
            "account_id": account.pk,
            "amount": "250000.00",
            "currency": "CNY",
            "contacts": [{"contact_id": buyer.pk, "role": "economic_buyer", "is_key": True}],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stage"] == "s3_guiding" and body["probability"] == 20 and body["amount"] == "250000.00"
    assert body["contacts"][0]["role"] == "economic_buyer" and body["contacts"][0]["is_key"] is True
    assert body["version"] == 1
    listing = client.get("/api/v1/opportunities?stage=s3_guiding").json()
    assert [i["id"] for i in listing["items"]] == [body["id"]] and listing["next_cursor"] is None
    assert client.get(f"/api/v1/opportunities/{body['id']}").json()["name"] == "MES upgrade"


def test_list_is_cursor_paginated_with_constant_queries(
    org, api_client_for, make_opportunity, django_assert_max_num_queries
):
    for i in range(7):
        make_opportunity(org.ae, name=f"D{i}")
    client = api_client_for(org.ae)
    seen = []
    cursor = ""
    with django_assert_max_num_queries(8):
        page = client.get(f"/api/v1/opportunities?limit=3{cursor}").json()
    while True:
        seen += [i["name"] for i in page["items"]]
        if not page["next_cursor"]:
            break
        page = client.get(f"/api/v1/opportunities?limit=3&cursor={page['next_cursor']}").json()
    assert sorted(seen) == [f"D{i}" for i in range(7)]


def test_patch_with_stale_version_is_409_and_keeps_first_edit(org, api_client_for, make_opportunity):
    opp = make_opportunity(org.ae)
    ae, manager = api_client_for(org.ae), api_client_for(org.east_manager)
    first = _patch(ae, f"/api/v1/opportunities/{opp.pk}", {"version": 1, "need": "Reduce downtime"})
    assert first.status_code == 200 and first.json()["version"] == 2
    second = _patch(manager, f"/api/v1/opportunities/{opp.pk}", {"version": 1, "need": "Overwrite"})
    assert second.status_code == 409
    body = second.json()
    assert body["code"] == "conflict" and body["current"]["need"] == "Reduce downtime"
    assert body["current"]["version"] == 2
    opp.refresh_from_db()
    assert opp.need == "Reduce downtime"


def test_manual_probability_is_kept_apart(org, api_client_for, make_opportunity):
    opp = make_opportunity(org.ae)
    body = _patch(api_client_for(org.ae), f"/api/v1/opportunities/{opp.pk}", {"version": 1, "manual_probability": 35})
    body = body.json()
    assert (body["computed_probability"], body["manual_probability"], body["probability"]) == (20, 35, 35)


def test_move_refused_payload_then_override(org, api_client_for, make_opportunity):
    opp = make_opportunity(org.ae)
    response = _post(api_client_for(org.ae), f"/api/v1/opportunities/{opp.pk}/move", {"stage": "s4_value"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "gate_refused"
    assert [u["code"] for u in body["unmet"]] == [
        "mne_complete",
        "economic_buyer_identified",
        "decision_criteria_known",
        "feasibility_confirmed_by_customer",
    ]
    assert set(body["unmet"][0]) == {"code", "label", "detail"}
    assert StageChange.objects.filter(opportunity=opp).count() == 1
    response = _post(
        api_client_for(org.admin),
        f"/api/v1/opportunities/{opp.pk}/move",
        {"stage": "s4_value", "override": True, "reason": "Board decision"},
    )
    assert response.status_code == 200 and response.json()["stage"] == "s4_value"
    history = api_client_for(org.ae).get(f"/api/v1/opportunities/{opp.pk}/history").json()
    assert [(h["from_stage"], h["to_stage"], h["override"]) for h in history] == [
        (None, "s3_guiding", False),
        ("s3_guiding", "s4_value", True),
    ]
    assert history[1]["reason"] == "Board decision" and len(history[1]["overridden"]) == 4


def test_move_refusal_labels_are_translated(org, api_client_for, make_opportunity):
    opp = make_opportunity(org.ae)
    response = api_client_for(org.ae).post(
        f"/api/v1/opportunities/{opp.pk}/move",
        json.dumps({"stage": "s4_value"}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.json()["unmet"][0]["label"] == "MNE 档案完整"


def test_gate_check_endpoint(org, api_client_for, make_opportunity):
    opp = make_opportunity(org.ae, ready=True)
    body = api_client_for(org.ae).get(f"/api/v1/opportunities/{opp.pk}/gate?stage=s4_value").json()
    assert body == {"stage": "s4_value", "unmet": []}


def test_lost_needs_reason(org, api_client_for, make_opportunity):
    opp = make_opportunity(org.ae)
    client = api_client_for(org.ae)
    response = _post(client, f"/api/v1/opportunities/{opp.pk}/move", {"stage": "lost"})
    assert response.status_code == 422 and "lost_reason" in response.json()["fields"]
    response = _post(client, f"/api/v1/opportunities/{opp.pk}/move", {"stage": "lost", "lost_reason": "no_decision"})
    assert response.status_code == 200 and response.json()["lost_reason"] == "no_decision"


def test_questions_and_activity_with_answers_filling_mne(org, api_client_for, make_opportunity):
    opp = make_opportunity(org.ae)
    contact = opp.deal_contacts.get().contact
    client = api_client_for(org.ae)
    questions = client.get("/api/v1/questions?category=need").json()
    assert questions and all(q["category"] == "need" for q in questions)
    assert Question.objects.count() >= 30
    response = _post(
        client,
        "/api/v1/activities",
        {
            "kind": "visit",
            "subject": "Plant visit",
            "opportunity_id": opp.pk,
            "duration_minutes": 90,
            "channel": "field",
            "contact_ids": [contact.pk],
            "next_step": "Send proposal",
            "next_step_date": "2026-12-01",
            "questions": [
                {"question": "why_now", "answer": "Audit in March", "use_as": "motivation"},
                {"question": "must_solve", "answer": "Scrap rate above 4%", "use_as": "need"},
                {"question": "competitor_view", "answer": "Cheaper than A"},
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["contact_ids"] == [contact.pk] and body["account_id"] == opp.account_id
    assert [q["question"] for q in body["questions"]] == ["why_now", "must_solve", "competitor_view"]
    opp.refresh_from_db()
    assert opp.motivation == "Audit in March" and opp.need == "Scrap rate above 4%" and opp.expectations == ""
    # version-checked edit of the activity
    stale = _patch(client, f"/api/v1/activities/{body['id']}", {"version": 5, "done": True})
    assert stale.status_code == 409
    done = _patch(client, f"/api/v1/activities/{body['id']}", {"version": 1, "done": True})
    assert done.status_code == 200 and done.json()["done"] is True
    listing = client.get(f"/api/v1/activities?opportunity={opp.pk}").json()
    assert [a["id"] for a in listing["items"]] == [body["id"]]
    assert client.delete(f"/api/v1/activities/{body['id']}").status_code == 204
    assert not Activity.objects.exists() and not ActivityQuestion.objects.exists()


# --- permissions over roles -----------------------------------------------------------------------

READERS_OF_AE = ["admin", "vp", "east_manager", "ae", "sdr", "viewer"]
OUTSIDERS_OF_AE = ["ae2", "kam", "south_manager", "south_ae", "south_sdr"]


@pytest.mark.parametrize("role", OUTSIDERS_OF_AE)
def test_out_of_scope_is_404_and_nothing_written(org, api_client_for, make_opportunity, role):
    opp = make_opportunity(org.ae)
    client = api_client_for(getattr(org, role))
    audit_before = AuditEvent.objects.count()
    assert client.get(f"/api/v1/opportunities/{opp.pk}").status_code == 404
    assert client.get(f"/api/v1/opportunities/{opp.pk}/history").status_code == 404
    assert _patch(client, f"/api/v1/opportunities/{opp.pk}", {"version": 1, "name": "X"}).status_code == 404
    assert (
        _post(client, f"/api/v1/opportunities/{opp.pk}/move", {"stage": "lost", "lost_reason": "other"}).status_code
        == 404
    )
    assert client.delete(f"/api/v1/opportunities/{opp.pk}").status_code == 404
    assert (
        _post(client, "/api/v1/activities", {"kind": "call", "subject": "x", "opportunity_id": opp.pk}).status_code
        == 404
    )
    assert opp.pk not in [i["id"] for i in client.get("/api/v1/opportunities").json()["items"]]
    opp.refresh_from_db()
    assert opp.name == "Deal" and opp.version == 1 and opp.stage.code == "s3_guiding"
    assert AuditEvent.objects.count() == audit_before and not Activity.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "sdr"])
def test_visible_but_not_writable_is_403_and_nothing_written(org, api_client_for, make_opportunity, role):
    opp = make_opportunity(org.ae)
    client = api_client_for(getattr(org, role))
    audit_before = AuditEvent.objects.count()
    assert client.get(f"/api/v1/opportunities/{opp.pk}").status_code == 200
    assert _patch(client, f"/api/v1/opportunities/{opp.pk}", {"version": 1, "name": "X"}).status_code == 403
    assert (
        _post(client, f"/api/v1/opportunities/{opp.pk}/move", {"stage": "lost", "lost_reason": "other"}).status_code
        == 403
    )
    assert client.delete(f"/api/v1/opportunities/{opp.pk}").status_code == 403
    assert (
        _post(client, "/api/v1/activities", {"kind": "call", "subject": "x", "opportunity_id": opp.pk}).status_code
        == 403
    )
    opp.refresh_from_db()
    assert opp.name == "Deal" and opp.version == 1 and opp.stage.code == "s3_guiding"
    assert AuditEvent.objects.count() == audit_before and not Activity.objects.exists()


def test_viewer_cannot_create(org, api_client_for):
    account = PipelineAccountFactory(owner=org.ae, team=org.teams["east"])
    response = _post(api_client_for(org.viewer), "/api/v1/opportunities", {"name": "X", "account_id": account.pk})
    assert response.status_code == 403 and not Opportunity.objects.exists()


def test_create_for_someone_outside_my_scope_is_refused_and_rolled_back(org, api_client_for):
    account = PipelineAccountFactory(owner=org.ae, team=org.teams["east"])
    response = _post(
        api_client_for(org.ae),
        "/api/v1/opportunities",
        {"name": "X", "account_id": account.pk, "owner_id": org.south_ae.pk, "team_id": org.teams["south"].pk},
    )
    assert response.status_code == 403
    assert not Opportunity.objects.exists() and not StageChange.objects.exists()


@pytest.mark.parametrize("role", ["admin", "vp", "east_manager"])
def test_managers_in_scope_can_move(org, api_client_for, make_opportunity, role):
    opp = make_opportunity(org.ae)
    response = _post(
        api_client_for(getattr(org, role)),
        f"/api/v1/opportunities/{opp.pk}/move",
        {"stage": "lost", "lost_reason": "other"},
    )
    assert response.status_code == 200


def test_amount_is_exact_decimal(org, api_client_for, make_opportunity):
    opp = make_opportunity(org.ae)
    _patch(api_client_for(org.ae), f"/api/v1/opportunities/{opp.pk}", {"version": 1, "amount": "0.10"})
    opp.refresh_from_db()
    assert opp.amount == Decimal("0.10")


def test_contacts_must_be_of_the_account(org, api_client_for):
    account = PipelineAccountFactory(owner=org.ae, team=org.teams["east"])
    stranger = PipelineContactFactory(account=PipelineAccountFactory(owner=org.ae))
    response = _post(
        api_client_for(org.ae),
        "/api/v1/opportunities",
        {"name": "X", "account_id": account.pk, "contacts": [{"contact_id": stranger.pk, "role": BuyingRole.CHAMPION}]},
    )
    assert response.status_code == 422 and not Opportunity.objects.exists()


def test_win_through_the_api_records_contract_and_enters_onboarding(org, api_client_for, make_opportunity):
    from keyfit.pipeline import gates
    from keyfit.pipeline.models import Contract

    previous = gates.get_requirement("value_case_acknowledged")
    gates.register_requirement("value_case_acknowledged", "Value case acknowledged", lambda o: (True, ""))
    try:
        opp = make_opportunity(org.ae, ready=True, amount=Decimal("9000.00"))
        client = api_client_for(org.ae)
        assert _post(client, f"/api/v1/opportunities/{opp.pk}/move", {"stage": "s4_value"}).status_code == 200
        refused = _post(client, f"/api/v1/opportunities/{opp.pk}/move", {"stage": "won"})
        assert refused.status_code == 409 and [u["code"] for u in refused.json()["unmet"]] == ["contract_signed"]
        won = _post(
            client,
            f"/api/v1/opportunities/{opp.pk}/win",
            {
                "signed_on": "2026-06-01",
                "start_date": "2026-07-01",
                "end_date": "2027-06-30",
                "annual_recurring_value": "8800.00",
            },
        )
        assert won.status_code == 200, won.content
        assert won.json()["stage"] == "s5_onboarding" and won.json()["won_on"]
        contract = Contract.objects.get(opportunity=opp)
        assert contract.annual_recurring_value == Decimal("8800.00") and contract.currency == "CNY"
    finally:
        gates._REGISTRY["value_case_acknowledged"] = previous


def test_deal_contacts_put_and_delete(org, api_client_for, make_opportunity):
    opp = make_opportunity(org.ae)
    extra = PipelineContactFactory(account=opp.account)
    client = api_client_for(org.ae)
    response = client.put(
        f"/api/v1/opportunities/{opp.pk}/contacts/{extra.pk}",
        json.dumps({"role": "economic_buyer", "is_key": True, "motivation": "Promotion"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    roles = {c["contact_id"]: (c["role"], c["motivation"]) for c in response.json()["contacts"]}
    assert roles[extra.pk] == ("economic_buyer", "Promotion")
    assert client.delete(f"/api/v1/opportunities/{opp.pk}/contacts/{extra.pk}").status_code == 204
    assert not opp.deal_contacts.filter(contact=extra).exists()
    outsider = PipelineContactFactory()
    response = client.put(
        f"/api/v1/opportunities/{opp.pk}/contacts/{outsider.pk}", json.dumps({}), content_type="application/json"
    )
    assert response.status_code == 422
