"""Which waves a user may see and change: waves follow their account (DESIGN §1)."""

from keyfit.core.permissions import is_admin, scope_q
from keyfit.fitcanvas.models import QuestionnaireTemplate, Wave


def visible_waves(user):
    return Wave.objects.filter(scope_q(user, prefix="account__"))


def editable_waves(user):
    return Wave.objects.filter(scope_q(user, prefix="account__", write=True))


def visible_templates(user):
    if not (user and user.is_authenticated and user.is_active):
        return QuestionnaireTemplate.objects.none()
    return QuestionnaireTemplate.objects.all()


def can_edit_templates(user) -> bool:
    return is_admin(user)
