"""Security of the customer links: guessing, expiry, revocation, foreign tokens, rate limiting, leaks."""

import datetime
import json
import secrets

import pytest
from django.test import Client
from django.utils import timezone

from keyfit.core.models import AuditEvent, SecureLink
from keyfit.core.securelinks import MAX_FAILURES, secure_link_issue
from keyfit.fitcanvas import services
from keyfit.fitcanvas.models import Answer, QuestionnaireTemplate, Rater
from keyfit.fitcanvas.tests.factories import (
    AccountFactory,
    ContactFactory,
    answer_all,
    open_wave,
    statements_by_element,
)

pytestmark = pytest.mark.django_db


def invite(wave, kam):
    links = services.wave_invite(wave=wave, actor=kam, base_url="http://testserver")
    return {link["rater_id"]: link["url"].rstrip("/").rsplit("/", 1)[1] for link in links}


@pytest.fixture
def setup(org):
    account = AccountFactory(owner=org.kam, team=org.kam.team, name="Acme Precision")
    contact = ContactFactory(account=account, name="Zhou Executive", language="en")
    other = ContactFactory(account=account, name="Other Respondent")
    wave = open_wave(kam=org.kam, account=account, suppliers=[org.kam], contacts=[contact, other])
    tokens = invite(wave, org.kam)
    rater = Rater.objects.get(wave=wave, contact=contact)
    return wave, rater, tokens[rater.pk], tokens


def page(client, token, **params):
    return client.get(f"/fit/r/{token}/", params)


def api(client, token):
    return client.get(f"/api/v1/fit/respond/{token}")


def test_valid_link_opens_without_login_and_is_audited(setup):
    _wave, rater, token, _ = setup
    response = page(Client(), token)
    assert response.status_code == 200
    assert "This supplier understands our strategic priorities" in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert api(Client(), token).status_code == 200
    assert AuditEvent.objects.filter(object_id=str(rater.pk), verb="open").count() == 2


def test_guessed_expired_revoked_and_foreign_tokens_get_the_same_plain_404(setup, org):
    wave, rater, token, _ = setup
    guessed = page(Client(), secrets.token_urlsafe(32))
    # expired
    expired_rater = Rater.objects.filter(wave=wave, side="customer").exclude(pk=rater.pk).get()
    _, expired = secure_link_issue(
        purpose=services.LINK_PURPOSE, target=expired_rater, expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    # revoked: re-sending revokes the old token
    old = token
    invite_again = services.wave_invite(wave=wave, actor=org.kam, rater_ids=[rater.pk])
    assert invite_again
    # foreign: a live link of another purpose, and a link whose target is not a rater
    _, other_purpose = secure_link_issue(
        purpose="plans.portal", target=rater, expires_at=timezone.now() + datetime.timedelta(days=1)
    )
    _, wrong_target = secure_link_issue(
        purpose=services.LINK_PURPOSE, target=wave, expires_at=timezone.now() + datetime.timedelta(days=1)
    )
    responses = [guessed] + [page(Client(), t) for t in (expired, old, other_purpose, wrong_target, "", "x" * 300)]
    bodies = {(r.status_code, r.content) for r in responses[:-2]}
    assert len(bodies) == 1 and next(iter(bodies))[0] == 404
    assert all(r.status_code == 404 for r in responses)
    api_bodies = {
        (r.status_code, r.content)
        for r in (api(Client(), t) for t in (expired, old, other_purpose, wrong_target, "nope"))
    }
    assert len(api_bodies) == 1 and next(iter(api_bodies))[0] == 404


def test_a_token_of_wave_a_cannot_touch_wave_b(setup, org):
    _wave_a, rater_a, token_a, _ = setup
    template_b = services.template_copy(template=QuestionnaireTemplate.objects.get(is_default=True), actor=org.admin)
    account_b = AccountFactory(owner=org.kam, team=org.kam.team, name="Beta Foods")
    wave_b = services.wave_create(
        account=account_b, actor=org.kam, name="B", due_date=timezone.localdate(), template=template_b
    )
    contact_b = ContactFactory(account=account_b)
    services.rater_add(wave=wave_b, actor=org.kam, contact=contact_b)
    services.wave_open(wave=wave_b, actor=org.kam)
    b_ids = [sid for ids in statements_by_element(template_b.pk).values() for sid in ids]
    response = Client().put(
        f"/api/v1/fit/respond/{token_a}", {"answers": {str(b_ids[0]): 5}}, content_type="application/json"
    )
    assert response.status_code == 422
    assert not Answer.objects.exists()
    body = api(Client(), token_a).json()
    assert body["account"] == "Acme Precision" and "Beta Foods" not in json.dumps(body)
    # a rater-bound link of wave B's rater does not open wave A and vice versa
    assert Rater.objects.get(wave=wave_b).pk != rater_a.pk


def test_closed_wave_link_is_read_only(setup, org):
    wave, _rater, token, _ = setup
    services.wave_close(wave=wave, actor=org.kam)
    body = api(Client(), token).json()
    assert body["can_answer"] is False
    statement_id = body["elements"][0]["statements"][0]["id"]
    response = Client().put(
        f"/api/v1/fit/respond/{token}", {"answers": {str(statement_id): 3}}, content_type="application/json"
    )
    assert response.status_code == 409
    assert "This assessment is closed." in page(Client(), token).content.decode()


def test_repeated_bad_attempts_are_rate_limited(setup):
    _, _, token, _ = setup
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(MAX_FAILURES):
        assert page(client, secrets.token_urlsafe(32)).status_code == 404
    assert page(client, secrets.token_urlsafe(32)).status_code == 429
    assert page(client, token).status_code == 429  # even a good token, from the same address
    assert api(client, token).status_code == 429
    assert page(Client(REMOTE_ADDR="203.0.113.10"), token).status_code == 200


def test_save_and_submit_are_audited_and_expire_with_the_wave(setup):
    wave, rater, token, _ = setup
    first = api(Client(), token).json()["elements"][0]["statements"][0]["id"]
    Client().put(f"/api/v1/fit/respond/{token}", {"answers": {str(first): 4}}, content_type="application/json")
    Client().put(f"/api/v1/fit/respond/{token}", {"submit": True, "horizon": "long"}, content_type="application/json")
    verbs = list(AuditEvent.objects.filter(object_id=str(rater.pk), action="access").values_list("verb", flat=True))
    assert {"open", "save", "submit"} <= set(verbs)
    link = SecureLink.objects.get(purpose=services.LINK_PURPOSE, object_id=str(rater.pk), revoked_at__isnull=True)
    assert link.expires_at.date() == wave.due_date + datetime.timedelta(days=services.RESULTS_WINDOW_DAYS + 1)


def test_respondent_never_sees_supplier_ratings_others_notes_or_other_accounts(setup, org):
    wave, rater, token, _tokens = setup
    wave.notes = "INTERNAL: renewal at risk, discount ceiling 12%"
    wave.save()
    other_account = AccountFactory(owner=org.kam, team=org.kam.team, name="Gamma Secret Corp")
    open_wave(kam=org.kam, account=other_account, contacts=[ContactFactory(account=other_account)])
    supplier = Rater.objects.get(wave=wave, side="supplier")
    ids = statements_by_element(wave.template_id)
    # supplier: 5 on two items, 4 on the third → 4.6667 everywhere; the other customer: all 1
    services.answers_save(
        rater=supplier,
        actor=org.kam,
        answers={sid: (4 if i == 2 else 5) for sids in ids.values() for i, sid in enumerate(sids)},
        submit=True,
    )
    answer_all(Rater.objects.get(wave=wave, contact__name="Other Respondent"), dict.fromkeys(ids, 1))
    answer_all(rater, dict.fromkeys(ids, 3))
    services.wave_close(wave=wave, actor=org.kam)
    services.wave_share(
        wave=wave,
        actor=org.kam,
        items=["overall", "levels", "elements", "strengths", "improvement_areas", "participation"],
    )

    client = Client()
    texts = [page(client, token, step=i).content.decode() for i in range(10)]
    texts.append(page(client, token, lang="zh-hans").content.decode())
    data = api(client, token).json()
    texts.append(json.dumps(data, ensure_ascii=False))
    supplier_phrasings = ["The customer would say we understand", "客户会认为我们理解其未来三年"]
    forbidden = [
        "4.67",
        "4.6667",
        "2.67",
        "2.6667",  # supplier overall, gap to the customer mean
        "INTERNAL",
        "renewal at risk",
        "Other Respondent",
        "Gamma Secret Corp",
        org.kam.email,
        org.kam.full_name,
        *supplier_phrasings,
    ]
    for text in texts:
        for needle in forbidden:
            assert needle not in text, needle
    # shared customer aggregates are there; the answers shown are only the respondent's own
    assert data["shared_results"]["overall"] == 2.0 and data["shared_results"]["respondents"] == 2
    assert {s["answer"] for e in data["elements"] for s in e["statements"]} == {3}

    def keys(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield k
                yield from keys(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from keys(v)

    assert not [k for k in keys(data) if "supplier" in str(k) or "gap" in str(k)]


def test_the_kam_revokes_a_link_at_once(setup, org, api_client_for):
    wave, rater, token, _ = setup
    assert api(Client(), token).status_code == 200
    response = api_client_for(org.kam).post(f"/api/v1/fit/waves/{wave.pk}/raters/{rater.pk}/revoke-link")
    assert response.status_code == 204
    assert api(Client(), token).status_code == 404
    assert page(Client(), token).status_code == 404
    assert AuditEvent.objects.filter(object_id=str(rater.pk), verb="revoke_link").exists()
    viewer = api_client_for(org.viewer).post(f"/api/v1/fit/waves/{wave.pk}/raters/{rater.pk}/revoke-link")
    assert viewer.status_code == 403


def test_moving_the_due_date_moves_the_link_expiry(setup, org):
    wave, rater, token, _ = setup
    new_due = wave.due_date + datetime.timedelta(days=10)
    services.wave_update(wave=wave, actor=org.kam, version=wave.version, due_date=new_due)
    link = SecureLink.objects.get(purpose=services.LINK_PURPOSE, object_id=str(rater.pk), revoked_at__isnull=True)
    assert link.expires_at.date() == new_due + datetime.timedelta(days=services.RESULTS_WINDOW_DAYS + 1)
    assert api(Client(), token).status_code == 200


def test_respondent_endpoints_query_budget(setup, django_assert_max_num_queries):
    _, _, token, _ = setup
    client = Client()
    with django_assert_max_num_queries(8):
        body = api(client, token).json()
    ids = [s["id"] for s in body["elements"][0]["statements"]]
    with django_assert_max_num_queries(16):
        response = client.put(
            f"/api/v1/fit/respond/{token}",
            {"answers": dict.fromkeys(map(str, ids), 4)},
            content_type="application/json",
        )
    assert response.status_code == 200 and response.json()["answered"] == 3
    with django_assert_max_num_queries(14):
        assert page(client, token, step=3).status_code == 200
