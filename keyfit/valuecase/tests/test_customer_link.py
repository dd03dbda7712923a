import datetime

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keyfit.core.models import AuditEvent, SecureLink
from keyfit.core.securelinks import MAX_FAILURES, hash_token
from keyfit.valuecase import services
from keyfit.valuecase.choices import CaseState
from keyfit.valuecase.models import Acknowledgement, CustomerComment
from keyfit.valuecase.tests.factories import scrm_case

pytestmark = pytest.mark.django_db

SECRET_NOTE = "INTERNAL-ONLY discount room 7%"
GIFT = "Tea set for the CFO"


@pytest.fixture(autouse=True)
def _clear_rate_limit():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sent(opportunity, org):
    case = scrm_case(actor=org.ae, opportunity=opportunity, ratings=(4, 4, 5))
    services.value_case_update(
        actor=org.ae,
        case=case,
        version=case.version,
        data={"internal_notes": SECRET_NOTE, "summary": "Fewer lost leads, faster follow-up."},
    )
    services.value_case_line_add(
        actor=org.ae, case=case, kind="items", data={"kind": "hospitality_gift", "description": GIFT, "amount": "500"}
    )
    contact = opportunity.account.contacts.first()
    case, token = services.value_case_send(actor=org.ae, case=case, contact=contact)
    return case, token


def _url(case_id, token):
    return reverse("valuecase:customer", args=[case_id, token])


def test_token_is_long_random_hashed_and_bound(sent):
    case, token = sent
    assert len(token) >= 22  # ≥ 128 bits in URL-safe base64
    link = SecureLink.objects.get(object_id=str(case.pk))
    assert link.token_hash == hash_token(token) and token not in link.token_hash
    assert link.expires_at > timezone.now() + datetime.timedelta(days=29)


def test_customer_page_shows_summary_in_contact_language_without_internal_data(sent, opportunity, org):
    case, token = sent
    # another case of the same account must never leak
    other = scrm_case(actor=org.ae, opportunity=opportunity.__class__.objects.get(pk=opportunity.pk))
    services.value_case_update(actor=org.ae, case=other, version=other.version, data={"summary": "OTHER-CASE-TEXT"})
    response = Client().get(_url(case.pk, token))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Fewer lost leads" in html
    assert 'lang="en"' in html and "Value summary for" in html
    assert SECRET_NOTE not in html
    assert GIFT not in html and "Hospitality" not in html and "Perceived" not in html
    assert "OTHER-CASE-TEXT" not in html
    assert "SCRM: fewer lost leads" in html
    assert response["Cache-Control"] == "no-store"
    zh = Client().get(_url(case.pk, token) + "?lang=zh-hans").content.decode()
    assert 'lang="zh-hans"' in zh and "价值" in zh
    assert AuditEvent.objects.filter(verb="link_open", object_id=str(case.pk)).count() == 2


def test_contact_comments_and_acknowledges(sent, opportunity):
    case, token = sent
    client = Client()
    r = client.post(_url(case.pk, token), {"action": "comment", "body": "Please check the lead count."})
    assert r.status_code == 302
    assert CustomerComment.objects.get(case=case).body == "Please check the lead count."
    r = client.post(_url(case.pk, token), {"action": "comment", "body": "  "})
    assert r.status_code == 422 and CustomerComment.objects.count() == 1
    r = client.post(_url(case.pk, token), {"action": "acknowledge"})
    assert r.status_code == 302
    ack = Acknowledgement.objects.get(case=case)
    assert ack.contact == opportunity.account.contacts.first() and ack.case_number == case.number
    case.refresh_from_db()
    assert case.state == CaseState.ACKNOWLEDGED
    page = client.get(r["Location"])
    assert page.status_code == 200 and "data-acknowledged" in page.content.decode()
    # acknowledging twice records nothing more
    client.post(_url(case.pk, token), {"action": "acknowledge"})
    assert Acknowledgement.objects.count() == 1


def _bad_responses(case, token, other_case, other_token):
    client = Client()
    return [
        client.get(_url(case.pk, token[:-2] + "xx")),  # wrong
        client.get(_url(case.pk, "short")),
        client.get(_url(other_case.pk, token)),  # a valid token of another case
        client.get(_url(case.pk, other_token)),
        client.post(_url(other_case.pk, token), {"action": "acknowledge"}),
    ]


def test_wrong_expired_revoked_and_other_case_tokens_all_give_the_same_404(sent, org, make_opportunity):
    case, token = sent
    other_opp = make_opportunity(org.ae, ready=True, name="Other deal")
    other = scrm_case(actor=org.ae, opportunity=other_opp)
    other, other_token = services.value_case_send(actor=org.ae, case=other, contact=other_opp.account.contacts.first())
    responses = _bad_responses(case, token, other, other_token)
    # expired
    SecureLink.objects.filter(object_id=str(case.pk)).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    responses.append(Client().get(_url(case.pk, token)))
    # revoked
    SecureLink.objects.filter(object_id=str(case.pk)).update(expires_at=timezone.now() + datetime.timedelta(days=1))
    assert Client().get(_url(case.pk, token)).status_code == 200
    services.value_case_revoke_links(actor=org.ae, case=case)
    responses.append(Client().get(_url(case.pk, token)))
    responses.append(Client().post(_url(case.pk, token), {"action": "acknowledge"}))
    bodies = {(r.status_code, r.content) for r in responses}
    assert bodies == {(404, b"Not found.")}
    assert not Acknowledgement.objects.exists()
    assert AuditEvent.objects.filter(verb="link_refused", object_id=str(case.pk)).exists()


def test_resending_revokes_the_earlier_link(sent, opportunity, org):
    case, token = sent
    case, new_token = services.value_case_send(actor=org.ae, case=case, contact=opportunity.account.contacts.first())
    assert Client().get(_url(case.pk, token)).status_code == 404
    assert Client().get(_url(case.pk, new_token)).status_code == 200


def test_attempts_are_rate_limited(sent):
    case, token = sent
    client = Client()
    for _ in range(MAX_FAILURES):
        assert client.get(_url(case.pk, "x" * 43)).status_code == 404
    assert client.get(_url(case.pk, token)).status_code == 429
    assert not Acknowledgement.objects.exists()


def test_link_is_dead_after_close(sent, org):
    case, token = sent
    services.customer_acknowledge(case_id=case.pk, token=token)
    services.value_case_close(actor=org.ae, case=case)
    assert Client().get(_url(case.pk, token)).status_code == 404
