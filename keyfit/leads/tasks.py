"""Background work of leads: notification e-mails and the periodic first-touch SLA check."""

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task
from django.utils import translation
from django.utils.translation import gettext as _


@task()
def send_lead_notifications(*, notification_ids: list[int]) -> int:
    """E-mail the given in-app notifications to their users, in each user's language (idempotent per call)."""
    from keyfit.leads.models import Notification

    sent = 0
    for note in Notification.objects.select_related("user", "lead").filter(pk__in=notification_ids):
        user = note.user
        if not user.is_active or not user.email:
            continue
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject = _("[keyfit] %(kind)s") % {"kind": note.get_kind_display()}
            link = f"{settings.SITE_URL}/leads/{note.lead_id}/" if note.lead_id else settings.SITE_URL
            body = f"{note.text}\n\n{link}\n"
        send_mail(subject, body, None, [user.email], fail_silently=True)
        sent += 1
    return sent


@task()
def check_lead_slas() -> dict:
    from keyfit.leads.services import leads_check_slas

    return leads_check_slas()
