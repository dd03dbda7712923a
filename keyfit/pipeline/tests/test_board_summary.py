"""The board's column totals come from the maintained BoardSummary and always equal a live count."""

from decimal import Decimal

import pytest

from keyfit.pipeline import selectors
from keyfit.pipeline.models import BoardSummary, Opportunity
from keyfit.pipeline.services import opportunity_delete, opportunity_move, opportunity_update
from keyfit.pipeline.summary import rebuild_board_summary
from keyfit.pipeline.tests.factories import OpportunityFactory

pytestmark = pytest.mark.django_db


def _scan(user, filters=None):
    """The same totals counted from the deals themselves."""
    original = selectors.SUMMARY_FILTERS
    selectors.SUMMARY_FILTERS = set()
    try:
        return selectors.board_totals(user, filters=filters)
    finally:
        selectors.SUMMARY_FILTERS = original


def _same(user, filters=None):
    assert selectors.board_totals(user, filters=filters) == _scan(user, filters)


def test_summary_follows_create_update_move_and_delete(org, make_opportunity):
    a = make_opportunity(org.ae, amount=Decimal("100.00"))
    b = make_opportunity(org.ae, amount=Decimal("250.50"))
    c = make_opportunity(org.ae, ready=True, amount=Decimal("7.00"))
    make_opportunity(org.ae)  # no amount: counted, not summed
    totals = selectors.board_totals(org.ae)
    s3 = a.stage_id
    assert totals[s3]["count"] == 4 and totals[s3]["totals"] == [(Decimal("357.50"), "CNY")]

    opportunity_move(actor=org.ae, opportunity=c, stage_code="s4_value")
    a.refresh_from_db()
    opportunity_update(actor=org.ae, opportunity=a, version=a.version, data={"amount": Decimal("40.00")})
    b.refresh_from_db()
    opportunity_update(actor=org.ae, opportunity=b, version=b.version, data={"currency": "EUR"})
    totals = selectors.board_totals(org.ae)
    assert totals[s3]["count"] == 3
    assert totals[s3]["totals"] == [(Decimal("40.00"), "CNY"), (Decimal("250.50"), "EUR")]
    assert totals[Opportunity.objects.get(pk=c.pk).stage_id]["count"] == 1

    opportunity_delete(actor=org.ae, opportunity=Opportunity.objects.get(pk=b.pk))
    for user in (org.ae, org.admin, org.east_manager):
        _same(user)
        _same(user, {"forecast": "pipeline"})
        _same(user, {"owner": str(org.ae.pk)})


def test_plain_orm_writes_and_a_stale_copy_keep_the_summary_right(org):
    opp = OpportunityFactory(owner=org.ae, amount=Decimal("10.00"))
    stale = Opportunity.objects.get(pk=opp.pk)
    opp.amount = Decimal("30.00")
    opp.save()
    stale.name = "Renamed"
    stale.save()  # an old in-memory copy (amount 10 again): the summary reads the row, not the copy
    _same(org.admin)
    assert selectors.board_totals(org.admin)[opp.stage_id]["totals"] == [(Decimal("10.00"), "CNY")]
    opp.delete()
    _same(org.admin)


def test_rebuild_matches_the_maintained_rows(org, make_opportunity):
    make_opportunity(org.ae, amount=Decimal("5.00"))
    make_opportunity(org.east_manager, amount=Decimal("6.00"), currency="USD")
    before = selectors.board_totals(org.admin)
    Opportunity.objects.update(amount=Decimal("1.00"))  # bypasses the signals
    rebuild_board_summary()
    assert BoardSummary.objects.count() == 2
    _same(org.admin)
    assert selectors.board_totals(org.admin) != before


def test_rebuild_command(org, make_opportunity):
    from io import StringIO

    from django.core.management import call_command

    make_opportunity(org.ae, amount=Decimal("5.00"))
    BoardSummary.objects.all().delete()
    out = StringIO()
    call_command("rebuild_board_summary", stdout=out)
    assert out.getvalue().strip() == "1 summary rows"
    _same(org.admin)
