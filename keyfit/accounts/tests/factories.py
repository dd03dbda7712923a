import factory

from keyfit.accounts.models import Account, Contact
from keyfit.users.tests.factories import UserFactory


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n:05d}")
    owner = factory.SubFactory(UserFactory)
    team = factory.LazyAttribute(lambda o: o.owner.team)
    tier = "standard"
    lifecycle = "prospect"
    currency = "CNY"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Contact {n:05d}")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")
