"""A rep builds a value case, sends it, the customer acknowledges it, the opportunity can then be won."""

import re

import pytest

from keyfit.accounts.choices import BuyingRole
from keyfit.accounts.models import Account, Contact
from keyfit.core.roles import Role
from keyfit.users.tests.factories import UserFactory


@pytest.fixture
def deal(transactional_db):
    from keyfit.pipeline.seed_data import seed_vocabulary
    from keyfit.pipeline.services import opportunity_create, opportunity_move
    from keyfit.users.models import Team

    seed_vocabulary()
    team = Team.objects.create(name="East")
    rep = UserFactory(role=Role.ACCOUNT_EXECUTIVE, team=team, email="rep@example.com")
    account = Account.objects.create(name="Xinghe Retail", owner=rep, team=team)
    contact = Contact.objects.create(account=account, name="Li Na", title="CFO", language="en")
    opp = opportunity_create(
        actor=rep, account=account, name="SCRM rollout", owner=rep, contacts=[(contact, BuyingRole.ECONOMIC_BUYER)]
    )
    for field in ("motivation", "need", "expectations", "success_criteria", "decision_criteria"):
        setattr(opp, field, "known")
    opp.feasibility_confirmed = True
    opp.save()
    opp = opportunity_move(actor=rep, opportunity=opp, stage_code="s4_value")
    return rep, opp


def _add_driver(page, contributor, description, amount, basis):
    form = page.locator("#driver-form")
    form.locator("select[name=contributor]").select_option(contributor)
    form.locator("input[name=description]").fill(description)
    form.locator("input[name=amount]").fill(amount)
    form.locator("input[name=basis]").fill(basis)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
def test_rep_builds_sends_customer_acknowledges_and_deal_is_won(deal, login, new_page):
    from keyfit.valuecase.models import ValueCase

    rep, opp = deal
    page = login(rep)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    body = {
        "signed_on": "2026-11-25",
        "start_date": "2026-12-01",
        "end_date": "2027-11-30",
        "annual_recurring_value": "3500",
    }

    def win():
        return page.request.post(
            f"/api/v1/opportunities/{opp.pk}/win", data=body, headers={"X-CSRFToken": csrf, "Referer": page.url}
        )

    refused = win()
    assert refused.status == 409
    assert "value_case_acknowledged" in [u["code"] for u in refused.json()["unmet"]]

    page.goto(f"/value-cases/opportunity/{opp.pk}/")
    page.click("#start-case")
    page.wait_for_url(re.compile(r"/value-cases/\d+/$"))

    # a missing basis is refused with a field error
    _add_driver(page, "product", "Fewer lost leads", "5000", "")
    assert page.locator('[data-field="basis"]').is_visible()
    _add_driver(page, "product", "Fewer lost leads", "5000", "50 deals × 100 margin")
    _add_driver(page, "seller", "Implementation guidance", "1000", "two weeks saved")
    cost = page.locator("#cost-form")
    cost.locator("input[name=amount]").fill("3500")
    cost.locator("input[name=basis]").fill("annual licence")
    cost.locator("button[type=submit]").click()
    page.wait_for_load_state()
    rating = page.locator("#rating-form")
    rating.locator("select[name=product]").select_option("4")
    rating.locator("select[name=kpi]").select_option("4")
    rating.locator("select[name=service]").select_option("5")
    rating.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "1,500.00" in page.locator('[data-figure="net"]').inner_text()
    page.wait_for_function("document.querySelector('#vc-tornado canvas') !== null")

    page.locator("#send-form button[type=submit]").click()
    link = page.locator("[data-sent-url]").input_value()
    assert "/customer/" in link

    customer = new_page(locale="en-US")
    customer.goto(link)
    assert "Value summary for Xinghe Retail" in customer.content()
    customer.fill("textarea[name=body]", "Looks right to us.")
    customer.click("button[value=comment]")
    customer.wait_for_load_state()
    customer.click("#acknowledge")
    customer.wait_for_selector("[data-acknowledged]")

    page.reload()
    assert page.locator("[data-acknowledged]").is_visible()
    assert "Looks right to us." in page.content()
    case = ValueCase.objects.get(opportunity=opp)
    assert case.state == "acknowledged" and case.acknowledgement.contact.name == "Li Na"

    # the rep wins the deal through the API with the browser's session: the S4 gate now lets it through
    response = win()
    assert response.status == 200, response.text()
    opp.refresh_from_db()
    assert opp.won_on is not None
