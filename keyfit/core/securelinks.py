"""Secure capability links: ≥128-bit random tokens, stored hashed, purpose-bound, expiring, revocable.

Every failure (unknown, wrong purpose, expired, revoked) raises the same ``NotFound``; repeated
failures from one client address raise ``RateLimited``. Opening a link is audited by the caller's
service with the action it performs (open, save, submit…).
"""

import hashlib
import secrets
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import models
from django.db.models import F
from django.utils import timezone

from keyfit.core.errors import NotFound, RateLimited
from keyfit.core.models import SecureLink

TOKEN_BYTES = 32  # 256 bits of randomness
MAX_FAILURES = 20
FAILURE_WINDOW_SECONDS = 600


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def secure_link_issue(
    *, purpose: str, target: models.Model, expires_at: datetime, actor=None
) -> tuple[SecureLink, str]:
    """Create a link and return it with the raw token, which is never stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = SecureLink.objects.create(
        purpose=purpose,
        token_hash=hash_token(token),
        content_type=ContentType.objects.get_for_model(target),
        object_id=str(target.pk),
        expires_at=expires_at,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    return link, token


def secure_links_revoke_for(*, purpose: str, target: models.Model) -> int:
    """Revoke every live link of `purpose` for `target` (used when a link is re-sent)."""
    return SecureLink.objects.filter(
        purpose=purpose,
        content_type=ContentType.objects.get_for_model(target),
        object_id=str(target.pk),
        revoked_at__isnull=True,
    ).update(revoked_at=timezone.now())


def secure_link_revoke(*, link: SecureLink) -> None:
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])


def _failure_key(client: str) -> str:
    return f"securelink:fail:{client}"


def client_address(request) -> str:
    if request is None:
        return "-"
    return request.META.get("REMOTE_ADDR", "-")


def secure_link_resolve(*, purpose: str, token: str, client: str = "-") -> SecureLink:
    """The live link for `token`, or NotFound; RateLimited after too many failures from `client`."""
    key = _failure_key(client)
    failures = cache.get(key, 0)
    if failures >= MAX_FAILURES:
        raise RateLimited()
    link = None
    if token and len(token) <= 200:
        link = (
            SecureLink.objects.filter(token_hash=hash_token(token), purpose=purpose)
            .select_related("content_type")
            .first()
        )
    if link is None or not link.is_live:
        try:
            cache.add(key, 0, FAILURE_WINDOW_SECONDS)
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, FAILURE_WINDOW_SECONDS)
        raise NotFound()
    SecureLink.objects.filter(pk=link.pk).update(last_used_at=timezone.now(), use_count=F("use_count") + 1)
    return link


def secure_link_target(link: SecureLink, model: type[models.Model]) -> models.Model:
    """The link's target, checked to be of the expected model (else NotFound)."""
    if link.content_type.model_class() is not model:
        raise NotFound()
    obj = model._default_manager.filter(pk=link.object_id).first()
    if obj is None:
        raise NotFound()
    return obj
