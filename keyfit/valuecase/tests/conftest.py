import pytest

from keyfit.pipeline.tests.conftest import make_opportunity, pipeline_vocabulary  # noqa: F401


@pytest.fixture
def opportunity(make_opportunity, org):
    """An S3 opportunity of the east AE, meeting the S3 gate, with one contact (language en)."""
    opp = make_opportunity(org.ae, ready=True, name="SCRM rollout", currency="CNY")
    contact = opp.account.contacts.first()
    contact.language = "en"
    contact.save()
    return opp
