"""Renewals and expansions (a deal that follows an earlier one of the same account) and editing or deleting a
logged activity from the pages."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from keyfit.core.errors import ValidationFailed
from keyfit.core.models import AuditEvent
from keyfit.pipeline.models import Activity, ActivityQuestion, Opportunity, Question, Stage
from keyfit.pipeline.services import activity_create, opportunity_create, opportunity_update

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def _won(opp):
    Opportunity.objects.filter(pk=opp.pk).update(stage=Stage.objects.get(code="won"))
    opp.refresh_from_db()
    return opp


def _panel(user, opp) -> str:
    return client_for(user).get(reverse("pipeline:panel", args=[opp.pk, "pipeline.follow_ups"])).content.decode()


# --- renewals and expansions -----------------------------------------------------------------------------


def test_renewal_started_from_a_won_deal(org, make_opportunity):
    first = _won(make_opportunity(org.ae, name="Line 1 sensors", amount=80000, currency="EUR"))
    panel = _panel(org.ae, first)
    assert "Renewals and expansions" in panel and "No renewal or expansion yet." in panel
    start = f"/pipeline/opportunities/new/?previous={first.pk}&amp;link=renewal"
    assert start in panel and f"?previous={first.pk}&amp;link=expansion" in panel

    client = client_for(org.ae)
    form_page = client.get(reverse("pipeline:create"), {"previous": first.pk, "link": "renewal"})
    assert form_page.context["title"] == "Renewal of Line 1 sensors"
    form = form_page.context["form"]
    assert form.initial["account"] == first.account_id
    assert form.initial["currency"] == "EUR"
    assert form.initial["name"] == "Line 1 sensors · Renewal"
    response = client.post(
        reverse("pipeline:create"),
        {
            "name": "Line 1 sensors 2027",
            "account": first.account_id,
            "currency": "EUR",
            "amount": "85000",
            "previous": first.pk,
            "previous_link": "renewal",
        },
    )
    renewal = Opportunity.objects.get(name="Line 1 sensors 2027")
    assert response.status_code == 302
    assert (renewal.previous_id, renewal.previous_link, renewal.stage.code) == (first.pk, "renewal", "s3_guiding")

    panel = _panel(org.ae, first)
    assert f'<a href="/pipeline/opportunities/{renewal.pk}/">Line 1 sensors 2027</a>' in panel
    assert "Renewal" in panel and "€85,000.00" in panel
    detail = client.get(reverse("pipeline:detail", args=[renewal.pk])).content.decode()
    assert f'<dt>Renewal</dt><dd><a href="/pipeline/opportunities/{first.pk}/">Line 1 sensors</a></dd>' in detail


def test_follow_up_panel_hidden_on_open_deals_and_for_viewers_without_start_buttons(org, make_opportunity):
    open_deal = make_opportunity(org.ae)
    response = client_for(org.ae).get(reverse("pipeline:panel", args=[open_deal.pk, "pipeline.follow_ups"]))
    assert response.status_code == 200 and "Renewals and expansions" not in response.content.decode()
    won = _won(make_opportunity(org.ae))
    viewer_panel = _panel(org.viewer, won)  # the viewer reads the east team but writes nothing
    assert "Start a renewal" not in viewer_panel
    outside = client_for(org.south_ae).get(reverse("pipeline:panel", args=[won.pk, "pipeline.follow_ups"]))
    assert outside.status_code == 404


def test_follow_ups_listed_only_within_the_readers_scope(org, make_opportunity):
    first = _won(make_opportunity(org.ae, name="Base deal"))
    opportunity_create(
        actor=org.admin,
        account=first.account,
        name="Hidden expansion",
        owner=org.south_ae,
        previous=first,
        previous_link="expansion",
    )
    assert "Hidden expansion" not in _panel(org.ae, first)
    assert "Hidden expansion" in _panel(org.admin, first)


def test_a_follow_up_must_be_of_the_same_account_say_its_link_and_not_loop(org, make_opportunity):
    first = make_opportunity(org.ae, name="A")
    other = make_opportunity(org.ae, name="Other account")
    with pytest.raises(ValidationFailed) as error:
        opportunity_create(
            actor=org.ae, account=other.account, name="X", owner=org.ae, previous=first, previous_link="renewal"
        )
    assert list(error.value.fields) == ["previous"]
    with pytest.raises(ValidationFailed) as error:
        opportunity_create(actor=org.ae, account=first.account, name="X", owner=org.ae, previous=first)
    assert list(error.value.fields) == ["previous_link"]
    second = opportunity_create(
        actor=org.ae, account=first.account, name="B", owner=org.ae, previous=first, previous_link="renewal"
    )
    first.refresh_from_db()
    with pytest.raises(ValidationFailed) as error:  # A would follow B, which follows A
        opportunity_update(
            actor=org.ae,
            opportunity=first,
            version=first.version,
            data={"previous": second, "previous_link": "renewal"},
        )
    assert list(error.value.fields) == ["previous"]
    with pytest.raises(ValidationFailed):
        opportunity_update(
            actor=org.ae, opportunity=first, version=first.version, data={"previous": first, "previous_link": "renewal"}
        )
    assert Opportunity.objects.get(pk=first.pk).previous_id is None
    assert Opportunity.objects.filter(name="X").count() == 0


def test_edit_page_links_an_earlier_deal_of_the_same_account(org, make_opportunity):
    first = make_opportunity(org.ae, name="Pilot")
    later = opportunity_create(actor=org.ae, account=first.account, name="Rollout", owner=org.ae)
    client = client_for(org.ae)
    page = client.get(reverse("pipeline:edit", args=[later.pk]))
    choices = [label for _value, label in page.context["form"].fields["previous"].choices]
    assert choices[1:] == ["Pilot"]  # this account's other deals only, never itself
    data = {
        "version": later.version,
        "name": "Rollout",
        "owner": org.ae.pk,
        "team": org.ae.team_id,
        "currency": "CNY",
        "forecast_category": "pipeline",
        "previous": first.pk,
        "previous_link": "expansion",
    }
    assert client.post(reverse("pipeline:edit", args=[later.pk]), data).status_code == 302
    later.refresh_from_db()
    assert (later.previous_id, later.previous_link) == (first.pk, "expansion")
    data.update(version=later.version, previous_link="")
    response = client.post(reverse("pipeline:edit", args=[later.pk]), data)
    assert response.status_code == 200
    assert response.context["form"].errors["previous_link"] == ["Say whether this is a renewal or an expansion."]


# --- editing and deleting activities ---------------------------------------------------------------------


def _visit(org, opp):
    contact = opp.account.contacts.first()
    question = Question.objects.order_by("position", "id").first()
    return activity_create(
        actor=org.ae,
        kind="visit",
        subject="Plant visit",
        opportunity=opp,
        occurred_at=timezone.now() - datetime.timedelta(days=1),
        duration_minutes=60,
        channel="field",
        outcome="Walked the line",
        contacts=[contact],
        questions=[{"question": question, "answer": "Scrap rate 4%", "use_as": ""}],
    ), question


def test_activity_edit_page_prefills_and_saves_facts_participants_and_answers(org, make_opportunity):
    opp = make_opportunity(org.ae)
    visit, question = _visit(org, opp)
    client = client_for(org.ae)
    detail = client.get(reverse("pipeline:detail", args=[opp.pk])).content.decode()
    assert (
        f'<a class="muted" href="/pipeline/activities/{visit.pk}/edit/" aria-label="Edit activity: Plant visit">Edit</a>'
        in detail
    )
    page = client.get(reverse("pipeline:activity_edit", args=[visit.pk]))
    html = page.content.decode()
    assert f'<input type="checkbox" name="asked" value="{question.pk}" checked>' in html
    assert ">Scrap rate 4%</textarea>" in html
    assert page.context["form"].initial["contacts"] == [opp.account.contacts.first().pk]
    response = client.post(
        reverse("pipeline:activity_edit", args=[visit.pk]),
        {
            "version": visit.version,
            "kind": "meeting",
            "subject": "Plant visit and workshop",
            "occurred_at": "2026-11-20T10:00",
            "duration_minutes": "90",
            "channel": "field",
            "outcome": "Walked the line; agreed a pilot",
            "asked": [question.pk],
            f"answer_{question.pk}": "Scrap rate 4.5%",
            f"use_as_{question.pk}": "need",
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/pipeline/opportunities/{opp.pk}/"
    visit.refresh_from_db()
    assert (visit.kind, visit.subject, visit.duration_minutes, visit.version) == (
        "meeting",
        "Plant visit and workshop",
        90,
        2,
    )
    assert list(visit.contacts.all()) == []  # the participant was unticked
    assert list(ActivityQuestion.objects.filter(activity=visit).values_list("answer", "used_as")) == [
        ("Scrap rate 4.5%", "need")
    ]
    opp.refresh_from_db()
    assert "Scrap rate 4.5%" in opp.need
    event = AuditEvent.objects.filter(object_id=str(visit.pk), action="update").latest("id")
    assert event.changes["subject"] == ["Plant visit", "Plant visit and workshop"]
    assert event.changes["duration_minutes"] == [60, 90]
    assert event.changes["occurred_at"][1] == "2026-11-20T10:00:00+08:00"  # read in the user's timezone


def test_stale_activity_edit_is_a_conflict_and_overwrites_nothing(org, make_opportunity):
    opp = make_opportunity(org.ae)
    visit, _question = _visit(org, opp)
    stale = visit.version
    Activity.objects.filter(pk=visit.pk).update(subject="Changed by a colleague", version=stale + 1)
    response = client_for(org.ae).post(
        reverse("pipeline:activity_edit", args=[visit.pk]),
        {"version": stale, "kind": "visit", "subject": "My edit", "channel": "field"},
    )
    assert response.status_code == 200
    assert response.context["conflict"]["subject"] == "Changed by a colleague"
    assert "Someone else changed this activity" in response.content.decode()
    assert Activity.objects.get(pk=visit.pk).subject == "Changed by a colleague"


@pytest.mark.parametrize(
    ("who", "status"),
    [("ae", 200), ("east_manager", 200), ("admin", 200), ("viewer", 403), ("south_ae", 404), ("ae2", 404)],
)
def test_activity_edit_and_delete_permissions(org, make_opportunity, who, status):
    opp = make_opportunity(org.ae)
    visit, _question = _visit(org, opp)
    client = client_for(getattr(org, who))
    assert client.get(reverse("pipeline:activity_edit", args=[visit.pk])).status_code == status
    response = client.post(reverse("pipeline:activity_delete", args=[visit.pk]))
    assert Activity.objects.filter(pk=visit.pk).exists() is (status != 200)
    if status == 200:
        assert response.status_code == 302
        assert AuditEvent.objects.filter(object_id=str(visit.pk), action="delete").count() == 1
    else:
        assert response.status_code == status
        assert not AuditEvent.objects.filter(object_id=str(visit.pk), action="delete").exists()


def test_activity_delete_asks_first(org, make_opportunity):
    opp = make_opportunity(org.ae)
    visit, _question = _visit(org, opp)
    page = client_for(org.ae).get(reverse("pipeline:activity_delete", args=[visit.pk]))
    assert page.status_code == 200 and "Delete “Plant visit”?" in page.content.decode()
    assert Activity.objects.filter(pk=visit.pk).exists()


def test_read_only_reader_sees_no_edit_links(org, make_opportunity):
    opp = make_opportunity(org.ae)
    visit, _question = _visit(org, opp)
    page = client_for(org.viewer).get(reverse("pipeline:detail", args=[opp.pk])).content.decode()
    assert "Plant visit" in page and f"/pipeline/activities/{visit.pk}/edit/" not in page


def test_api_creates_a_renewal_and_refuses_a_foreign_or_unnamed_link(org, make_opportunity, api_client_for):
    import json

    first = make_opportunity(org.ae, name="Year one")
    other = make_opportunity(org.ae, name="Other")
    client = api_client_for(org.ae)

    def post(body):
        return client.post("/api/v1/opportunities", json.dumps(body), content_type="application/json")

    base = {"name": "Year two", "account_id": first.account_id}
    created = post({**base, "previous_id": first.pk, "previous_link": "renewal"})
    assert created.status_code == 201
    assert (created.json()["previous_id"], created.json()["previous_link"]) == (first.pk, "renewal")
    refused = post({**base, "account_id": other.account_id, "previous_id": first.pk, "previous_link": "renewal"})
    assert refused.status_code == 422 and list(refused.json()["fields"]) == ["previous"]
    assert list(post({**base, "previous_id": first.pk}).json()["fields"]) == ["previous_link"]
    assert list(post({**base, "previous_id": first.pk, "previous_link": "upsell"}).json()["fields"]) == [
        "previous_link"
    ]
    hidden = make_opportunity(org.south_ae)
    assert list(post({**base, "previous_id": hidden.pk, "previous_link": "renewal"}).json()["fields"]) == [
        "previous_id"
    ]
    assert Opportunity.objects.filter(name="Year two").count() == 1


def test_log_activity_form_shown_again_keeps_the_questions_asked_and_their_answers(org, make_opportunity):
    opp = make_opportunity(org.ae)
    question = Question.objects.filter(active=True).order_by("position", "id").first()
    other = Question.objects.filter(active=True).exclude(pk=question.pk).order_by("position", "id").first()
    response = client_for(org.ae).post(
        reverse("pipeline:activity_create", args=[opp.pk]),
        {
            "kind": "visit",
            "subject": "",  # required: the form comes back with an error
            "channel": "field",
            "duration_minutes": "45",
            "asked": [question.pk],
            f"answer_{question.pk}": "Scrap rate <4%> on line 2",
            f"use_as_{question.pk}": "need",
            f"answer_{other.pk}": "not ticked",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["subject"]
    html = response.content.decode()
    assert f'<input type="checkbox" name="asked" value="{question.pk}" checked>' in html
    assert ">Scrap rate &lt;4%&gt; on line 2</textarea>" in html  # kept, and escaped
    assert '<option value="need" selected>' in html
    assert f'<input type="checkbox" name="asked" value="{other.pk}">' in html  # an unticked answer is not kept
    assert "not ticked" not in html
    assert not Activity.objects.filter(opportunity=opp).exists()
