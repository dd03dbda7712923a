"""Writing and reading the audit log."""

import datetime
import decimal
import uuid
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from keyfit.core.models import AuditEvent

_SKIP = {"updated_at", "version"}


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def json_default(value: Any) -> Any:
    """``json.dumps(…, default=json_default)``: a value as `snapshot` writes it (dates and times in ISO
    8601, decimals and UUIDs as strings, model instances by id); any other type is refused."""
    safe = _json_safe(value)
    if safe is value:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return safe


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's concrete field values, JSON-safe, keyed by attribute name (FKs as ids)."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in _SKIP:
            continue
        data[field.attname] = _json_safe(getattr(instance, field.attname))
    return data


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, list[Any]]:
    before = before or {}
    after = after or {}
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def audit_record(
    *,
    actor,
    instance: models.Model,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    verb: str = "",
    extra: dict[str, Any] | None = None,
) -> AuditEvent | None:
    """Append one audit event. Updates that change nothing are not logged."""
    changes: dict[str, Any] = diff(before, after)
    if action == AuditEvent.Action.UPDATE and not changes and not extra:
        return None
    if extra:
        changes["_extra"] = extra
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=actor_obj,
        actor_label=(str(actor_obj) if actor_obj else str(actor or "system"))[:200],
        action=action,
        verb=verb,
        content_type=ContentType.objects.get_for_model(instance, for_concrete_model=True),
        object_id=str(instance.pk),
        object_repr=str(instance)[:300],
        changes=changes,
    )


def audit_for(instance: models.Model, limit: int = 100):
    ct = ContentType.objects.get_for_model(instance, for_concrete_model=True)
    return (
        AuditEvent.objects.filter(content_type=ct, object_id=str(instance.pk))
        .select_related("actor")
        .order_by("-at", "-id")[:limit]
    )
