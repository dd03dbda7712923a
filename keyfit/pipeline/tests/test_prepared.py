"""The pages' hot statements run prepared (PostgreSQL, persistent connections) and list pages after a cursor
from a statement compiled once: what the pages show must not change, nor the number of queries."""

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from keyfit.core import db
from keyfit.core.pagination import keyset_page
from keyfit.pipeline import selectors
from keyfit.pipeline.services import activity_create, opportunity_move
from keyfit.pipeline.tests.factories import OpportunityFactory

pytestmark = pytest.mark.django_db
needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def _deals(org, make_opportunity, n=7):
    deals = [make_opportunity(owner, name=f"Deal {i}") for i, owner in enumerate([org.ae, org.ae2, org.south_ae] * n)]
    for i, deal in enumerate(deals):  # ties on the ordering columns, dates on some
        deal.expected_close_date = datetime.date(2027, 1, 1 + i % 3) if i % 4 else None
        deal.save()
    activity_create(actor=org.ae, kind="call", subject="Call <1>", opportunity=deals[0])
    opportunity_move(actor=org.ae, opportunity=deals[3], stage_code="lost", lost_reason="other")
    OpportunityFactory(name="No team", owner=org.kam, team=None)
    return deals


def _pages(org, deals):
    detail = reverse("pipeline:detail", args=[deals[0].pk])
    return [
        (org.admin, reverse("pipeline:board")),
        (org.east_manager, reverse("pipeline:board") + "?forecast=pipeline"),
        (org.admin, reverse("pipeline:list")),
        (org.east_manager, reverse("pipeline:list") + "?order=close"),
        (org.ae, detail),
        (org.east_manager, detail),
        (org.admin, "/api/v1/opportunities?limit=5"),
    ]


def _content(response) -> str:
    body = response.content.decode()
    body = re.sub(r'(csrfmiddlewaretoken" value=")[^"]+', r"\1X", body)
    body = re.sub(r'("X-CSRFToken": ")[^"]+', r"\1X", body)
    return re.sub(r'nonce="[^"]+"', "nonce", body)


@needs_postgres
def test_prepared_pages_show_the_same_with_the_same_queries(org, make_opportunity, monkeypatch):
    deals = _deals(org, make_opportunity)
    clients = {}
    plain = []
    for user, url in _pages(org, deals):
        client = clients.setdefault(user.pk, client_for(user))
        client.get(url)
        response = client.get(url)
        assert response.status_code == 200
        plain.append(_content(response))
    assert not db.prepared_statements_enabled()  # tests open a connection per request (CONN_MAX_AGE=0)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    assert db.prepared_statements_enabled()
    from django.test.utils import CaptureQueriesContext

    for (user, url), expected in zip(_pages(org, deals), plain, strict=True):
        client = clients[user.pk]
        for _ in range(2):  # prepared on the first run, reused on the next
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(url)
            assert _content(response) == expected, url
        queries = len(ctx.captured_queries)
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
        with CaptureQueriesContext(connection) as unprepared:
            client.get(url)
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
        assert queries == len(unprepared.captured_queries), url
    with connection.cursor() as cursor:  # the list's, the detail page's (deal, timeline) and the API's
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] >= 4


def test_prepared_statements_off_by_setting(settings, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    settings.PREPARED_STATEMENTS = False
    assert not db.prepared_statements_enabled()


def _orm_page(user, filters, order, cursor):
    order_by = selectors.LIST_ORDERS[order]
    qs = selectors.apply_filters(selectors.visible_opportunities(user), filters).values_list(
        *selectors.LIST_VALUES, named=True
    )
    if order == "close":
        qs = qs.filter(expected_close_date__isnull=False)
    return keyset_page(selectors.seekable(qs, order=order_by, cursor=cursor), order=order_by, cursor=cursor, limit=4)


@pytest.mark.parametrize("order", ["recent", "close", "created"])
def test_list_pages_after_a_cursor_are_the_orms(org, make_opportunity, order, django_assert_num_queries):
    _deals(org, make_opportunity)
    for user, filters in ((org.admin, {}), (org.east_manager, {}), (org.admin, {"stage": "s3_guiding"})):
        page = selectors.opportunity_page(user, filters=filters, order=order, limit=4)
        seen = [row.id for row in page.items]
        while page.next_cursor:
            expected = _orm_page(user, filters, order, page.next_cursor)
            with django_assert_num_queries(1):
                page = selectors.opportunity_page(user, filters=filters, order=order, cursor=page.next_cursor, limit=4)
            assert [tuple(r) for r in page.items] == [tuple(r) for r in expected.items]
            assert page.next_cursor == expected.next_cursor and page.has_more == expected.has_more
            seen += [row.id for row in page.items]
        assert len(seen) == len(set(seen)) > 4  # every deal once, across several pages


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the naive date-time, as the ORM always warned
def test_list_page_with_a_cursor_it_cannot_use(org, make_opportunity):
    from keyfit.core.errors import ValidationFailed
    from keyfit.core.pagination import encode_cursor

    _deals(org, make_opportunity, n=2)
    with pytest.raises(ValidationFailed):
        selectors.opportunity_page(org.admin, cursor="not-a-cursor")
    naive = encode_cursor([datetime.datetime(2030, 1, 1), 10**6])  # read by the ORM, as before
    assert len(selectors.opportunity_page(org.admin, cursor=naive).items) == 7


@pytest.mark.parametrize("role", ["admin", "vp", "east_manager", "south_manager", "sdr", "ae", "viewer"])
def test_scope_parts_are_the_scope_split(org, make_opportunity, role):
    from django.db.models import Q

    from keyfit.core.permissions import scope_parts, scope_q
    from keyfit.pipeline.models import Opportunity

    deals = _deals(org, make_opportunity, n=2)
    OpportunityFactory(name="Own, no team", owner=org.east_manager, team=None)
    OpportunityFactory(name="Own, other team", owner=org.east_manager, team=org.teams["south"])
    user = getattr(org, role)
    expected = set(Opportunity.objects.filter(scope_q(user)).values_list("id", flat=True))
    parts = scope_parts(user)
    if role in ("admin", "ae"):  # everything / only their own: one condition, nothing to split
        assert parts is None
        return
    found = [set(Opportunity.objects.filter(part).values_list("id", flat=True)) for part in parts]
    assert set().union(*found) == expected and sum(map(len, found)) == len(expected)  # disjoint, complete
    assert (
        not Opportunity.objects.filter(Q(pk__in=[d.pk for d in deals]) & ~scope_q(user))
        .filter(pk__in=set().union(*found))
        .exists()
    )


@pytest.mark.parametrize("role", ["admin", "vp", "east_manager", "sdr", "viewer"])
def test_board_first_cards_of_every_scope_are_the_columns(org, make_opportunity, role):
    """The first cards in one statement (from the scope's parts for managers) are each column's keyset page."""
    from keyfit.core.errors import DomainError
    from keyfit.pipeline.services import opportunity_move

    deals = _deals(org, make_opportunity, n=5)
    for deal in deals[::3]:
        deal.refresh_from_db()
        deal.motivation = deal.need = deal.expectations = deal.success_criteria = deal.decision_criteria = "x"
        deal.feasibility_confirmed = True
        deal.save()
        deal.refresh_from_db()
        try:
            opportunity_move(actor=org.admin, opportunity=deal, stage_code="s4_value", reason="test", override=True)
        except DomainError:  # a gate may still refuse: the deal stays where it is
            continue
    OpportunityFactory(name="Own, no team", owner=org.east_manager, team=None)
    user = getattr(org, role)
    stages = selectors.board_stages()
    fast = selectors._first_cards(user, stages, limit=3)
    for stage in stages:
        slow = selectors.board_cards(user, stage=stage, limit=3)
        assert [tuple(c) for c in fast[stage.pk].items] == [tuple(c) for c in slow.items], stage.code
        assert fast[stage.pk].next_cursor == slow.next_cursor
