import pytest

from keyfit.pipeline.tests import conftest as pipeline_conftest

# the pipeline's fixtures: seeded stages for transactional tests, and an opportunity builder
pipeline_vocabulary = pipeline_conftest.pipeline_vocabulary
make_opportunity = pipeline_conftest.make_opportunity


@pytest.fixture
def opportunity(make_opportunity, org):
    """An S3 opportunity of the east AE, meeting the S3 gate, with one contact (language en)."""
    opp = make_opportunity(org.ae, ready=True, name="SCRM rollout", currency="CNY")
    contact = opp.account.contacts.first()
    contact.language = "en"
    contact.save()
    return opp
