"""Forget cached list-page data when what it shows changes: the account-list filter choices (users, teams,
custom fields) and a user's saved views."""

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


def forget_saved_views(*, instance, **kwargs) -> None:
    from keyfit.accounts.selectors import saved_views_key

    key = saved_views_key(instance.user_id, instance.list_key)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key), robust=True)


def connect() -> None:
    from keyfit.core.models import CustomFieldDefinition, SavedView
    from keyfit.users.models import Team, User

    for model in (User, Team, CustomFieldDefinition):
        uid = f"accounts-filter-choices-{model.__name__}"
        post_save.connect(forget_filter_choices, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(forget_filter_choices, sender=model, dispatch_uid=f"{uid}-delete")
    post_save.connect(forget_saved_views, sender=SavedView, dispatch_uid="accounts-saved-views-save")
    post_delete.connect(forget_saved_views, sender=SavedView, dispatch_uid="accounts-saved-views-delete")
