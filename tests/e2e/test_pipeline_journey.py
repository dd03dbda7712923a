"""A rep logs a visit with the questions asked, completes the MNE profile and drags the opportunity from
S3 to S4 on the board; a drop that fails the gate snaps back and says why."""

import pytest

from keyfit.accounts.choices import BuyingRole
from keyfit.accounts.models import Account, Contact
from keyfit.core.roles import Role
from keyfit.pipeline.models import Opportunity, Question
from keyfit.pipeline.seed_data import seed_vocabulary
from keyfit.pipeline.services import opportunity_create
from keyfit.users.models import Team
from keyfit.users.tests.factories import UserFactory


def _card(page, name):
    return page.locator(".board-card", has_text=name)


def _column(page, code):
    return page.locator(f'.board-cards[data-stage="{code}"]')


@pytest.mark.django_db(transaction=True)
def test_visit_mne_and_board_drag(login):
    seed_vocabulary()  # transactional tests start from an empty database
    team = Team.objects.create(name="East")
    rep = UserFactory(email="rep@example.com", full_name="Rep One", role=Role.ACCOUNT_EXECUTIVE, team=team)
    account = Account.objects.create(name="Acme Precision", owner=rep, team=team)
    buyer = Contact.objects.create(account=account, name="Ms Buyer")
    opp = opportunity_create(
        actor=rep,
        account=account,
        name="Acme MES",
        owner=rep,
        contacts=[(buyer, BuyingRole.ECONOMIC_BUYER)],
    )
    Opportunity.objects.filter(pk=opp.pk).update(
        decision_criteria="Total cost and lead time", feasibility_confirmed=True
    )
    opportunity_create(actor=rep, account=account, name="Acme Spare", owner=rep)

    page = login(rep)
    page.goto(f"/pipeline/opportunities/{opp.pk}/")
    page.get_by_role("link", name="Log activity").click()
    page.get_by_label("type").select_option("visit")
    page.get_by_label("subject").fill("Plant visit")
    page.get_by_label("duration (minutes)").fill("90")
    for code, answer, use_as in [
        ("why_now", "Audit in March found rework costs", "motivation"),
        ("must_solve", "Scrap rate above 4% must halve", "need"),
        ("success_picture", "One plant live in 90 days", "expectations"),
    ]:
        question = Question.objects.get(code=code)
        block = page.locator(f'.question[data-code="{code}"]')
        block.get_by_role("checkbox").check()
        block.locator("textarea").fill(answer)
        block.locator("select").select_option(use_as)
        assert question.pk
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"**/pipeline/opportunities/{opp.pk}/")
    assert page.locator('[data-field="motivation"]').inner_text() == "Audit in March found rework costs"
    page.get_by_text("3 questions asked").click()

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("success criteria").fill("Scrap below 2% by Q3")
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"**/pipeline/opportunities/{opp.pk}/")
    assert page.get_by_text("complete", exact=True).is_visible()

    page.goto("/pipeline/")
    _card(page, "Acme MES").drag_to(_column(page, "s4_value"))
    page.wait_for_function(
        "() => document.querySelector('.board-column[data-stage=\"s4_value\"] [data-count]').textContent.trim() === '1'"
    )
    assert _column(page, "s4_value").locator(".board-card", has_text="Acme MES").count() == 1
    opp.refresh_from_db()
    assert opp.stage.code == "s4_value"

    _card(page, "Acme Spare").drag_to(_column(page, "s4_value"))
    message = page.locator("#board-message")
    message.wait_for(state="visible")
    assert "MNE profile complete" in message.inner_text()
    assert "Economic buyer identified" in message.inner_text()
    assert _column(page, "s3_guiding").locator(".board-card", has_text="Acme Spare").count() == 1
    assert Opportunity.objects.get(name="Acme Spare").stage.code == "s3_guiding"
