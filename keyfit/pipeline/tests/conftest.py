import pytest

from keyfit.accounts.choices import BuyingRole
from keyfit.pipeline.services import opportunity_create
from keyfit.pipeline.tests.factories import PipelineAccountFactory, PipelineContactFactory


@pytest.fixture(autouse=True)
def pipeline_vocabulary(request):
    """Transactional tests start from a flushed database: put the seeded stages back."""
    marker = request.node.get_closest_marker("django_db")
    if marker and marker.kwargs.get("transaction"):
        from keyfit.pipeline.seed_data import seed_vocabulary

        request.getfixturevalue("transactional_db")
        seed_vocabulary()


@pytest.fixture
def make_opportunity(org):
    """make_opportunity(owner=org.ae, ready=False) → an S3 opportunity; ready=True meets the S3 gate."""

    def make(owner=None, *, ready=False, name="Deal", amount=None, **kwargs):
        owner = owner or org.ae
        account = PipelineAccountFactory(owner=owner, team=owner.team)
        contact = PipelineContactFactory(account=account)
        opp = opportunity_create(
            actor=owner,
            account=account,
            name=name,
            owner=owner,
            amount=amount,
            contacts=[(contact, BuyingRole.ECONOMIC_BUYER if ready else BuyingRole.CHAMPION)],
            **kwargs,
        )
        if ready:
            for field in ("motivation", "need", "expectations", "success_criteria", "decision_criteria"):
                setattr(opp, field, f"{field} text")
            opp.feasibility_confirmed = True
            opp.save()
        return opp

    return make
