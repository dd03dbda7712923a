import pytest

from keyfit.accounts import demo
from keyfit.accounts.models import Account, Contact
from keyfit.core.customfields import custom_fields_clean
from keyfit.core.demo import DemoContext
from keyfit.users import demo as users_demo


@pytest.mark.django_db
def test_demo_accounts_and_contacts_are_valid():
    ctx = DemoContext()
    users_demo.seed(ctx)
    demo.seed(ctx)
    accounts, contacts = ctx.data["accounts"], ctx.data["contacts"]
    assert 180 <= len(accounts) <= 210
    assert Account.objects.filter(name__endswith="有限公司").count() > 150
    assert Account.objects.exclude(country="CN").count() >= 16
    for account in accounts:
        account.full_clean()
        custom_fields_clean("account", account.custom_fields)
        assert account.team_id == account.owner.team_id
        assert 2 <= account.contacts.count() <= 5
    for contact in Contact.objects.select_related("reports_to"):
        if contact.reports_to_id:
            assert contact.reports_to.account_id == contact.account_id
            assert contact.reports_to.reports_to_id != contact.pk
    assert Contact.objects.filter(reports_to__isnull=False).count() > len(accounts)
    assert len(contacts) == Contact.objects.count()
