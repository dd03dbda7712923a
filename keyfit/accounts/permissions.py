"""Which accounts and contacts a user may see and change (DESIGN §1). Contacts follow their account."""

from keyfit.accounts.models import Account, Contact
from keyfit.core.permissions import scope_q


def visible_accounts(user):
    return Account.objects.filter(scope_q(user))


def editable_accounts(user):
    return Account.objects.filter(scope_q(user, write=True))


def visible_contacts(user):
    return Contact.objects.filter(scope_q(user, prefix="account__"))


def editable_contacts(user):
    return Contact.objects.filter(scope_q(user, prefix="account__", write=True))
