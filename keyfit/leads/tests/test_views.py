import time

import pytest
from django.core import signing
from django.test import Client

from keyfit.leads.models import Lead, LeadSignal, WebForm
from keyfit.leads.tests.factories import LeadFactory, SignalFactory


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def token(slug, age=10):
    return signing.dumps({"f": slug, "t": int(time.time()) - age}, salt="keyfit.leads.webform")


@pytest.mark.django_db
def test_queue_lists_my_open_leads_by_priority_within_budget(org, django_assert_max_num_queries):
    for p in (10, 90, 50):
        LeadFactory(owner=org.sdr, team=org.teams["east"], priority=p, company_name=f"P{p}")
    LeadFactory(owner=org.sdr, team=org.teams["east"], status="converted", company_name="Closed")
    LeadFactory(owner=org.ae, team=org.teams["east"], company_name="NotMine")
    for _ in range(30):
        LeadFactory(owner=org.sdr, team=org.teams["east"], priority=1)
    client = logged_in(org.sdr)
    client.get("/leads/")
    with django_assert_max_num_queries(12):
        r = client.get("/leads/")
    html = r.content.decode()
    rows = html[html.index('<tbody id="lead-rows">') :]  # not the page's random tokens, which may hold "P10"
    assert rows.index(">P90<") < rows.index(">P50<") < rows.index(">P10<")
    assert "Closed" not in html and "NotMine" not in html
    r = client.get("/leads/?view=all&status=converted")
    assert "Closed" in r.content.decode()


@pytest.mark.django_db
def test_lead_page_scoping(org):
    lead = LeadFactory(owner=org.sdr, team=org.teams["east"])
    assert logged_in(org.sdr).get(f"/leads/{lead.pk}/").status_code == 200
    assert logged_in(org.south_sdr).get(f"/leads/{lead.pk}/").status_code == 404
    r = logged_in(org.viewer).get(f"/leads/{lead.pk}/")
    assert r.status_code == 200 and "Run screen 1" not in r.content.decode()
    r = logged_in(org.viewer).post(f"/leads/{lead.pk}/signals/", {"signal_type": "demo", "originator": "customer"})
    assert LeadSignal.objects.count() == 0


@pytest.mark.django_db
def test_lead_page_query_budget(org, django_assert_max_num_queries):
    lead = LeadFactory(owner=org.sdr, team=org.teams["east"])
    for _ in range(5):
        SignalFactory(lead=lead)
    client = logged_in(org.sdr)
    with django_assert_max_num_queries(25):
        assert client.get(f"/leads/{lead.pk}/").status_code == 200


@pytest.mark.django_db
def test_convert_page_refuses_with_reasons(org):
    lead = LeadFactory(owner=org.sdr, team=org.teams["east"])
    r = logged_in(org.sdr).post(f"/leads/{lead.pk}/convert/", follow=True)
    html = r.content.decode()
    assert "There is no signal originated by the customer." in html
    assert Lead.objects.get(pk=lead.pk).status == "new"


@pytest.mark.django_db
def test_manual_entry_creates_a_lead(org):
    r = logged_in(org.sdr).post(
        "/leads/new/", {"source": "event", "contact_name": "Zhao", "email": "zhao@factory.cn", "priority": 60}
    )
    lead = Lead.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/leads/{lead.pk}/"
    assert (lead.source, lead.company_domain) == ("event", "factory.cn")


@pytest.fixture
def web_form(db):
    from django.core.cache import cache

    cache.clear()
    return WebForm.objects.create(
        slug="expo",
        title_en="Talk to us",
        title_zh_hans="联系我们",
        source="event",
        campaign="Expo 2026",
        route_on_submit=False,
    )


def submission(slug, **extra):
    data = {
        "contact_name": "Wang",
        "email": "wang@maker.cn",
        "company_name": "Maker",
        "token": token(slug),
        "message": "We need better pipeline visibility",
    }
    data.update(extra)
    return data


@pytest.mark.django_db
def test_web_form_creates_a_lead_without_login_and_confirms_in_the_visitor_language(web_form):
    client = Client(enforce_csrf_checks=True)
    r = client.get("/leads/f/expo/", HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 200 and "Talk to us" in r.content.decode()
    assert "frame-ancestors *" in r["Content-Security-Policy"]
    r = client.post("/leads/f/expo/", submission("expo", language="zh-hans"))
    assert r.status_code == 302
    lead = Lead.objects.get()
    assert (lead.source, lead.campaign, lead.web_form_id, lead.language) == (
        "event",
        "Expo 2026",
        web_form.pk,
        "zh-hans",
    )
    signal = LeadSignal.objects.get()
    assert (signal.originator, signal.signal_type) == ("customer", "question")
    r = client.get(r["Location"])
    assert "感谢" in r.content.decode() or "谢谢" in r.content.decode()


@pytest.mark.django_db
def test_web_form_honeypot_token_and_rate_limit(web_form):
    client = Client()
    r = client.post("/leads/f/expo/", submission("expo", website="http://spam"))
    assert r.status_code == 302 and Lead.objects.count() == 0  # bots are thanked, nothing stored
    r = client.post("/leads/f/expo/", submission("expo", token="forged"))
    assert r.status_code == 400
    r = client.post("/leads/f/expo/", submission("expo", token=token("expo", age=0)))
    assert r.status_code == 400  # faster than a person
    r = client.post("/leads/f/expo/", submission("expo", token=token("other")))
    assert r.status_code == 400
    for _ in range(7):
        client.post("/leads/f/expo/", submission("expo"))
    r = client.post("/leads/f/expo/", submission("expo"))
    assert r.status_code == 429
    assert Lead.objects.count() == 6
