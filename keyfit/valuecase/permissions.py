"""Which value cases a user may see and change: a case follows its opportunity's scope (DESIGN §1)."""

from keyfit.core.errors import NotFound, PermissionDenied
from keyfit.core.permissions import scope_q
from keyfit.valuecase.models import ValueCase


def visible_value_cases(user):
    return ValueCase.objects.filter(scope_q(user, prefix="opportunity__"))


def editable_value_cases(user):
    return ValueCase.objects.filter(scope_q(user, prefix="opportunity__", write=True))


def access_value_case(user, pk, *, write: bool = False, queryset=None) -> ValueCase:
    """The case `pk` if visible (404 otherwise); with ``write`` also editable (403 otherwise)."""
    qs = queryset if queryset is not None else ValueCase.objects.all()
    try:
        case = qs.filter(scope_q(user, prefix="opportunity__")).select_related("opportunity").get(pk=pk)
    except (ValueCase.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    if write and not editable_value_cases(user).filter(pk=case.pk).exists():
        raise PermissionDenied()
    return case
