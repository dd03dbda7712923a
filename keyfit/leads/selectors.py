"""Reads of leads, always starting from `visible_leads(user)`."""

import datetime
from typing import Any

from django.db.models import DateTimeField, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from keyfit.core.errors import ValidationFailed
from keyfit.leads.choices import OPEN_STATUSES, Status
from keyfit.leads.models import Lead, LeadSignal, Notification, RoutingDecision
from keyfit.leads.permissions import visible_leads
from keyfit.leads.services import duplicate_candidates_q

FAR_FUTURE = datetime.datetime(9999, 1, 1, tzinfo=datetime.UTC)
LIST_ORDER = ("-created_at", "-id")
QUEUE_ORDER = ("-priority", "sla_key", "id")


def lead_list(user, filters: dict[str, Any] | None = None):
    """Visible leads narrowed by the list filters (status, source, owner, team, q, priority, SLA…)."""
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    qs = visible_leads(user).filter(merged_into__isnull=True).select_related("owner", "team")
    if "status" in filters:
        statuses = filters["status"] if isinstance(filters["status"], list) else str(filters["status"]).split(",")
        if any(s not in Status.values and s != "open" for s in statuses):
            raise ValidationFailed(fields={"status": ["Unknown status."]})
        expanded = [x for s in statuses for x in (OPEN_STATUSES if s == "open" else [s])]
        qs = qs.filter(status__in=expanded)
    if "source" in filters:
        qs = qs.filter(source=filters["source"])
    if "campaign" in filters:
        qs = qs.filter(campaign=filters["campaign"])
    if filters.get("owner") == "me":
        qs = qs.filter(owner=user)
    elif filters.get("owner") == "none":
        qs = qs.filter(owner__isnull=True)
    elif "owner" in filters:
        qs = qs.filter(owner_id=_int(filters["owner"], "owner"))
    if "team" in filters:
        qs = qs.filter(team_id=_int(filters["team"], "team"))
    if "priority_min" in filters:
        qs = qs.filter(priority__gte=_int(filters["priority_min"], "priority_min"))
    if filters.get("sla") == "breached":
        qs = qs.filter(sla_breached_at__isnull=False, first_touch_at__isnull=True)
    elif filters.get("sla") == "due_today":
        qs = qs.filter(first_touch_at__isnull=True, sla_due_at__lte=timezone.now() + datetime.timedelta(hours=24))
    if "q" in filters:
        text = str(filters["q"]).strip()[:100]
        qs = qs.filter(
            Q(company_name__icontains=text)
            | Q(contact_name__icontains=text)
            | Q(email_normalized=text.lower())
            | Q(company_domain=text.lower())
        )
    if "email" in filters:
        qs = qs.filter(email_normalized=str(filters["email"]).strip().lower())
    return qs


def lead_queue(user, filters: dict[str, Any] | None = None):
    """The SDR queue: my open leads, highest priority first, then least SLA time left."""
    base = dict(filters or {})
    base.setdefault("status", "open")
    base["owner"] = "me"
    return lead_list(user, base).annotate(
        sla_key=Coalesce("sla_due_at", Value(FAR_FUTURE, output_field=DateTimeField()))
    )


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(fields={name: ["Enter a whole number."]}) from None


def lead_duplicates(user, lead: Lead, limit: int = 10) -> list[Lead]:
    """Visible leads that share the normalised e-mail, phone or company domain of `lead`."""
    q = duplicate_candidates_q(
        email_normalized=lead.email_normalized,
        phone_normalized=lead.phone_normalized,
        company_domain=lead.company_domain,
    )
    if q is None:
        return []
    return list(
        visible_leads(user)
        .filter(q, merged_into__isnull=True)
        .exclude(pk=lead.pk)
        .select_related("owner")
        .order_by("-created_at", "-id")[:limit]
    )


def duplicate_ids(*, email_normalized: str, phone_normalized: str, company_domain: str, limit: int = 10) -> list[int]:
    """Ids of existing leads matching the keys (unscoped: used to warn at intake and by the benchmark)."""
    q = duplicate_candidates_q(
        email_normalized=email_normalized, phone_normalized=phone_normalized, company_domain=company_domain
    )
    if q is None:
        return []
    return list(Lead.objects.filter(q, merged_into__isnull=True).values_list("id", flat=True)[:limit])


def lead_history_ids(lead: Lead) -> list[int]:
    """The lead and the leads merged into it: their decisions and audit belong to its history."""
    return [lead.pk, *Lead.objects.filter(merged_into=lead).values_list("pk", flat=True)]


def lead_decisions(lead: Lead, limit: int = 50) -> list[RoutingDecision]:
    return list(
        RoutingDecision.objects.filter(lead_id__in=lead_history_ids(lead))
        .select_related("to_owner", "from_owner", "actor", "team")
        .order_by("-at", "-id")[:limit]
    )


def lead_signals(lead: Lead) -> list[LeadSignal]:
    return list(LeadSignal.objects.filter(lead=lead).select_related("created_by").order_by("-occurred_at", "-id"))


def notifications_unread(user, limit: int = 20) -> list[Notification]:
    return list(Notification.objects.filter(user=user, read_at__isnull=True).order_by("-created_at", "-id")[:limit])
