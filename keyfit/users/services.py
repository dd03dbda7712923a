import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from keyfit.core.audit import audit_record, snapshot
from keyfit.core.errors import NotFound, RateLimited
from keyfit.users.models import APIToken, Team

User = get_user_model()
TOKEN_PREFIX = "kf_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user, name: str) -> tuple[APIToken, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = APIToken.objects.create(user=user, name=name.strip() or "API", prefix=raw[:10], token_hash=_hash(raw))
    audit_record(actor=user, instance=user, action="other", verb="api_token_created", extra={"token": token.name})
    return token, raw


def api_token_revoke(*, user, token_id: int) -> None:
    token = APIToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).first()
    if token is None:
        raise NotFound()
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(actor=user, instance=user, action="other", verb="api_token_revoked", extra={"token": token.name})


def api_token_authenticate(raw: str):
    """The active user of a live token, or None. Last-use time is written at most once a minute."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = APIToken.objects.select_related("user").filter(token_hash=_hash(raw), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- log-in throttling -------------------------------------------------------------------------


def _throttle_keys(email: str, client: str) -> list[str]:
    return [f"login:fail:email:{email.strip().lower()}", f"login:fail:ip:{client}"]


def login_check_allowed(*, email: str, client: str) -> None:
    from django.conf import settings

    limits = {0: settings.LOGIN_MAX_FAILURES, 1: settings.LOGIN_MAX_FAILURES * 4}
    for i, key in enumerate(_throttle_keys(email, client)):
        if cache.get(key, 0) >= limits[i]:
            raise RateLimited()


def login_record_failure(*, email: str, client: str) -> None:
    from django.conf import settings

    for key in _throttle_keys(email, client):
        cache.add(key, 0, settings.LOGIN_LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)


def login_record_success(*, email: str, client: str) -> None:
    cache.delete(_throttle_keys(email, client)[0])


# --- users and teams ----------------------------------------------------------------------------


@transaction.atomic
def user_update(*, user, actor, **fields):
    before = snapshot(user)
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(actor=actor, instance=user, action="update", before=before, after=snapshot(user))
    return user


@transaction.atomic
def team_create(*, name: str, parent: Team | None = None, manager=None, actor=None) -> Team:
    team = Team(name=name, parent=parent, manager=manager)
    team.full_clean()
    team.save()
    audit_record(actor=actor, instance=team, action="create", after=snapshot(team))
    return team


@transaction.atomic
def user_create(*, actor, email: str, full_name: str, password: str, **fields):
    user = User(email=email.strip().lower(), full_name=full_name, **fields)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(actor=actor, instance=user, action="create", after=snapshot(user))
    return user


@transaction.atomic
def team_update(*, team: Team, actor, **fields) -> Team:
    before = snapshot(team)
    for name, value in fields.items():
        setattr(team, name, value)
    team.full_clean()
    team.save()
    audit_record(actor=actor, instance=team, action="update", before=before, after=snapshot(team))
    return team
