import datetime

import pytest
from django.test import Client
from django.urls import reverse

from keyfit.core.models import AuditEvent, SavedView
from keyfit.pipeline.models import Activity, ActivityQuestion, Question, StageChange, StageRequirement
from keyfit.pipeline.selectors import account_pipeline_timeline, my_activities
from keyfit.pipeline.services import activity_create, opportunity_move
from keyfit.pipeline.tests.factories import ActivityFactory
from keyfit.pipeline.views import BOARD_FIRST

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_board_columns_counts_and_totals(org, make_opportunity):
    from decimal import Decimal

    make_opportunity(org.ae, amount=Decimal("100.00"))
    make_opportunity(org.ae, amount=Decimal("250.50"))
    ready = make_opportunity(org.ae, ready=True, amount=Decimal("7.00"))
    opportunity_move(actor=org.ae, opportunity=ready, stage_code="s4_value")
    response = client_for(org.ae).get(reverse("pipeline:board"))
    assert response.status_code == 200
    columns = {c.stage.code: c for c in response.context["columns"]}
    assert list(columns) == [
        "s3_guiding",
        "s4_value",
        "s5_onboarding",
        "s5_adoption",
        "s5_value_realised",
        "s5_renewal",
    ]
    assert columns["s3_guiding"].count == 2
    assert columns["s3_guiding"].totals == [(Decimal("350.50"), "CNY")]
    assert columns["s4_value"].count == 1 and len(columns["s4_value"].cards) == 1
    assert b"vendor/Sortable.min.js" in response.content and b"pipeline/board.js" in response.content


def _many(make_opportunity, org, n):
    for i in range(n):
        make_opportunity(org.ae, name=f"Deal {i}")


def test_board_query_budget_is_constant(org, make_opportunity, django_assert_max_num_queries):
    _many(make_opportunity, org, 3)
    client = client_for(org.east_manager)
    client.get(reverse("pipeline:board"))
    _many(make_opportunity, org, 1)  # a change: the column totals are read again
    # session, user, the manager's teams (2), column totals, first cards of every column
    with django_assert_max_num_queries(6) as small:
        client.get(reverse("pipeline:board"))
    _many(make_opportunity, org, 25)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("pipeline:board"))
    column = response.context["columns"][0]
    assert column.count == 29 and len(column.cards) == BOARD_FIRST and column.next_cursor
    # Unchanged totals are kept: the next request reads only the cards.
    with django_assert_max_num_queries(len(small.captured_queries) - 1):
        assert client.get(reverse("pipeline:board")).context["columns"][0].count == 29


def test_board_column_loads_more_by_keyset(org, make_opportunity):
    _many(make_opportunity, org, 25)
    client = client_for(org.ae)
    first = client.get(reverse("pipeline:board")).context["columns"][0]
    more = client.get(reverse("pipeline:board_column", args=["s3_guiding"]), {"cursor": first.next_cursor})
    names = {c.name for c in first.cards} | {c.name for c in more.context["cards"]}
    assert len(names) == 25 and more.context["next_cursor"] is None


def test_list_query_budget_filters_and_saved_views(org, make_opportunity, django_assert_max_num_queries):
    _many(make_opportunity, org, 3)
    client = client_for(org.ae)
    client.get(reverse("pipeline:list"))
    with django_assert_max_num_queries(7) as small:
        client.get(reverse("pipeline:list"))
    _many(make_opportunity, org, 20)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("pipeline:list"), {"q": "Deal 1"})
    assert {o.name for o in response.context["page"].items} == {"Deal 1", "Deal 10", "Deal 11", "Deal 12"} | {
        f"Deal 1{i}" for i in range(10)
    }
    client.post(reverse("pipeline:view_create"), {"name": "Mine", "query": "q=Deal+1&stage=s3_guiding"})
    assert SavedView.objects.get(user=org.ae, list_key="opportunities").query == "q=Deal+1&stage=s3_guiding"


def test_detail_query_budget_is_constant(org, make_opportunity, django_assert_max_num_queries):
    opp = make_opportunity(org.ae)
    client = client_for(org.ae)
    ActivityFactory(opportunity=opp)
    client.get(reverse("pipeline:detail", args=[opp.pk]))
    with django_assert_max_num_queries(4) as small:
        client.get(reverse("pipeline:detail", args=[opp.pk]))
    question = Question.objects.first()
    for i in range(6):
        activity_create(
            actor=org.ae,
            kind="call",
            subject=f"Call {i}",
            opportunity=opp,
            questions=[{"question": question, "answer": f"A{i}"}],
        )
    opportunity_move(actor=org.ae, opportunity=opp, stage_code="lost", lost_reason="other")
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("pipeline:detail", args=[opp.pk]))
    assert response.status_code == 200 and b"Call 5" in response.content


def test_move_refused_on_page_shows_unmet(org, make_opportunity):
    opp = make_opportunity(org.ae)
    response = client_for(org.ae).post(reverse("pipeline:move", args=[opp.pk]), {"stage": "s4_value"})
    assert response.status_code == 409
    assert b"MNE profile complete" in response.content and b"Economic buyer identified" in response.content


def test_board_drop_json(org, make_opportunity):
    opp = make_opportunity(org.ae)
    client = client_for(org.ae)
    refused = client.post(
        reverse("pipeline:move", args=[opp.pk]), {"stage": "s4_value"}, HTTP_ACCEPT="application/json"
    )
    assert refused.status_code == 409 and refused.json()["code"] == "gate_refused"
    assert refused.json()["unmet"][0]["code"] == "mne_complete"
    ready = make_opportunity(org.ae, ready=True)
    ok = client.post(reverse("pipeline:move", args=[ready.pk]), {"stage": "s4_value"}, HTTP_ACCEPT="application/json")
    assert ok.status_code == 200
    assert ok.json()["stage"] == "s4_value" and ok.json()["columns"]["s4_value"]["count"] == 1


def test_edit_with_stale_version_shows_current_values(org, make_opportunity):
    opp = make_opportunity(org.ae)
    client = client_for(org.ae)
    form = {
        "version": 1,
        "name": "Renamed",
        "owner": org.ae.pk,
        "team": org.teams["east"].pk,
        "currency": "CNY",
        "forecast_category": "pipeline",
    }
    assert client.post(reverse("pipeline:edit", args=[opp.pk]), form).status_code == 302
    stale = client_for(org.east_manager).post(reverse("pipeline:edit", args=[opp.pk]), {**form, "name": "Other"})
    assert stale.status_code == 200 and stale.context["conflict"]["name"] == "Renamed"
    opp.refresh_from_db()
    assert opp.name == "Renamed" and opp.version == 2


def test_log_visit_with_questions_fills_mne(org, make_opportunity):
    opp = make_opportunity(org.ae)
    q1, q2 = Question.objects.filter(category="motivation")[:2]
    client = client_for(org.ae)
    response = client.post(
        reverse("pipeline:activity_create", args=[opp.pk]),
        {
            "kind": "visit",
            "subject": "First visit",
            "channel": "field",
            "duration_minutes": 60,
            "asked": [q1.pk, q2.pk],
            f"answer_{q1.pk}": "New plant opens in May",
            f"use_as_{q1.pk}": "motivation",
            f"answer_{q2.pk}": "Plant manager",
        },
    )
    assert response.status_code == 302
    activity = Activity.objects.get()
    assert activity.asked.count() == 2 and activity.owner == org.ae
    opp.refresh_from_db()
    assert opp.motivation == "New plant opens in May"
    answer = ActivityQuestion.objects.get(question=q2)
    client.post(reverse("pipeline:answer_use", args=[answer.pk]), {"use_as": "need"})
    opp.refresh_from_db()
    assert opp.need == "Plant manager"


def test_won_and_lost_dialogs(org, make_opportunity):
    StageRequirement.objects.filter(stage__code="s4_value").delete()
    opp = make_opportunity(org.ae, ready=True)
    client = client_for(org.ae)
    response = client.post(
        reverse("pipeline:won", args=[opp.pk]),
        {
            "signed_on": "2026-04-01",
            "start_date": "2026-05-01",
            "end_date": "2027-04-30",
            "annual_recurring_value": "1000.00",
            "currency": "CNY",
        },
    )
    assert response.status_code == 302
    opp.refresh_from_db()
    assert opp.stage.code == "s5_onboarding"
    other = make_opportunity(org.ae)
    assert client.post(reverse("pipeline:lost", args=[other.pk]), {}).status_code == 200
    client.post(reverse("pipeline:lost", args=[other.pk]), {"lost_reason": "budget", "reason": "Frozen"})
    other.refresh_from_db()
    assert other.stage.code == "lost" and other.lost_reason.code == "budget"


@pytest.mark.parametrize("role", ["ae2", "south_manager", "south_ae", "kam"])
def test_pages_out_of_scope_are_404(org, make_opportunity, role):
    opp = make_opportunity(org.ae)
    client = client_for(getattr(org, role))
    before = AuditEvent.objects.count()
    for name in ("detail", "edit", "won", "lost", "activity_create", "deal_contact"):
        assert client.get(reverse(f"pipeline:{name}", args=[opp.pk])).status_code == 404, name
    assert client.post(reverse("pipeline:move", args=[opp.pk]), {"stage": "s4_value"}).status_code == 404
    assert AuditEvent.objects.count() == before


def test_viewer_pages_read_only(org, make_opportunity):
    opp = make_opportunity(org.ae)
    client = client_for(org.viewer)
    assert client.get(reverse("pipeline:detail", args=[opp.pk])).status_code == 200
    assert client.get(reverse("pipeline:board")).status_code == 200
    for name in ("edit", "won", "lost", "activity_create"):
        assert client.get(reverse(f"pipeline:{name}", args=[opp.pk])).status_code == 403, name
    response = client.post(reverse("pipeline:lost", args=[opp.pk]), {"lost_reason": "budget"})
    assert response.status_code == 403
    assert client.get(reverse("pipeline:create")).status_code == 403
    opp.refresh_from_db()
    assert opp.stage.code == "s3_guiding" and StageChange.objects.filter(opportunity=opp).count() == 1


def test_gate_settings_admin_only(org):
    assert client_for(org.east_manager).get(reverse("pipeline:gates")).status_code == 403
    client = client_for(org.admin)
    assert client.get(reverse("pipeline:gates")).status_code == 200
    client.post(reverse("pipeline:gates"), {"stage": "s4_value", "requirement": "mne_complete", "when": "enter"})
    assert StageRequirement.objects.filter(stage__code="s4_value", requirement="mne_complete", when="enter").exists()
    client.post(reverse("pipeline:gates"), {"action": "meddpicc", "meddpicc_enabled": "on"})
    from keyfit.pipeline.models import PipelineSettings

    assert PipelineSettings.current().meddpicc_enabled is True


def test_account_timeline_and_my_activities(org, make_opportunity):
    opp = make_opportunity(org.ae)
    today = datetime.date.today()
    ActivityFactory(opportunity=opp, next_step="Call back", next_step_date=today - datetime.timedelta(days=2))
    ActivityFactory(opportunity=opp, next_step="Demo", next_step_date=today + datetime.timedelta(days=2))
    entries = account_pipeline_timeline(org.ae, opp.account)
    assert {e.kind for e in entries} == {"stage", "activity"}
    assert account_pipeline_timeline(org.south_ae, opp.account) == []
    page = my_activities(org.ae)
    assert [(a.next_step, a.overdue) for a in page.items] == [("Call back", True), ("Demo", False)]
    response = client_for(org.ae).get(reverse("pipeline:my_activities"))
    assert b"overdue" in response.content
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = org.ae
    html = render_to_string("pipeline/_account_timeline.html", {"account": opp.account}, request=request)
    assert "S3 Guiding expectations" in html


def test_mark_next_step_done(org, make_opportunity):
    opp = make_opportunity(org.ae)
    activity = ActivityFactory(opportunity=opp, next_step="Call", next_step_date=datetime.date.today())
    client = client_for(org.ae)
    client.post(reverse("pipeline:activity_done", args=[activity.pk]), {"version": 1})
    activity.refresh_from_db()
    assert activity.done is True and activity.version == 2
    assert client_for(org.viewer).post(reverse("pipeline:activity_done", args=[activity.pk])).status_code == 403
    assert client_for(org.south_ae).post(reverse("pipeline:activity_done", args=[activity.pk])).status_code == 404


@pytest.mark.parametrize("order", ["recent", "close", "created"])
def test_list_pages_through_every_row_once(org, make_opportunity, order):
    from keyfit.pipeline.models import Opportunity

    _many(make_opportunity, org, 55)
    Opportunity.objects.update(expected_close_date=datetime.date(2026, 12, 31))  # ties on the first column
    client = client_for(org.ae)
    first = client.get(reverse("pipeline:list"), {"order": order}).context["page"]
    second = client.get(reverse("pipeline:list"), {"order": order, "cursor": first.next_cursor}).context["page"]
    names = [o.name for o in first.items] + [o.name for o in second.items]
    assert len(first.items) == 50 and second.next_cursor is None
    assert sorted(names) == sorted(f"Deal {i}" for i in range(55))


def test_handing_a_deal_outside_my_scope_is_refused(org, make_opportunity):
    opp = make_opportunity(org.ae)
    form = {
        "version": 1,
        "name": "Mine",
        "owner": org.south_ae.pk,
        "team": org.teams["south"].pk,
        "currency": "CNY",
        "forecast_category": "pipeline",
    }
    assert client_for(org.ae).post(reverse("pipeline:edit", args=[opp.pk]), form).status_code == 403
    opp.refresh_from_db()
    assert (opp.owner, opp.name, opp.version) == (org.ae, "Deal", 1)
    form["version"] = 1
    assert client_for(org.vp).post(reverse("pipeline:edit", args=[opp.pk]), form).status_code == 302
    opp.refresh_from_db()
    assert opp.owner == org.south_ae and opp.team == org.teams["south"]


def test_list_and_board_read_no_more_than_their_rows(org, make_opportunity, django_assert_num_queries):
    """After the first request (lookups, the manager's teams, saved views and totals kept): session, user
    and the page's rows — for an administrator and for a manager alike."""
    _many(make_opportunity, org, 3)
    for user in (org.admin, org.east_manager):
        client = client_for(user)
        for url in (reverse("pipeline:list"), reverse("pipeline:board")):
            client.get(url)
            with django_assert_num_queries(3):
                response = client.get(url)
            assert response.status_code == 200 and "Deal 2" in response.content.decode()


def test_list_saved_views_follow_their_changes(org, make_opportunity):
    make_opportunity(org.ae)
    client = client_for(org.ae)
    assert "No saved views yet." in client.get(reverse("pipeline:list")).content.decode()
    client.post(reverse("pipeline:view_create"), {"name": "<Mine> & 'co'", "query": "q=a&stage=s3_guiding"})
    view = SavedView.objects.get(user=org.ae, list_key="opportunities")
    page = client.get(reverse("pipeline:list")).content.decode()
    assert '<li><a href="?q=a&amp;stage=s3_guiding">&lt;Mine&gt; &amp; &#x27;co&#x27;</a>' in page
    assert f'action="{reverse("pipeline:view_delete", args=[view.pk])}" class="inline">' in page
    assert 'aria-label="Delete &lt;Mine&gt; &amp; &#x27;co&#x27;"' in page
    assert "No saved views yet." not in page
    # Another user's views and another list's views are not shown (nor kept under this user's key).
    SavedView.objects.create(user=org.ae2, list_key="opportunities", name="Theirs", query="q=b")
    SavedView.objects.create(user=org.ae, list_key="accounts", name="Accounts view", query="q=c")
    page = client.get(reverse("pipeline:list")).content.decode()
    assert "Theirs" not in page and "Accounts view" not in page
    client.post(reverse("pipeline:view_delete", args=[view.pk]))
    assert "No saved views yet." in client.get(reverse("pipeline:list")).content.decode()


def test_list_and_board_frames_follow_the_language_and_the_user(org, make_opportunity):
    make_opportunity(org.ae, name="Deal <b>")
    writer, viewer = client_for(org.ae), client_for(org.viewer)
    for url, heading in ((reverse("pipeline:list"), "Opportunities"), (reverse("pipeline:board"), "Pipeline board")):
        page = writer.get(url, {"q": 'a"<', "close_from": "2026-01-02"}).content.decode()
        assert f"<h1>{heading}</h1>" in page and 'href="/pipeline/opportunities/new/"' in page
        assert 'name="q" value="a&quot;&lt;"' in page and 'name="close_from" value="2026-01-02"' in page
        assert 'href="/pipeline/opportunities/new/"' not in viewer.get(url).content.decode()
        writer.cookies["django_language"] = "zh-hans"
        assert "<h1>Opportunities</h1>" not in writer.get(url).content.decode()
        writer.cookies["django_language"] = "en"
    list_page = writer.get(reverse("pipeline:list"), {"stage": "s3_guiding"}).content.decode()
    assert '<option value="s3_guiding" selected>' in list_page and "Deal &lt;b&gt;" in list_page
    assert 'href="?stage=s3_guiding&amp;order=close"' in list_page
    assert 'name="csrfmiddlewaretoken" value="' in list_page
    board = writer.get(reverse("pipeline:board"), {"forecast": "pipeline"}).content.decode()
    assert 'data-query="forecast=pipeline"' in board and "Deal &lt;b&gt;" in board
