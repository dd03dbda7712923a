import itertools

import pytest

from keyfit.core.demo import DemoContext
from keyfit.pipeline import demo
from keyfit.pipeline.models import Opportunity, StageChange


@pytest.mark.django_db
def test_demo_seeds_consistent_histories(org):
    ctx = DemoContext(scale=0.1)
    ctx.data["sellers"] = [org.ae, org.south_ae]
    summary = demo.seed(ctx)
    assert "opportunities" in summary
    renewals = Opportunity.objects.filter(previous__isnull=False)
    assert Opportunity.objects.count() == 30 + renewals.count()
    for renewal in renewals.select_related("previous__stage", "stage"):  # renewals of deals in S5 renewal
        assert (renewal.previous_link, renewal.stage.code, renewal.previous.stage.code) == (
            "renewal",
            "s3_guiding",
            "s5_renewal",
        )
        assert renewal.account_id == renewal.previous.account_id
    for opp in Opportunity.objects.all():
        rows = list(StageChange.objects.filter(opportunity=opp).order_by("at", "id"))
        assert rows[0].from_stage is None and rows[-1].to_stage_id == opp.stage_id
        for before, after in itertools.pairwise(rows):
            assert after.from_stage_id == before.to_stage_id
            assert after.seconds_in_previous == int((after.at - before.at).total_seconds())
