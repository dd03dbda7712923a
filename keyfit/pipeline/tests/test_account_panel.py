import pytest
from django.urls import reverse

from keyfit.pipeline.tests.factories import ActivityFactory


@pytest.mark.django_db
def test_account_page_shows_visible_opportunities_and_activities(client, org, make_opportunity):
    opp = make_opportunity(org.ae, name="ERP rollout")
    ActivityFactory(opportunity=opp, subject="Discovery visit", kind="visit")
    client.force_login(org.ae)
    html = client.get(reverse("accounts:account_detail", args=[opp.account_id])).content.decode()
    assert "ERP rollout" in html
    assert "Discovery visit" in html
    assert reverse("pipeline:detail", args=[opp.pk]) in html


@pytest.mark.django_db
def test_account_panel_hides_opportunities_the_reader_cannot_see(client, org, make_opportunity):
    opp = make_opportunity(org.ae, name="Private deal")
    account = opp.account
    account.owner = org.ae2  # a colleague owns the account; the deal stays ae's
    account.save()
    client.force_login(org.ae2)
    html = client.get(reverse("accounts:account_detail", args=[account.pk])).content.decode()
    assert "Private deal" not in html
