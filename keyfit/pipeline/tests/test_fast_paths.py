"""The board, the list and the opportunities API read plain rows, cached lookups and kept totals for speed:
what they show must stay exactly what the models, the schema and the database say."""

import datetime
import json
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import translation
from ninja.responses import NinjaJSONEncoder

from keyfit.core.api_utils import PageOut
from keyfit.pipeline import lookups, selectors
from keyfit.pipeline.models import BoardSummary, LostReason, Opportunity, Stage
from keyfit.pipeline.schemas import OpportunityOut
from keyfit.pipeline.services import opportunity_move
from keyfit.pipeline.summary import VERSION_KEY
from keyfit.pipeline.tests.factories import OpportunityFactory

pytestmark = pytest.mark.django_db

EVIL = '<script>alert("x")</script>&"'


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def _varied(org, make_opportunity):
    """Deals with every kind of value the list shows: no amount, manual probability, another currency, no
    team, custom fields, an external id, a previous deal, a lost one with its reason."""
    first = make_opportunity(org.ae, name="Plain", amount=Decimal("1234567.89"))
    make_opportunity(org.ae, name=f"Odd {EVIL}", amount=None, external_id="ext-1")
    eur = make_opportunity(org.ae2, name="Euro", amount=Decimal("99.50"), currency="EUR")
    eur.manual_probability = 35
    eur.custom_fields = {"region": "华东", "score": 3}
    eur.previous = first
    eur.previous_link = "renewal"
    eur.expected_close_date = datetime.date(2027, 1, 31)
    eur.save()
    OpportunityFactory(name="No team", owner=org.kam, team=None, amount=Decimal("5.00"), currency="JPY")
    lost = make_opportunity(org.ae, name="Gone", amount=Decimal("10"))
    opportunity_move(actor=org.ae, opportunity=lost, stage_code="lost", lost_reason="other")


def _schema_json(user, query: dict) -> bytes:
    """GET /opportunities as the response schema gives it from model instances (the path it replaced)."""
    filters = {k: v for k, v in query.items() if k not in ("order", "cursor", "limit")}
    order = selectors.LIST_ORDERS[query.get("order", "recent")]
    qs = selectors.opportunity_list(user, filters=filters).select_related("lost_reason")
    if query.get("order") == "close":
        qs = qs.filter(expected_close_date__isnull=False)
    from keyfit.core.api_utils import api_page

    page = api_page(
        selectors.seekable(qs, order=order, cursor=query.get("cursor")),
        order=order,
        cursor=query.get("cursor"),
        limit=query.get("limit"),
    )
    dump = PageOut[OpportunityOut].model_validate(page).model_dump()
    return json.dumps(dump, cls=NinjaJSONEncoder).encode()


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
@pytest.mark.parametrize(
    "query",
    [
        {},
        {"limit": 2},
        {"status": "lost"},
        {"stage": "s3_guiding", "order": "close"},
        {"order": "created", "q": "o"},
        {"stage": "no_such_stage"},
    ],
)
def test_api_list_is_exactly_the_schema_output(org, make_opportunity, api_client_for, lang, query):
    _varied(org, make_opportunity)
    client = api_client_for(org.admin)
    response = client.get("/api/v1/opportunities", query, HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200 and response["Content-Type"] == "application/json; charset=utf-8"
    with translation.override(lang):
        assert response.content == _schema_json(org.admin, query)
    body = response.json()
    if query.get("limit") == 2:
        nxt = client.get("/api/v1/opportunities", {"limit": 2, "cursor": body["next_cursor"]})
        with translation.override("en"):
            assert nxt.content == _schema_json(org.admin, {"limit": 2, "cursor": body["next_cursor"]})
    if query == {"status": "lost"}:
        assert [(i["name"], i["lost_reason"], i["stage"]) for i in body["items"]] == [("Gone", "other", "lost")]


def test_api_list_rows_keep_scoping(org, make_opportunity, api_client_for):
    _varied(org, make_opportunity)
    names = {i["name"] for i in api_client_for(org.ae2).get("/api/v1/opportunities").json()["items"]}
    assert names == {"Euro"}
    south = {i["name"] for i in api_client_for(org.south_manager).get("/api/v1/opportunities").json()["items"]}
    assert south == set()


def test_list_rows_show_the_model_values(org, make_opportunity):
    _varied(org, make_opportunity)
    html = client_for(org.admin).get(reverse("pipeline:list"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    euro = Opportunity.objects.get(name="Euro")
    stage = Stage.objects.get(code="s3_guiding").name_zh_hans
    assert (
        f'<tr><td><a href="/pipeline/opportunities/{euro.pk}/">Euro</a></td><td>{euro.account.name}</td>'
        f'<td>{stage}</td>\n<td class="num">€99.50</td><td class="num">35%</td><td>2027-01-31</td>'
        f"<td>{euro.owner.display_name}</td></tr>"
    ) in html
    assert "Odd &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;" in html
    assert "<script>alert" not in html


def test_filter_pickers_mark_the_choice_and_escape_names(org, make_opportunity):
    org.teams["south"].name = f"South {EVIL}"
    org.teams["south"].save()
    client = client_for(org.admin)
    html = client.get(
        reverse("pipeline:list"), {"stage": "s4_value", "team": org.teams["east"].pk, "forecast": "commit"}
    ).content.decode()
    assert '<option value="s4_value" selected>' in html and '<option value="s3_guiding">' in html
    assert f'<option value="{org.teams["east"].pk}" selected>East</option>' in html
    assert '<option value="commit" selected>Commit</option>' in html
    assert f'<option value="{org.teams["south"].pk}">South &lt;script&gt;' in html
    assert 'value="lead' not in html  # lead stages are not pipeline stages
    board = client.get(reverse("pipeline:board"), {"team": org.teams["south"].pk}).content.decode()
    assert f'<option value="{org.teams["south"].pk}" selected>South &lt;script&gt;' in board


def test_renamed_team_and_stage_show_at_once(org, make_opportunity):
    make_opportunity(org.ae)
    client = client_for(org.admin)
    assert ">East</option>" in client.get(reverse("pipeline:list")).content.decode()
    org.teams["east"].name = "East Coast"
    org.teams["east"].save()
    s3 = Stage.objects.get(code="s3_guiding")
    s3.name_en = "Guiding the customer"
    s3.save()
    board = client.get(reverse("pipeline:board")).content.decode()
    assert ">East Coast</option>" in board and ">East</option>" not in board
    assert "<h2>Guiding the customer</h2>" in board


def test_lookups_reload_when_another_process_changes_them(org, django_assert_num_queries):
    lookups.lookups()
    with django_assert_num_queries(0):
        assert lookups.stage_by_code("s4_value").code == "s4_value"
    # Another process renames a lost reason: its signal sets a new token in the shared cache.
    LostReason.objects.filter(code="other").update(name_en="Something else")
    cache.set(lookups.LOOKUPS_VERSION_KEY, "set-by-another-process")
    with django_assert_num_queries(3):  # stages, teams, lost reasons: nothing kept stale
        reasons = lookups.lookups()["lost_reasons"]
    assert "other" in reasons.values()
    with django_assert_num_queries(0):
        lookups.lookups()


def test_lookups_are_checked_once_per_request(org, make_opportunity, django_assert_max_num_queries, monkeypatch):
    make_opportunity(org.ae)
    client = client_for(org.admin)
    client.get(reverse("pipeline:list"), {"stage": "s3_guiding"})
    reads = []
    original = cache.get
    monkeypatch.setattr(cache, "get", lambda key, *a, **kw: reads.append(key) or original(key, *a, **kw))
    client.get(reverse("pipeline:list"), {"stage": "s3_guiding", "status": "open"})
    assert reads.count(lookups.LOOKUPS_VERSION_KEY) == 1


def test_board_totals_are_kept_until_the_summary_changes(org, make_opportunity, django_assert_num_queries):
    make_opportunity(org.ae, amount=Decimal("100.00"))
    s3 = Stage.objects.get(code="s3_guiding").pk
    assert selectors.board_totals(org.admin)[s3] == {"count": 1, "totals": [(Decimal("100.00"), "CNY")]}
    with django_assert_num_queries(0):
        kept = selectors.board_totals(org.admin)
    kept[s3]["totals"].append("mutated by a caller")  # callers get a copy
    assert selectors.board_totals(org.admin)[s3]["totals"] == [(Decimal("100.00"), "CNY")]
    # A save through the model changes the summary and its token: the next read is fresh.
    make_opportunity(org.ae, amount=Decimal("1.00"))
    assert selectors.board_totals(org.admin)[s3]["count"] == 2
    # A change another process made (its signal set a new token) is read as well.
    BoardSummary.objects.filter(stage_id=s3).update(count=7)
    assert selectors.board_totals(org.admin)[s3]["count"] == 2  # still kept: no token change seen
    cache.set(VERSION_KEY, "set-by-another-process")
    assert selectors.board_totals(org.admin)[s3]["count"] == 7
    # Scopes and filters are kept apart.
    assert selectors.board_totals(org.south_manager) == {}
    assert selectors.board_totals(org.admin, filters={"forecast": "commit"}) == {}
    assert selectors.board_totals(org.ae, filters={"owner": str(org.ae.pk)})[s3]["count"] == 7


def test_board_columns_markup(org, make_opportunity):
    from keyfit.pipeline.views import BOARD_FIRST

    for i in range(BOARD_FIRST + 1):
        make_opportunity(org.ae, name=f"Deal {i}", amount=Decimal("2.00"))
    html = client_for(org.ae).get(reverse("pipeline:board"), {"forecast": "pipeline"}).content.decode()
    stage = Stage.objects.get(code="s3_guiding").name_en
    assert (
        f'<section class="board-column" data-stage="s3_guiding" aria-label="{stage}">\n'
        f"    <header>\n      <h2>{stage}</h2>\n"
        '      <p class="muted"><span class="column-count" data-count>11</span> · <span data-totals>CN¥22.00'
        "</span></p>\n    </header>\n"
    ) in html
    assert html.count('class="board-card"') == BOARD_FIRST
    assert 'hx-get="/pipeline/board/s3_guiding/?cursor=' in html and "&amp;forecast=pipeline" in html
    assert "<span data-totals>—</span>" in html  # an empty column


def test_board_cards_follow_scope_and_filters_on_every_request(org, make_opportunity):
    make_opportunity(org.ae, name="East deal", amount=Decimal("1.00"))
    south = make_opportunity(org.south_ae, name="South deal", amount=Decimal("2.00"))
    ready = make_opportunity(org.ae, ready=True, name="Moved deal")
    opportunity_move(actor=org.ae, opportunity=ready, stage_code="s4_value")

    def cards(user, **filters):
        response = client_for(user).get(reverse("pipeline:board"), filters)
        return {card.name for column in response.context["columns"] for card in column.cards}

    for _ in range(2):  # the second time from what the first one kept
        assert cards(org.admin) == {"East deal", "South deal", "Moved deal"}
        assert cards(org.east_manager) == {"East deal", "Moved deal"}
        assert cards(org.south_manager) == {"South deal"}
        assert cards(org.admin, team=str(org.teams["south"].pk)) == {"South deal"}
        assert cards(org.admin, q="Moved") == {"Moved deal"}
        assert cards(org.admin, stage="s4_value") == {"Moved deal"}
    south.name = "South deal renamed"
    south.save()
    assert cards(org.south_manager) == {"South deal renamed"}


def test_list_first_pages_follow_scope_filters_and_orders_on_every_request(org, make_opportunity):
    make_opportunity(org.ae, name="East deal", expected_close_date=datetime.date(2027, 3, 1))
    south = make_opportunity(org.south_ae, name="South deal", expected_close_date=datetime.date(2027, 2, 1))
    make_opportunity(org.ae2, name="Undated deal")

    def names(user, **query):
        response = client_for(user).get(reverse("pipeline:list"), query)
        return [row.name for row in response.context["page"].items]

    for _ in range(2):  # the second time from the statements the first one compiled
        assert names(org.admin) == ["Undated deal", "South deal", "East deal"]
        assert names(org.admin, order="close") == ["South deal", "East deal"]
        assert names(org.east_manager) == ["Undated deal", "East deal"]
        assert names(org.south_manager, order="created") == ["South deal"]
        assert names(org.admin, q="South") == ["South deal"]
        assert names(org.admin, stage="s4_value") == []
    south.name = "South deal renamed"
    south.save()
    assert names(org.south_manager) == ["South deal renamed"]
