"""An SDR screens a lead, records the customer's proposal request and converts it into an S3 opportunity."""

from decimal import Decimal

import pytest

from keyfit.core.roles import Role


def seeded_vocabulary():
    """Earlier transactional tests flush the database, seeded rows included: put them back."""
    from django.apps import apps

    from keyfit.leads.seed_data import seed_vocabulary as seed_leads
    from keyfit.pipeline.models import Stage
    from keyfit.pipeline.seed_data import seed_vocabulary as seed_pipeline

    seed_leads(apps)
    if not Stage.objects.exists():
        seed_pipeline(apps)


@pytest.mark.django_db(transaction=True)
def test_sdr_screens_records_the_proposal_request_and_converts(login):
    from keyfit.leads.models import FitRule, Lead
    from keyfit.leads.tests.factories import LeadFactory
    from keyfit.pipeline.models import Opportunity, OpportunityContact
    from keyfit.users.tests.factories import TeamFactory, UserFactory

    seeded_vocabulary()
    team = TeamFactory(name="East China SaaS")
    sdr = UserFactory(role=Role.SDR, team=team, full_name="Wang Fang")
    FitRule.objects.create(name="SaaS", field="industry", operator="eq", value="saas", points=50, position=1)
    FitRule.objects.create(
        name="Mid-size and up", field="company_size", operator="in", value=["250-999", "1000+"], points=30, position=2
    )
    lead = LeadFactory(
        owner=sdr,
        team=team,
        company_name="Hangzhou Cloudbridge",
        contact_name="Chen Jie",
        contact_title="CTO",
        email="chen.jie@cloudbridge.cn",
        email_normalized="chen.jie@cloudbridge.cn",
        company_domain="cloudbridge.cn",
        industry="saas",
        company_size="250-999",
    )

    page = login(sdr)
    page.goto("/leads/")
    page.click(f"a[href='/leads/{lead.pk}/']")
    page.click("#run-screen1")
    page.wait_for_selector("#fit-score")
    assert page.inner_text("#fit-score") == "80"
    assert page.inner_text("#screen1-result") == "Passed"

    # converting too early is refused with the reasons
    page.click("#convert")
    page.wait_for_selector(".messages")
    assert "There is no signal originated by the customer." in page.inner_text(".messages")

    page.select_option("#signal-form select[name=signal_type]", "proposal")
    page.select_option("#signal-form select[name=originator]", "customer")
    page.fill("#signal-form input[name=note]", "Asked for a proposal for 200 seats")
    page.click("#signal-form button[type=submit]")
    page.wait_for_selector("text=Requested a proposal")

    page.check("#screen2-form input[name=need_confirmed]")
    page.select_option("#screen2-form select[name=purchase_intent]", "yes")
    page.fill("#screen2-form input[name=estimated_value]", "240000")
    page.click("#screen2-form button[type=submit]")
    page.wait_for_selector("#ready")
    assert page.inner_text("#lead-status") == "Qualified"

    page.click("#convert")
    page.wait_for_selector("#converted, .msg-error")
    assert page.locator(".msg-error").count() == 0, page.inner_text(".messages")
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.status == "converted"
    opportunity = Opportunity.objects.get(source_lead_id=lead.pk)
    assert opportunity.stage.code == "s3_guiding"
    assert opportunity.amount == Decimal("240000.00")
    assert opportunity.account.name == "Hangzhou Cloudbridge"
    assert opportunity.account.domain == "cloudbridge.cn"
    contact = OpportunityContact.objects.get(opportunity=opportunity).contact
    assert (contact.name, contact.email, contact.account_id) == (
        "Chen Jie",
        "chen.jie@cloudbridge.cn",
        opportunity.account_id,
    )
