"""Which leads a user may see and change (DESIGN §1): owner, team, manager subtree, admin."""

from keyfit.core.errors import NotFound, PermissionDenied
from keyfit.core.permissions import can_write, is_admin, scope_q
from keyfit.core.roles import Role
from keyfit.leads.models import Lead


def visible_leads(user):
    return Lead.objects.filter(scope_q(user))


def editable_leads(user):
    return Lead.objects.filter(scope_q(user, write=True))


def access_lead(user, pk, *, write: bool = False) -> Lead:
    """The lead `pk` if `user` may read it (else NotFound); with `write`, PermissionDenied when read-only."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound() from None
    lead = visible_leads(user).select_related("owner", "team", "disqualify_reason").filter(pk=pk).first()
    if lead is None:
        raise NotFound()
    if write and not editable_leads(user).filter(pk=pk).exists():
        raise PermissionDenied()
    return lead


def can_create_leads(user) -> bool:
    return can_write(user)


def can_route(user) -> bool:
    return bool(is_admin(user) or (user.is_authenticated and user.role == Role.MANAGER))


def can_configure(user) -> bool:
    return is_admin(user)


def require(condition: bool) -> None:
    if not condition:
        raise PermissionDenied()
