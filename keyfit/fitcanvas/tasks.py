"""Background work of the Triple Fit Canvas: invitation and reminder e-mails in the rater's language."""

import base64
import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task
from django.template.loader import render_to_string
from django.utils import translation

from keyfit.fitcanvas.models import Rater


def _keystream(nonce: bytes, length: int) -> bytes:
    key = hashlib.sha256(b"keyfit.fitcanvas.seal:" + settings.SECRET_KEY.encode()).digest()
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(key, nonce + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return out[:length]


def seal(text: str) -> str:
    """Encrypt a link for the task queue (HMAC-SHA256 keystream, random nonce, authenticated), so the raw
    token never rests in the clear in a task row; only the rater's mailbox and the KAM's one-time answer
    ever see it."""
    nonce = secrets.token_bytes(16)
    data = text.encode()
    cipher = bytes(a ^ b for a, b in zip(data, _keystream(nonce, len(data)), strict=True))
    mac = hmac.new(settings.SECRET_KEY.encode(), nonce + cipher, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(nonce + mac + cipher).decode()


def unseal(sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    nonce, mac, cipher = raw[:16], raw[16:32], raw[32:]
    expected = hmac.new(settings.SECRET_KEY.encode(), nonce + cipher, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(mac, expected):
        raise ValueError("sealed link was tampered with")
    return bytes(a ^ b for a, b in zip(cipher, _keystream(nonce, len(cipher)), strict=True)).decode()


@task
def send_rater_email(*, rater_id: int, sealed_url: str, kind: str = "invite") -> bool:
    """E-mail one rater their link (customer) or the in-app questionnaire address (supplier).

    Idempotent enough for a retry: it only sends mail and changes nothing in the database."""
    url = unseal(sealed_url)
    rater = Rater.objects.select_related("wave", "wave__account", "user", "contact").filter(pk=rater_id).first()
    if rater is None:
        return False
    person = rater.person
    if not getattr(person, "email", ""):
        return False
    context = {"rater": rater, "wave": rater.wave, "account": rater.wave.account, "url": url, "kind": kind}
    with translation.override(rater.language or settings.LANGUAGE_CODE):
        subject = render_to_string("fitcanvas/email_subject.txt", context).strip()
        body = render_to_string("fitcanvas/email_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [person.email])
    return True
