"""JSON API of the pipeline: opportunities (CRUD, moves through gates, history), activities, questions."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from keyfit.accounts.permissions import visible_accounts, visible_contacts
from keyfit.core.api_utils import ErrorOut, PageOut, actor, api_page, page_response
from keyfit.core.errors import PermissionDenied, field_error
from keyfit.core.pagination import encode_cursor
from keyfit.core.permissions import can_write
from keyfit.pipeline import lookups, selectors, services
from keyfit.pipeline.models import Question, Stage
from keyfit.pipeline.permissions import access_activity, access_opportunity, ensure_editable, visible_opportunities
from keyfit.pipeline.schemas import (
    ActivityIn,
    ActivityOut,
    ActivityPatch,
    DealContactPut,
    GateCheckOut,
    MoveIn,
    OpportunityDetailOut,
    OpportunityIn,
    OpportunityOut,
    OpportunityPatch,
    QuestionOut,
    StageChangeOut,
    StageOut,
    WinIn,
)
from keyfit.users.models import User

router = Router(tags=["Pipeline"])

ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _require_writer(user) -> None:
    if not can_write(user):
        raise PermissionDenied()


def _user(pk, name):
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None:
        raise field_error(name, _("Unknown user."))
    return user


def _team(pk, name="team_id"):
    from keyfit.users.models import Team

    team = Team.objects.filter(pk=pk).first()
    if team is None:
        raise field_error(name, _("Unknown team."))
    return team


def _contacts(user, account, ids, name="contacts"):
    contacts = list(visible_contacts(user).filter(pk__in=ids, account=account))
    if len(contacts) != len(set(ids)):
        raise field_error(name, _("Participants must be contacts of the activity's account."))
    return contacts


class OpportunityFilters(Schema):
    q: str | None = None
    stage: str | None = None
    owner: int | None = None
    team: int | None = None
    account: int | None = None
    forecast: str | None = None
    status: str | None = None
    close_from: datetime.date | None = None
    close_to: datetime.date | None = None
    order: str = "recent"
    cursor: str | None = None
    limit: int | None = None


@router.get("/stages", response=list[StageOut], summary="Stages in funnel order")
def stages(request):
    return list(Stage.objects.filter(active=True).order_by("position", "id"))


# GET /opportunities answers from plain rows, serialised straight to JSON: building 50 wide model instances
# and validating them through OpportunityOut cost several times the rest of the request. The response is
# exactly what the schema would give (same keys in the same order, same values, same encoder — a test
# compares them); the schema stays the documented response.
_DERIVED = {"account_name", "stage", "stage_name", "probability", "lost_reason"}
OPPORTUNITY_COLUMNS = tuple(name for name in OpportunityOut.model_fields if name not in _DERIVED)
OPPORTUNITY_VALUES = (*OPPORTUNITY_COLUMNS, "account__name", "stage_id", "lost_reason_id")


def opportunity_out_rows(rows) -> list[dict]:
    """OpportunityOut dumps (the schema's fields in its order) from named rows of OPPORTUNITY_VALUES."""
    stages = lookups.stage_by_id()
    lost_reasons = lookups.lookups()["lost_reasons"]
    stage_names = {stage_id: stage.name for stage_id, stage in stages.items()}
    fields = tuple(OpportunityOut.model_fields)
    out = []
    for row in rows:
        values = row._asdict()
        manual = row.manual_probability
        values["account_name"] = row.account__name
        values["stage"] = stages[row.stage_id].code
        values["stage_name"] = stage_names[row.stage_id]
        values["probability"] = manual if manual is not None else row.computed_probability
        values["lost_reason"] = lost_reasons[row.lost_reason_id] if row.lost_reason_id else None
        out.append({name: values[name] for name in fields})
    return out


@router.get("/opportunities", response=PageOut[OpportunityOut], summary="Opportunities (filters, cursor pages)")
def opportunity_list(request, filters: Query[OpportunityFilters]):
    data = filters.dict()
    order = selectors.LIST_ORDERS.get(data.pop("order"), selectors.LIST_ORDERS["recent"])
    cursor, limit = data.pop("cursor"), data.pop("limit")
    user = actor(request)
    active = {k: v for k, v in data.items() if v not in (None, "", [])}

    def rows():
        qs = selectors.apply_filters(visible_opportunities(user), active).values_list(*OPPORTUNITY_VALUES, named=True)
        return qs.filter(expected_close_date__isnull=False) if order == selectors.LIST_ORDERS["close"] else qs

    if not cursor:
        # The first page's statement depends only on the scope, the filters, the order and the page size.
        size = min(max(int(limit or settings.PAGE_SIZE), 1), settings.API_MAX_LIMIT)
        first = selectors.compiled_rows(
            user,
            ("api", selectors.filters_key(active), order, size),
            lambda: rows().order_by(*order)[: size + 1],
            OPPORTUNITY_VALUES,
        )
        if first is not None:
            items = first[:size]
            last = items[-1] if len(first) > size else None
            next_cursor = encode_cursor([getattr(last, f.lstrip("-")) for f in order]) if last else None
            return page_response(request, opportunity_out_rows(items), next_cursor)
    page = api_page(selectors.seekable(rows(), order=order, cursor=cursor), order=order, cursor=cursor, limit=limit)
    return page_response(request, opportunity_out_rows(page["items"]), page["next_cursor"])


@router.post("/opportunities", response={201: OpportunityDetailOut, **ERRORS}, summary="Create an opportunity in S3")
def opportunity_create(request, payload: OpportunityIn):
    user = actor(request)
    _require_writer(user)
    account = visible_accounts(user).filter(pk=payload.account_id).first()
    if account is None:
        raise field_error("account_id", _("Unknown account."))
    owner = _user(payload.owner_id, "owner_id") if payload.owner_id else user
    team = _team(payload.team_id) if payload.team_id else None
    contacts = _contacts(user, account, [c.contact_id for c in payload.contacts])
    by_id = {c.pk: c for c in contacts}
    previous = None
    if payload.previous_id:
        previous = visible_opportunities(user).filter(pk=payload.previous_id).first()
        if previous is None:
            raise field_error("previous_id", _("Unknown opportunity."))
    with transaction.atomic():
        opp = services.opportunity_create(
            actor=user,
            account=account,
            name=payload.name,
            owner=owner,
            team=team,
            amount=payload.amount,
            currency=payload.currency,
            expected_close_date=payload.expected_close_date,
            custom_fields=payload.custom_fields,
            external_id=payload.external_id,
            previous=previous,
            previous_link=payload.previous_link or "",
        )
        ensure_editable(user, opp)
        for item in payload.contacts:
            services.opportunity_contact_set(
                actor=user, opportunity=opp, contact=by_id[item.contact_id], **item.dict(exclude={"contact_id"})
            )
    return Status(201, selectors.opportunity_get(user, opp.pk))


@router.get("/opportunities/{opportunity_id}", response={200: OpportunityDetailOut, 404: ErrorOut})
def opportunity_detail(request, opportunity_id: int):
    return selectors.opportunity_get(actor(request), opportunity_id)


@router.patch("/opportunities/{opportunity_id}", response={200: OpportunityDetailOut, **ERRORS})
def opportunity_update(request, opportunity_id: int, payload: OpportunityPatch):
    """Send the `version` you read; a stale version answers 409 with `current` (the record as it is now)."""
    user = actor(request)
    opp = access_opportunity(user, opportunity_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    if "owner_id" in data:
        data["owner"] = _user(data.pop("owner_id"), "owner_id")
    if "team_id" in data:
        data["team"] = _team(data.pop("team_id")) if data["team_id"] else data.pop("team_id")
    if "previous_id" in data:
        pk = data.pop("previous_id")
        data["previous"] = visible_opportunities(user).filter(pk=pk).first() if pk else None
        if pk and data["previous"] is None:
            raise field_error("previous_id", _("Unknown opportunity."))
    if "champion_id" in data:
        pk = data.pop("champion_id")
        data["champion"] = visible_contacts(user).filter(pk=pk, account_id=opp.account_id).first() if pk else None
        if pk and data["champion"] is None:
            raise field_error("champion_id", _("The champion must be a contact of the opportunity's account."))
    with transaction.atomic():
        updated = services.opportunity_update(actor=user, opportunity=opp, version=version, data=data)
        ensure_editable(user, updated)
    return selectors.opportunity_get(user, opp.pk)


@router.delete("/opportunities/{opportunity_id}", response={204: None, **ERRORS})
def opportunity_delete(request, opportunity_id: int):
    user = actor(request)
    opp = access_opportunity(user, opportunity_id, write=True)
    services.opportunity_delete(actor=user, opportunity=opp)
    return Status(204, None)


@router.post(
    "/opportunities/{opportunity_id}/move",
    response={200: OpportunityOut, **ERRORS},
    summary="Move to a stage through its gate",
)
def opportunity_move(request, opportunity_id: int, payload: MoveIn):
    """A refused move answers 409 `{"code": "gate_refused", "unmet": [{"code", "label", "detail"}]}`.
    An admin may pass `"override": true` with a `reason`. Moving to `lost` needs a `lost_reason` code."""
    user = actor(request)
    opp = access_opportunity(user, opportunity_id, write=True)
    moved = services.opportunity_move(
        actor=user,
        opportunity=opp,
        stage_code=payload.stage,
        reason=payload.reason,
        override=payload.override,
        lost_reason=payload.lost_reason,
        version=payload.version,
    )
    return selectors.opportunity_get(user, moved.pk)


@router.post(
    "/opportunities/{opportunity_id}/win",
    response={200: OpportunityOut, **ERRORS},
    summary="Record the signed contract and move to won (then S5 onboarding)",
)
def opportunity_win(request, opportunity_id: int, payload: WinIn):
    user = actor(request)
    opp = access_opportunity(user, opportunity_id, write=True)
    won = services.opportunity_win(actor=user, opportunity=opp, **payload.dict())
    return selectors.opportunity_get(user, won.pk)


@router.put(
    "/opportunities/{opportunity_id}/contacts/{contact_id}",
    response={200: OpportunityDetailOut, **ERRORS},
    summary="Add a contact to the deal or change their role and MNE profile",
)
def deal_contact_put(request, opportunity_id: int, contact_id: int, payload: DealContactPut):
    user = actor(request)
    opp = access_opportunity(user, opportunity_id, write=True)
    contact = visible_contacts(user).filter(pk=contact_id, account_id=opp.account_id).first()
    if contact is None:
        raise field_error("contact_id", _("A contact must belong to the opportunity's account."))
    services.opportunity_contact_set(actor=user, opportunity=opp, contact=contact, **payload.dict())
    return selectors.opportunity_get(user, opp.pk)


@router.delete("/opportunities/{opportunity_id}/contacts/{contact_id}", response={204: None, **ERRORS})
def deal_contact_delete(request, opportunity_id: int, contact_id: int):
    user = actor(request)
    opp = access_opportunity(user, opportunity_id, write=True)
    contact = visible_contacts(user).filter(pk=contact_id, account_id=opp.account_id).first()
    if contact is not None:
        services.opportunity_contact_remove(actor=user, opportunity=opp, contact=contact)
    return Status(204, None)


@router.get("/opportunities/{opportunity_id}/gate", response={200: GateCheckOut, **ERRORS})
def opportunity_gate(request, opportunity_id: int, stage: str):
    """What a move to `stage` would demand that is not met yet (nothing is written)."""
    opp = access_opportunity(actor(request), opportunity_id)
    return {"stage": stage, "unmet": services.move_check(opp, services.stage_by_code(stage))}


@router.get("/opportunities/{opportunity_id}/history", response={200: list[StageChangeOut], 404: ErrorOut})
def opportunity_history(request, opportunity_id: int):
    opp = access_opportunity(actor(request), opportunity_id)
    return list(selectors.stage_history(opp).order_by("at", "id"))


@router.get("/questions", response=list[QuestionOut], summary="The discovery question bank")
def questions(request, category: str | None = None):
    qs = Question.objects.filter(active=True).order_by("position", "id")
    if category:
        qs = qs.filter(category=category)
    return list(qs)


# --- activities -----------------------------------------------------------------------------------


class ActivityFilters(Schema):
    opportunity: int | None = None
    account: int | None = None
    owner: int | None = None
    open: bool = False
    cursor: str | None = None
    limit: int | None = None


def _activity_qs(qs):
    return qs.prefetch_related("contacts", "users", "asked__question")


@router.get("/activities", response=PageOut[ActivityOut])
def activity_list(request, filters: Query[ActivityFilters]):
    qs = selectors.activity_list(
        actor(request),
        opportunity=filters.opportunity,
        account=filters.account,
        owner=filters.owner,
        open_only=filters.open,
    )
    return api_page(_activity_qs(qs), order=("-occurred_at", "-id"), cursor=filters.cursor, limit=filters.limit)


def _activity_out(user, pk):
    return _activity_qs(selectors.activity_list(user)).get(pk=pk)


@router.post("/activities", response={201: ActivityOut, **ERRORS})
def activity_create(request, payload: ActivityIn):
    user = actor(request)
    _require_writer(user)
    opp = access_opportunity(user, payload.opportunity_id, write=True) if payload.opportunity_id else None
    account = opp.account if opp else visible_accounts(user).filter(pk=payload.account_id).first()
    if account is None:
        raise field_error("account_id", _("Choose an account or an opportunity."))
    contacts = _contacts(user, account, payload.contact_ids, "contact_ids")
    users = list(User.objects.filter(pk__in=payload.user_ids, is_active=True))
    activity = services.activity_create(
        actor=user,
        kind=payload.kind,
        subject=payload.subject,
        account=account,
        opportunity=opp,
        occurred_at=payload.occurred_at,
        duration_minutes=payload.duration_minutes,
        channel=payload.channel,
        outcome=payload.outcome,
        next_step=payload.next_step,
        next_step_date=payload.next_step_date,
        done=payload.done,
        contacts=contacts,
        users=users,
        external_id=payload.external_id,
        questions=[q.dict() for q in payload.questions],
    )
    return Status(201, _activity_out(user, activity.pk))


@router.get("/activities/{activity_id}", response={200: ActivityOut, 404: ErrorOut})
def activity_detail(request, activity_id: int):
    user = actor(request)
    access_activity(user, activity_id)
    return _activity_out(user, activity_id)


@router.patch("/activities/{activity_id}", response={200: ActivityOut, **ERRORS})
def activity_update(request, activity_id: int, payload: ActivityPatch):
    user = actor(request)
    activity = access_activity(user, activity_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    contact_ids = data.pop("contact_ids", None)
    user_ids = data.pop("user_ids", None)
    asked = data.pop("questions", None)
    services.activity_update(
        actor=user,
        activity=activity,
        version=version,
        data=data,
        contacts=_contacts(user, activity.account, contact_ids, "contact_ids") if contact_ids is not None else None,
        users=list(User.objects.filter(pk__in=user_ids, is_active=True)) if user_ids is not None else None,
        questions=asked,
    )
    return _activity_out(user, activity_id)


@router.delete("/activities/{activity_id}", response={204: None, **ERRORS})
def activity_delete(request, activity_id: int):
    user = actor(request)
    activity = access_activity(user, activity_id, write=True)
    services.activity_delete(actor=user, activity=activity)
    return Status(204, None)
