"""The opportunity page: timeline paged by keyset (first page inline), panels loaded by their own
requests, cached reference data that follows admin edits, and a constant number of queries."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keyfit.core.models import AuditEvent
from keyfit.pipeline.models import Question, Stage, StageChange
from keyfit.pipeline.services import activity_create, opportunity_move
from keyfit.pipeline.timeline import ACTIVITY, AUDIT, FIRST_PAGE, STAGE, timeline_page

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def _busy(org, make_opportunity, n=25, *, same_time=False):
    """An opportunity with `n` calls an hour apart (or all at one moment), the last with questions asked."""
    opp = make_opportunity(org.ae, name="Busy deal")
    contact = opp.account.contacts.first()
    questions = list(Question.objects.order_by("position", "id")[:2])
    start = timezone.now() - datetime.timedelta(days=10)
    for i in range(n):
        activity_create(
            actor=org.ae,
            kind="call",
            subject=f"Call {i:02d}",
            opportunity=opp,
            occurred_at=start if same_time else start + datetime.timedelta(hours=i),
            duration_minutes=30,
            channel="online",
            contacts=[contact],
            questions=[{"question": q, "answer": f"Answer {i}"} for q in questions] if i == n - 1 else None,
        )
    return opp


def _expected(opp):
    """Every entry of the timeline as (source, id), in the page order: newest first; at one moment stage
    change, then activity, then audit event; then the newest row first."""
    rows = [(c.at, STAGE, c.pk) for c in StageChange.objects.filter(opportunity=opp)]
    rows += [(a.occurred_at, ACTIVITY, a.pk) for a in opp.activities.all()]
    rows += [(e.at, AUDIT, e.pk) for e in AuditEvent.objects.filter(object_id=str(opp.pk), object_repr=opp.name)]
    rows.sort(key=lambda r: (-r[0].timestamp(), r[1], -r[2]))
    return [(source, pk) for _at, source, pk in rows]


def _walk(opp, limit):
    seen, cursor = [], None
    while True:
        page = timeline_page(opp, cursor=cursor, limit=limit)
        seen += [(e.source, e.id) for e in page.entries]
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor


def test_timeline_pages_cover_every_entry_once_in_order(org, make_opportunity):
    opp = _busy(org, make_opportunity)
    opportunity_move(actor=org.ae, opportunity=opp, stage_code="lost", lost_reason="budget", reason="Frozen")
    expected = _expected(opp)
    assert len(expected) == 25 + 2 + 2  # calls, stage changes (S3, lost), audit (created, moved)
    assert _walk(opp, 7) == expected
    assert _walk(opp, FIRST_PAGE) == expected


def test_timeline_pages_through_entries_at_the_same_moment(org, make_opportunity):
    opp = _busy(org, make_opportunity, n=5, same_time=True)
    expected = _expected(opp)
    assert [s for s, _pk in expected].count(ACTIVITY) == 5
    assert _walk(opp, 1) == expected


def test_detail_shows_first_page_and_loads_the_rest(org, make_opportunity):
    opp = _busy(org, make_opportunity)
    client = client_for(org.ae)
    page = client.get(reverse("pipeline:detail", args=[opp.pk])).content.decode()
    first = re.findall(r"<strong>(Call \d\d)</strong>", page)
    # newest first: the deal was created (stage change, audit event) after the calls it records
    assert page.index('<li class="tl-audit">') < page.index('<li class="tl-stage">') < page.index("Call 24")
    assert first == [f"Call {i:02d}" for i in range(24, 6, -1)]
    assert page.count('<li class="tl-') == FIRST_PAGE + 1  # 20 entries and the "More" item
    assert "2 questions asked" in page and "Answer 24" in page
    assert f"With: {opp.account.contacts.first().name}" in page
    url = re.search(r'<li class="tl-more"><a href="([^"]+)"', page).group(1).replace("&amp;", "&")
    more = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert re.findall(r"<strong>(Call \d\d)</strong>", more) == [f"Call {i:02d}" for i in range(6, -1, -1)]
    assert "tl-more" not in more
    full = client.get(url)  # without htmx: a page of its own
    assert full.status_code == 200 and "<html" in full.content.decode()


def test_timeline_and_panels_follow_the_scope(org, make_opportunity):
    opp = _busy(org, make_opportunity, n=1)
    outsider = client_for(org.south_ae)
    assert outsider.get(reverse("pipeline:timeline", args=[opp.pk])).status_code == 404
    assert outsider.get(reverse("pipeline:panel", args=[opp.pk, "valuecase.value"])).status_code == 404
    client = client_for(org.ae)
    assert client.get(reverse("pipeline:timeline", args=[opp.pk]), {"cursor": "garbage"}).status_code == 404
    assert client.get(reverse("pipeline:panel", args=[opp.pk, "no.such.panel"])).status_code == 404


def test_panels_load_by_their_own_request(org, make_opportunity):
    opp = make_opportunity(org.ae)
    client = client_for(org.ae)
    page = client.get(reverse("pipeline:detail", args=[opp.pk])).content.decode()
    url = reverse("pipeline:panel", args=[opp.pk, "valuecase.value"])
    assert f'<div class="panel-slot" hx-get="{url}" hx-trigger="load" hx-swap="outerHTML">' in page
    assert f'<noscript><p><a href="{url}">' in page
    panel = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="opportunity-value"' in panel and f"/value-cases/opportunity/{opp.pk}/" in panel
    assert "<html" not in panel
    assert 'id="opportunity-value"' in client.get(url).content.decode()  # without htmx: a page


def test_reference_data_follows_admin_edits(org, make_opportunity):
    opp = make_opportunity(org.ae)
    client = client_for(org.ae)
    page = client.get(reverse("pipeline:detail", args=[opp.pk])).content.decode()
    assert "S3 Guiding expectations" in page and "Metrics" not in page
    stage = Stage.objects.get(code="s3_guiding")
    stage.name_en = "S3 Shaping expectations"
    stage.save()
    admin = client_for(org.admin)
    admin.post(reverse("pipeline:gates"), {"action": "meddpicc", "meddpicc_enabled": "on"})
    page = client.get(reverse("pipeline:detail", args=[opp.pk])).content.decode()
    assert "S3 Shaping expectations" in page and "S3 Guiding expectations" not in page
    assert "Metrics" in page and "Paper process" in page


def test_detail_queries_do_not_grow_with_the_timeline(org, make_opportunity, django_assert_num_queries):
    opp = make_opportunity(org.ae)
    client = client_for(org.ae)
    url = reverse("pipeline:detail", args=[opp.pk])
    client.get(url)
    # session, user, the opportunity (with its write scope, contacts and contracts), the timeline
    with django_assert_num_queries(4):
        client.get(url)
    _busy(org, make_opportunity, n=0)
    for i in range(30):
        activity_create(
            actor=org.ae,
            kind="visit",
            subject=f"Visit {i}",
            opportunity=opp,
            contacts=[opp.account.contacts.first()],
            questions=[{"question": Question.objects.first(), "answer": f"A{i}"}],
        )
    opportunity_move(actor=org.ae, opportunity=opp, stage_code="lost", lost_reason="other")
    with django_assert_num_queries(4):
        response = client.get(url)
    shown = re.findall(r"<strong>(Visit \d+)</strong>", response.content.decode())
    assert shown == [f"Visit {i}" for i in range(29, 11, -1)]  # after the move's audit event and stage change


def test_deal_and_mne_cards_show_every_fact(org, make_opportunity):
    from keyfit.core.models import CustomFieldDefinition
    from keyfit.pipeline.models import Opportunity

    CustomFieldDefinition.objects.create(
        target="opportunity", key="region", label_en="Sales region", label_zh_hans="销售区域", field_type="text"
    )
    earlier = make_opportunity(org.ae, name="First order")
    opp = make_opportunity(org.ae, name="Expansion <2>", amount=1234567)
    Opportunity.objects.filter(pk=opp.pk).update(
        previous=earlier,
        previous_link="expansion",
        competitors="Rival & Co",
        motivation="Audit found\nrework costs",
        risk_only_method=True,
        risk_not_buying=True,
        risk_not_buying_confirmed=True,
        manual_probability=35,
        custom_fields={"region": "East <China>"},
    )
    opportunity_move(actor=org.ae, opportunity=opp, stage_code="lost", lost_reason="budget", reason="Frozen")
    page = client_for(org.ae).get(reverse("pipeline:detail", args=[opp.pk])).content.decode()
    today = timezone.localdate().isoformat()
    assert "<h1>Expansion &lt;2&gt; " in page
    assert "<dt>Amount</dt><dd>CN¥1,234,567.00</dd>" in page
    assert '<dt>Probability</dt><dd>35% <span class="muted">(stage: 0%, manual: 35%)</span></dd>' in page
    assert f"<dt>Lost on</dt><dd>{today} · No budget — Frozen</dd>" in page
    assert f'<dt>Expansion</dt><dd><a href="/pipeline/opportunities/{earlier.pk}/">First order</a></dd>' in page
    assert "<dt>Competitors</dt><dd>Rival &amp; Co</dd>" in page
    assert "<dt>Sales region</dt><dd>East &lt;China&gt;</dd>" in page
    assert '<span class="badge warn">only seeking a method</span>' in page
    assert '<span class="badge bad">not buying from us · confirmed</span>' in page
    assert '<dd data-field="motivation">Audit found<br>rework costs</dd>' in page
    assert '<dd data-field="need">—</dd>' in page and '<span class="badge warn">incomplete</span>' in page


def test_detail_names_the_owner_and_the_deal_contacts(org, make_opportunity):
    """The deal's related rows are read by the page's own statement: each value lands on its own field."""
    from html import escape

    opp = make_opportunity(org.ae)
    link = opp.deal_contacts.select_related("contact").get()
    link.motivation, link.expectations = "Cut <rework>", "One plant & then more"
    link.save()
    client = Client()
    client.force_login(org.ae)
    page = client.get(reverse("pipeline:detail", args=[opp.pk])).content.decode()
    assert f"<dt>Owner</dt><dd>{escape(org.ae.display_name)} · East</dd>" in page
    assert f"<dt>Account</dt><dd>{escape(opp.account.name)}</dd>" in page
    assert f'<li><strong>{escape(link.contact.name)}</strong> <span class="badge">Champion</span>\n' in page
    assert '<div class="muted">M: Cut &lt;rework&gt; · N: — · E: One plant &amp; then more</div>' in page
    assert f'href="/pipeline/opportunities/{opp.pk}/contacts/?contact={link.contact_id}">edit</a></li>' in page


def test_detail_page_is_translated_where_the_words_mean_different_things(org, make_opportunity):
    """The cards and the timeline written in Python are translated, and a word that means two things (a
    field visit, a data field; a key contact, a custom field's key) reads right in Chinese."""
    from keyfit.pipeline.models import OpportunityContact

    opp = make_opportunity(org.ae, name="Translated deal")
    assert OpportunityContact.objects.filter(opportunity=opp).update(is_key=True) == 1  # the deal's contact
    activity_create(actor=org.ae, kind="email", subject="Proposal sent", opportunity=opp, channel="field")
    org.ae.language = "zh-hans"
    org.ae.save(update_fields=["language"])
    html = client_for(org.ae).get(reverse("pipeline:detail", args=[opp.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = html.content.decode()
    assert '<section class="card"><h2>商机</h2>' in html
    assert "<dt>预测类别</dt>" in html and "<dt>竞争对手</dt>" in html
    assert '<h2>MNE 档案 <span class="badge warn">不完整</span></h2>' in html
    assert '<span class="badge ok">邮件</span> <strong>Proposal sent</strong>' in html  # the activity's kind
    assert "· 现场" in html and "字段" not in html  # a field visit, not a data field
    assert '<span class="badge ok">关键</span>' in html  # the key contact
