"""Background work of leads: notification e-mails and the periodic first-touch SLA check."""

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task
from django.utils import translation
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


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
        try:
            send_mail(subject, body, None, [user.email])
        except (OSError, smtplib.SMTPException):
            # The in-app notification stays; a mail server hiccup must not fail the routing task.
            logger.warning("notification %s: e-mail to %s failed", note.pk, user.email, exc_info=True)
            continue
        sent += 1
    return sent


@task()
def check_lead_slas() -> dict:
    from keyfit.leads.services import leads_check_slas

    return leads_check_slas()
