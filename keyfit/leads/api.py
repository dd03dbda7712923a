"""/api/v1/leads: CRUD, routing, screening, signals, conversion, merge and decisions."""

from django.contrib.auth import get_user_model
from django.db import transaction
from ninja import Query, Router, Schema, Status

from keyfit.core.api_utils import PageOut, api_page
from keyfit.core.audit import audit_record, snapshot
from keyfit.core.errors import NotFound, PermissionDenied, ValidationFailed
from keyfit.core.models import AuditEvent
from keyfit.core.permissions import is_admin
from keyfit.leads import selectors, services
from keyfit.leads.models import Lead
from keyfit.leads.permissions import access_lead, can_create_leads, can_route, editable_leads, require
from keyfit.leads.schemas import (
    ConvertIn,
    ConvertOut,
    DecisionOut,
    DisqualifyIn,
    LeadCreatedOut,
    LeadDetailOut,
    LeadIn,
    LeadOut,
    LeadPatch,
    MergeIn,
    ReassignIn,
    RouteIn,
    RouteOut,
    ScreenIn,
    SignalIn,
    SignalOut,
)

router = Router(tags=["Leads"])
MAX_DECISIONS_SHOWN = 1000


class LeadFilters(Schema):
    status: str | None = None
    source: str | None = None
    campaign: str | None = None
    owner: str | None = None
    team: int | None = None
    priority_min: int | None = None
    sla: str | None = None
    q: str | None = None
    email: str | None = None
    queue: bool = False
    cursor: str | None = None
    limit: int | None = None


@router.get("/leads", response=PageOut[LeadOut])
def list_leads(request, filters: Query[LeadFilters]):
    data = filters.dict()
    cursor, limit, queue = data.pop("cursor"), data.pop("limit"), data.pop("queue")
    if queue:
        qs = selectors.lead_queue(request.auth, data)
        return api_page(qs, order=selectors.QUEUE_ORDER, cursor=cursor, limit=limit)
    return api_page(selectors.lead_list(request.auth, data), order=selectors.LIST_ORDER, cursor=cursor, limit=limit)


@router.post("/leads", response={201: LeadCreatedOut})
def create_lead(request, payload: LeadIn, route: bool = False):
    require(can_create_leads(request.auth))
    data = payload.dict(exclude_unset=True)
    data.setdefault("source", "api")
    lead = services.lead_create(actor=request.auth, data=data, route=route)
    lead = Lead.objects.select_related("owner", "disqualify_reason").get(pk=lead.pk)
    duplicates = [d.pk for d in selectors.lead_duplicates(request.auth, lead)]
    return Status(201, {"lead": lead, "duplicates": duplicates})


@router.post("/leads/route", response=RouteOut)
def route(request, payload: RouteIn):
    require(can_route(request.auth))
    ids = payload.lead_ids
    if ids is None:
        require(is_admin(request.auth))  # every unassigned lead of the organisation
    else:
        visible = set(editable_leads(request.auth).filter(pk__in=ids).values_list("pk", flat=True))
        missing = set(ids) - visible
        if missing:
            raise NotFound()
    result = services.leads_route(actor=request.auth, lead_ids=ids, seed=payload.seed)
    return {
        "routed": result.routed,
        "unrouted": result.unrouted,
        "decisions": result.decisions[:MAX_DECISIONS_SHOWN],
        "decisions_truncated": len(result.decisions) > MAX_DECISIONS_SHOWN,
    }


@router.post("/leads/merge", response=LeadOut)
def merge(request, payload: MergeIn):
    require(can_create_leads(request.auth))
    target = access_lead(request.auth, payload.target_id, write=True)
    sources = [access_lead(request.auth, pk, write=True) for pk in payload.source_ids]
    lead = services.leads_merge(actor=request.auth, target=target, sources=sources)
    return access_lead(request.auth, lead.pk)


@router.get("/leads/{lead_id}", response=LeadDetailOut)
def get_lead(request, lead_id: int):
    lead = access_lead(request.auth, lead_id)
    lead.duplicates = [d.pk for d in selectors.lead_duplicates(request.auth, lead)]
    return lead


@router.patch("/leads/{lead_id}", response=LeadOut)
def update_lead(request, lead_id: int, payload: LeadPatch):
    lead = access_lead(request.auth, lead_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    services.lead_update(actor=request.auth, lead=lead, data=data, version=version)
    return access_lead(request.auth, lead_id)


@router.delete("/leads/{lead_id}", response={204: None})
def delete_lead(request, lead_id: int):
    lead = access_lead(request.auth, lead_id, write=True)
    with transaction.atomic():
        audit_record(actor=request.auth, instance=lead, action=AuditEvent.Action.DELETE, before=snapshot(lead))
        lead.delete()
    return Status(204, None)


@router.post("/leads/{lead_id}/screen", response=LeadDetailOut)
def screen(request, lead_id: int, payload: ScreenIn):
    lead = access_lead(request.auth, lead_id, write=True)
    data = payload.dict(exclude_unset=True)
    step = data.pop("step")
    version = data.pop("version", None)
    if step == 1:
        services.lead_screen1(actor=request.auth, lead=lead, version=version)
    elif step == 2:
        services.lead_screen2(
            actor=request.auth, lead=lead, data={k: v for k, v in data.items() if v is not None}, version=version
        )
    else:
        raise ValidationFailed(fields={"step": ["Screen 1 or 2."]})
    return access_lead(request.auth, lead_id)


@router.post("/leads/{lead_id}/signals", response={201: SignalOut})
def add_signal(request, lead_id: int, payload: SignalIn):
    lead = access_lead(request.auth, lead_id, write=True)
    signal = services.lead_signal_add(actor=request.auth, lead=lead, **payload.dict())
    return Status(201, signal)


@router.get("/leads/{lead_id}/signals", response=list[SignalOut])
def list_signals(request, lead_id: int):
    return selectors.lead_signals(access_lead(request.auth, lead_id))


@router.post("/leads/{lead_id}/convert", response=ConvertOut)
def convert(request, lead_id: int, payload: ConvertIn):
    lead = access_lead(request.auth, lead_id, write=True)
    result = services.lead_convert(
        actor=request.auth, lead=lead, opportunity_name=payload.opportunity_name, version=payload.version
    )
    return {
        "lead_id": lead.pk,
        "account_id": result["account"].pk,
        "account_created": result["account_created"],
        "contact_id": result["contact"].pk if result["contact"] else None,
        "contact_created": result["contact_created"],
        "opportunity_id": result["opportunity"].pk,
    }


@router.post("/leads/{lead_id}/disqualify", response=LeadOut)
def disqualify(request, lead_id: int, payload: DisqualifyIn):
    lead = access_lead(request.auth, lead_id, write=True)
    services.lead_disqualify(
        actor=request.auth, lead=lead, reason_code=payload.reason, note=payload.note, version=payload.version
    )
    return access_lead(request.auth, lead_id)


@router.post("/leads/{lead_id}/reassign", response=LeadOut)
def reassign(request, lead_id: int, payload: ReassignIn):
    lead = access_lead(request.auth, lead_id, write=True)
    if not can_route(request.auth):
        raise PermissionDenied()
    owner = get_user_model().objects.filter(pk=payload.owner_id, is_active=True).first()
    services.lead_reassign(actor=request.auth, lead=lead, owner=owner, reason=payload.reason, version=payload.version)
    return access_lead(request.auth, lead_id)


@router.get("/leads/{lead_id}/decisions", response=list[DecisionOut])
def decisions(request, lead_id: int):
    lead = access_lead(request.auth, lead_id)
    return [
        {
            "id": d.pk,
            "lead_id": d.lead_id,
            "kind": d.kind,
            "owner_id": d.to_owner_id,
            "team_id": d.team_id,
            "rule_id": d.rule_id,
            "reason": d.reason,
            "at": d.at,
        }
        for d in selectors.lead_decisions(lead)
    ]
