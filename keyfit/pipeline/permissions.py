"""Which opportunities and activities a user may see and change (DESIGN §1).

Opportunities scope by their own owner and team. Activities are visible with their opportunity (or, for
activities without one, their account) and to the people who logged them.
"""

from keyfit.core.errors import NotFound, PermissionDenied
from keyfit.core.permissions import is_admin, scope_q
from keyfit.pipeline.models import Activity, Opportunity


def visible_opportunities(user):
    return Opportunity.objects.filter(scope_q(user))


def editable_opportunities(user):
    return Opportunity.objects.filter(scope_q(user, write=True))


def can_edit_opportunity(user, opportunity) -> bool:
    if is_admin(user):
        return True  # an administrator's write scope is everything: no query needed
    return editable_opportunities(user).filter(pk=opportunity.pk).exists()


def access_opportunity(user, pk, *, write: bool = False, queryset=None) -> Opportunity:
    """The opportunity `pk` if visible (404 otherwise); with ``write`` also editable (403 otherwise)."""
    qs = queryset if queryset is not None else Opportunity.objects.all()
    try:
        opportunity = qs.filter(scope_q(user)).get(pk=pk)
    except (Opportunity.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    if write and not can_edit_opportunity(user, opportunity):
        raise PermissionDenied()
    return opportunity


def visible_activities(user):
    return Activity.objects.filter(
        scope_q(user) | scope_q(user, prefix="opportunity__") | scope_q(user, prefix="account__")
    )


def editable_activities(user):
    return Activity.objects.filter(scope_q(user, write=True) | scope_q(user, prefix="opportunity__", write=True))


def access_activity(user, pk, *, write: bool = False) -> Activity:
    try:
        activity = visible_activities(user).get(pk=pk)
    except (Activity.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    if write and not editable_activities(user).filter(pk=activity.pk).exists():
        raise PermissionDenied()
    return activity


def ensure_editable(user, opportunity) -> None:
    """Raise PermissionDenied when a record just written would be outside `user`'s write scope
    (called inside the write's transaction, so the write is rolled back)."""
    if not can_edit_opportunity(user, opportunity):
        raise PermissionDenied()
