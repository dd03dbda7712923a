"""Waves through the services and the API: the worked wave exactly, lifecycle, invitations, freezing."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from keyfit.core.errors import Conflict
from keyfit.core.models import AuditEvent, SecureLink
from keyfit.fitcanvas import selectors, services
from keyfit.fitcanvas.models import Answer, QuestionnaireTemplate, Rater, Wave
from keyfit.fitcanvas.tests.factories import (
    AccountFactory,
    ContactFactory,
    answer_all,
    make_worked_wave,
    open_wave,
)

pytestmark = pytest.mark.django_db


def r2(x):
    return round(x, 2)


def assert_worked(r):
    assert r["validated"] is True and r["headline"]["label"] == "validated"
    assert r2(r["headline"]["overall"]) == 3.17 and r["maturity_band"] == "cooperative"
    assert r2(r["sides"]["customer"]["overall"]) == 3.17
    assert r2(r["sides"]["supplier"]["overall"]) == 3.44
    assert [r2(r["sides"]["customer"]["levels"][lv]) for lv in ("PLAN", "EXEC", "RES")] == [3.00, 3.33, 3.17]
    assert r2(r["gaps"]["bias"]) == 0.28
    assert r2(r["gaps"]["mean_absolute"]) == 0.50
    assert [r2(r["gaps"]["loa_lower"]), r2(r["gaps"]["loa_upper"])] == [-0.93, 1.49]
    assert r["relationship_solid"] is False
    e = r["elements"]
    assert [e["PLAN_STRATEGY"]["gap_class"], r2(e["PLAN_STRATEGY"]["gap"])] == ["significant", 1.00]
    assert [e["PLAN_COMMUNICATION"]["gap_class"], r2(e["PLAN_COMMUNICATION"]["gap"])] == ["significant", 1.17]
    assert [e["PLAN_RELATIONSHIPS"]["gap_class"], r2(e["PLAN_RELATIONSHIPS"]["gap"])] == ["partial", 0.83]
    assert [e["RES_KNOWLEDGE"]["gap_direction"], r2(e["RES_KNOWLEDGE"]["gap"])] == ["hidden_strength", -0.67]
    assert r["improvement_areas"] == ["PLAN_COMMUNICATION", "PLAN_STRATEGY", "RES_STRUCTURE"]
    assert [r2(e[c]["priority"]) for c in r["improvement_areas"]] == [3.67, 3.00, 2.67]
    assert r["strengths"] == ["EXEC_SOLUTIONS", "RES_TALENT"]
    assert r2(e["PLAN_COMMUNICATION"]["r_wg"]["customer"]) == 0.75
    assert r2(e["PLAN_COMMUNICATION"]["r_wg"]["supplier"]) == 0.83


def test_seeded_default_template_has_27_statements():
    template = QuestionnaireTemplate.objects.get(is_default=True)
    assert template.statements.count() == 27
    assert set(template.statements.values_list("element", flat=True)) == {
        "PLAN_STRATEGY",
        "PLAN_RELATIONSHIPS",
        "PLAN_COMMUNICATION",
        "EXEC_SOLUTIONS",
        "EXEC_PROCESSES",
        "EXEC_SYSTEMS",
        "RES_TALENT",
        "RES_STRUCTURE",
        "RES_KNOWLEDGE",
    }
    st1 = template.statements.get(code="ST1")
    assert st1.customer_en == "This supplier understands our strategic priorities for the next three years."
    assert st1.supplier_zh_hans == "客户会认为我们理解其未来三年的战略重点。"


def test_worked_wave_through_the_service_and_the_api(org, api_client_for, django_assert_max_num_queries):
    wave = make_worked_wave(org.kam)
    with django_assert_max_num_queries(3):
        assert_worked(selectors.wave_compute_results(wave))
    response = api_client_for(org.kam).get(f"/api/v1/fit/waves/{wave.pk}/results")
    assert response.status_code == 200
    assert_worked(response.json())
    services.wave_close(wave=wave, actor=org.kam)
    closed = api_client_for(org.kam).get(f"/api/v1/fit/waves/{wave.pk}/results").json()
    assert closed["wave"]["frozen"] is True
    assert_worked(closed)


def test_closing_freezes_results(org):
    wave = make_worked_wave(org.kam)
    services.wave_close(wave=wave, actor=org.kam)
    wave.refresh_from_db()
    snapshot = wave.results
    # even a direct change of an answer afterwards does not change the shown results
    Answer.objects.filter(rater__wave=wave).update(score=1)
    assert selectors.wave_results(wave) == snapshot
    rater = wave.raters.filter(side="customer").first()
    with pytest.raises(Conflict):
        answer_all(rater, {"PLAN_STRATEGY": 5})


def test_wave_over_wave_deltas_and_persistent_bias(org):
    account = AccountFactory(owner=org.kam, team=org.kam.team)
    first = make_worked_wave(org.kam, account=account, name="Q1")
    services.wave_close(wave=first, actor=org.kam)
    Wave.objects.filter(pk=first.pk).update(due_date=timezone.localdate() - datetime.timedelta(days=90))
    second = make_worked_wave(org.kam, account=account, name="Q2")
    r = selectors.wave_results(second)
    assert "PLAN_COMMUNICATION" in r["persistent_bias"]
    assert r["elements"]["PLAN_COMMUNICATION"]["persistent_bias"] is True
    assert r["deltas"]["previous_wave"] == first.pk
    assert r["deltas"]["overall"]["customer"] == 0
    assert [t["name"] for t in r["trend"]] == ["Q1", "Q2"]


def test_invite_emails_each_customer_in_their_language_and_returns_links_once(
    org, api_client_for, django_capture_on_commit_callbacks
):
    account = AccountFactory(owner=org.kam, team=org.kam.team)
    zh = ContactFactory(account=account, language="zh-hans", email="zh@customer.example")
    en = ContactFactory(account=account, language="en", email="en@customer.example")
    wave = open_wave(kam=org.kam, account=account, suppliers=[org.ae], contacts=[zh, en])
    client = api_client_for(org.kam)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/fit/waves/{wave.pk}/invite", content_type="application/json")
    assert response.status_code == 200, response.content
    links = response.json()["links"]
    assert len(links) == 2 and response.json()["invited"] == 3
    by_to = {m.to[0]: m for m in mail.outbox}
    assert set(by_to) == {"zh@customer.example", "en@customer.example", org.ae.email}
    assert "合作" in by_to["zh@customer.example"].subject
    assert "partnership" in by_to["en@customer.example"].subject
    for link in links:
        token = link["url"].rstrip("/").rsplit("/", 1)[1]
        assert len(token) >= 22  # ≥128 bits
        assert not SecureLink.objects.filter(token_hash=token).exists()
        assert link["url"] in "".join(m.body for m in mail.outbox)
    # no stored copy of the token: only its hash
    assert SecureLink.objects.filter(purpose=services.LINK_PURPOSE).count() == 2
    # re-sending makes a new link and revokes the old one
    old_url = links[0]["url"]
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(
            f"/api/v1/fit/waves/{wave.pk}/invite",
            {"rater_ids": [links[0]["rater_id"]]},
            content_type="application/json",
        ).json()["links"]
    assert again[0]["url"] != old_url
    assert (
        client.get(old_url.replace("http://testserver/fit/r/", "/api/v1/fit/respond/").rstrip("/")).status_code == 404
    )


def test_remind_only_raters_who_have_not_submitted(org, django_capture_on_commit_callbacks):
    account = AccountFactory(owner=org.kam, team=org.kam.team)
    a, b = ContactFactory(account=account), ContactFactory(account=account)
    wave = open_wave(kam=org.kam, account=account, contacts=[a, b])
    with django_capture_on_commit_callbacks(execute=True):
        services.wave_invite(wave=wave, actor=org.kam)
    answer_all(Rater.objects.get(wave=wave, contact=a), {"PLAN_STRATEGY": 4})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.wave_remind(wave=wave, actor=org.kam) == 1
    assert [m.to for m in mail.outbox] == [[b.email]]
    assert "Reminder" in mail.outbox[0].subject


def test_lifecycle_rules(org):
    account = AccountFactory(owner=org.kam, team=org.kam.team)
    wave = services.wave_create(account=account, actor=org.kam, name="Draft", due_date=timezone.localdate())
    with pytest.raises(Conflict):
        services.wave_invite(wave=wave, actor=org.kam)
    with pytest.raises(Conflict):
        services.wave_close(wave=wave, actor=org.kam)
    services.wave_open(wave=wave, actor=org.kam)
    with pytest.raises(Conflict):
        services.wave_delete(wave=wave, actor=org.kam)
    with pytest.raises(Conflict):
        services.wave_update(wave=wave, actor=org.kam, version=1, name="stale")
    assert AuditEvent.objects.filter(object_id=str(wave.pk), verb="open").exists()


def test_stale_wave_edit_gets_409_with_current_values(org, api_client_for):
    account = AccountFactory(owner=org.kam, team=org.kam.team)
    client = api_client_for(org.kam)
    created = client.post(
        "/api/v1/fit/waves",
        {"account_id": account.pk, "name": "Q3", "due_date": str(timezone.localdate() + datetime.timedelta(days=7))},
        content_type="application/json",
    ).json()
    ok = client.patch(
        f"/api/v1/fit/waves/{created['id']}", {"version": 1, "name": "Q3 review"}, content_type="application/json"
    )
    assert ok.status_code == 200 and ok.json()["version"] == 2
    stale = client.patch(
        f"/api/v1/fit/waves/{created['id']}", {"version": 1, "name": "Other"}, content_type="application/json"
    )
    assert stale.status_code == 409
    assert stale.json()["current"]["name"] == "Q3 review"


def test_supplier_rater_answers_in_the_app_with_supplier_phrasing(org, api_client_for):
    wave = open_wave(kam=org.kam, suppliers=[org.kam])
    client = api_client_for(org.kam)
    q = client.get(f"/api/v1/fit/waves/{wave.pk}/answers?lang=en").json()
    first = q["elements"][0]["statements"][0]
    assert first["text"].startswith("The customer would say we understand")
    saved = client.put(
        f"/api/v1/fit/waves/{wave.pk}/answers",
        {"answers": {str(first["id"]): 4}, "horizon": "long"},
        content_type="application/json",
    ).json()
    assert saved["elements"][0]["statements"][0]["answer"] == 4 and saved["answered"] == 1
    assert client.get(f"/api/v1/fit/waves/{wave.pk}/answers").status_code == 200
    assert api_client_for(org.ae).get(f"/api/v1/fit/waves/{wave.pk}/answers").status_code == 404


def test_template_versions_are_frozen_once_used_and_copies_leave_past_waves_alone(org, api_client_for):
    template = QuestionnaireTemplate.objects.get(is_default=True)
    wave = open_wave(kam=org.kam)
    admin = api_client_for(org.admin)
    st1 = template.statements.get(code="ST1")
    frozen = admin.patch(
        f"/api/v1/fit/templates/{template.pk}/statements/{st1.pk}",
        {"customer_en": "x"},
        content_type="application/json",
    )
    assert frozen.status_code == 409
    copy = admin.post(f"/api/v1/fit/templates/{template.pk}/copy").json()
    assert copy["version_number"] == 2 and len(copy["statements"]) == 27
    st1_copy = next(s for s in copy["statements"] if s["code"] == "ST1")
    assert (
        admin.patch(
            f"/api/v1/fit/templates/{copy['id']}/statements/{st1_copy['id']}",
            {"customer_en": "Reworded"},
            content_type="application/json",
        ).json()["customer_en"]
        == "Reworded"
    )
    assert (
        admin.post(f"/api/v1/fit/templates/{copy['id']}/statements/{st1_copy['id']}/retire").json()["retired"] is True
    )
    added = admin.post(
        f"/api/v1/fit/templates/{copy['id']}/statements",
        {
            "code": "ST4",
            "element": "PLAN_STRATEGY",
            "supplier_en": "a",
            "supplier_zh_hans": "甲",
            "customer_en": "b",
            "customer_zh_hans": "乙",
        },
        content_type="application/json",
    )
    assert added.status_code == 201
    st1.refresh_from_db()
    assert st1.customer_en.startswith("This supplier understands") and not st1.retired
    assert len(selectors.questionnaire(wave.template_id)[0]["statements"]) == 3
    # only admins edit templates
    assert api_client_for(org.kam).post(f"/api/v1/fit/templates/{template.pk}/copy").status_code == 403
    assert QuestionnaireTemplate.objects.count() == 2


def test_results_endpoint_query_budget(org, api_client_for, django_assert_max_num_queries):
    wave = make_worked_wave(org.kam)
    client = api_client_for(org.kam)
    with django_assert_max_num_queries(8):
        assert client.get(f"/api/v1/fit/waves/{wave.pk}/results").status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/fit/waves").status_code == 200
