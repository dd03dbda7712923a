"""Forget the cached account-list filter choices when what they show changes (users, teams, custom fields)."""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save


def forget_filter_choices(*, update_fields=None, **kwargs) -> None:
    from keyfit.accounts.views import FILTER_CHOICES_KEY

    if update_fields is not None and set(update_fields) <= {"last_login", "password"}:
        return  # a login or a password change does not change a name or a team

    cache.delete(FILTER_CHOICES_KEY)
    # Again after the commit, so that a page rendered meanwhile cannot keep the old rows cached.
    transaction.on_commit(lambda: cache.delete(FILTER_CHOICES_KEY), robust=True)


def connect() -> None:
    from keyfit.core.models import CustomFieldDefinition
    from keyfit.users.models import Team, User

    for model in (User, Team, CustomFieldDefinition):
        uid = f"accounts-filter-choices-{model.__name__}"
        post_save.connect(forget_filter_choices, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(forget_filter_choices, sender=model, dispatch_uid=f"{uid}-delete")
