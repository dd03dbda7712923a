"""A rep opens a busy deal: the value-case panel appears once the page is shown, and "More" at the end of
the timeline brings the older entries in place, down to the deal's creation."""

import datetime

import pytest
from django.utils import timezone

from keyfit.accounts.models import Account
from keyfit.core.roles import Role
from keyfit.pipeline.seed_data import seed_vocabulary
from keyfit.pipeline.services import activity_create, opportunity_create
from keyfit.users.models import Team
from keyfit.users.tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_panel_loads_and_timeline_pages_in_place(login):
    seed_vocabulary()  # transactional tests start from an empty database
    team = Team.objects.create(name="East")
    rep = UserFactory(email="rep@example.com", full_name="Rep One", role=Role.ACCOUNT_EXECUTIVE, team=team)
    account = Account.objects.create(name="Acme Precision", owner=rep, team=team)
    opp = opportunity_create(actor=rep, account=account, name="Acme MES", owner=rep)
    start = timezone.now() - datetime.timedelta(days=30)
    for i in range(25):
        activity_create(
            actor=rep,
            kind="call",
            subject=f"Call {i:02d}",
            opportunity=opp,
            occurred_at=start + datetime.timedelta(hours=i),
        )

    page = login(rep)
    page.goto(f"/pipeline/opportunities/{opp.pk}/")
    page.locator("#opportunity-value").get_by_role("link", name="Start the value case").wait_for()
    timeline = page.locator("ol.timeline")
    assert timeline.locator("li.tl-activity").count() == 18  # 20 entries: creation, its audit event, 18 calls
    timeline.get_by_role("link", name="More").click()
    timeline.get_by_text("Call 00", exact=True).wait_for()
    assert timeline.locator("li.tl-activity").count() == 25
    assert timeline.locator("li.tl-more").count() == 0
