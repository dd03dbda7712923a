from decimal import Decimal

import pytest

from keyfit.accounts.models import Account, Contact
from keyfit.leads.models import Lead
from keyfit.leads.services import lead_convert
from keyfit.leads.tests.factories import LeadFactory, SignalFactory
from keyfit.pipeline.models import Opportunity, OpportunityContact, StageChange


def ready(org, **kwargs):
    values = {
        "owner": org.sdr,
        "team": org.teams["east"],
        "status": "qualified",
        "screen1_result": "pass",
        "need_confirmed": True,
        "purchase_intent": "yes",
        "estimated_value": Decimal("300000"),
        "company_name": "Acme Robotics",
        "contact_name": "Li Wei",
        "contact_title": "CIO",
        "email": "li.wei@acme-robotics.cn",
        "email_normalized": "li.wei@acme-robotics.cn",
        "company_domain": "acme-robotics.cn",
        "industry": "manufacturing",
        "company_size": "250-999",
    }
    values.update(kwargs)
    lead = LeadFactory(**values)
    SignalFactory(lead=lead, originator="customer", signal_type="proposal")
    return lead


@pytest.mark.django_db
def test_conversion_creates_account_contact_and_s3_opportunity(org):
    lead = ready(org)
    result = lead_convert(actor=org.sdr, lead=lead)
    opp = Opportunity.objects.get()
    assert result["account_created"] and result["contact_created"]
    assert opp.stage.code == "s3_guiding"
    assert opp.source_lead_id == lead.pk
    assert opp.amount == Decimal("300000.00") and opp.currency == "CNY"
    assert opp.account.domain == "acme-robotics.cn"
    linked = OpportunityContact.objects.filter(opportunity=opp).values_list("contact__email", "contact__title")
    assert list(linked) == [("li.wei@acme-robotics.cn", "CIO")]
    assert StageChange.objects.filter(opportunity=opp, from_stage=None).count() == 1
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.status, lead.converted_opportunity_ref, lead.converted_account_id) == (
        "converted",
        opp.pk,
        opp.account_id,
    )


@pytest.mark.django_db
def test_conversion_links_the_existing_account_and_contact(org):
    account = Account.objects.create(
        name="Acme Robotics Ltd", domain="acme-robotics.cn", owner=org.ae, team=org.teams["east"]
    )
    contact = Contact.objects.create(account=account, name="Li Wei", email="li.wei@acme-robotics.cn")
    lead = ready(org)
    result = lead_convert(actor=org.sdr, lead=lead)
    assert (result["account"], result["contact"]) == (account, contact)
    assert not result["account_created"] and not result["contact_created"]
    assert Account.objects.count() == 1 and Contact.objects.count() == 1


@pytest.mark.django_db
def test_conversion_matches_account_by_contact_email_when_domain_is_free_mail(org):
    account = Account.objects.create(name="Family Shop", owner=org.ae)
    contact = Contact.objects.create(account=account, name="Zhou", email="zhou@qq.com")
    lead = ready(org, email="zhou@qq.com", email_normalized="zhou@qq.com", company_domain="")
    result = lead_convert(actor=org.sdr, lead=lead)
    assert (result["account"], result["contact"]) == (account, contact)


@pytest.mark.django_db
def test_converted_lead_cannot_be_converted_again(org):
    from keyfit.core.errors import ValidationFailed

    lead = ready(org)
    lead_convert(actor=org.sdr, lead=lead)
    with pytest.raises(ValidationFailed):
        lead_convert(actor=org.sdr, lead=Lead.objects.get(pk=lead.pk))
    assert Opportunity.objects.count() == 1


@pytest.mark.django_db
def test_sdr_adds_the_new_contact_to_an_account_someone_else_owns(org):
    from keyfit.core.models import AuditEvent

    account = Account.objects.create(
        name="Acme Robotics Ltd", domain="acme-robotics.cn", owner=org.ae2, team=org.teams["east"]
    )
    lead = ready(org)
    result = lead_convert(actor=org.sdr, lead=lead)
    assert result["account"] == account and result["contact_created"]
    assert result["contact"].account == account
    event = AuditEvent.objects.get(object_id=str(result["contact"].pk), action="create", content_type__model="contact")
    assert (event.actor, event.verb) == (org.sdr, "from_lead")


@pytest.mark.django_db
def test_manager_converts_a_lead_of_the_team_owned_by_the_sdr(org):
    lead = ready(org)
    result = lead_convert(actor=org.east_manager, lead=lead)
    assert result["account"].owner == org.sdr
    assert result["opportunity"].owner == org.sdr
