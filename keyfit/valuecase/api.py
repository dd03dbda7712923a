"""/api/v1/value-cases: versions per opportunity, nested lines, computed figures in every response."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Schema, Status

from keyfit.core.api_utils import PageOut, actor, api_page
from keyfit.core.errors import NotFound, field_error
from keyfit.valuecase import selectors, services
from keyfit.valuecase.models import ValueCase
from keyfit.valuecase.permissions import access_value_case
from keyfit.valuecase.schemas import (
    VCCaseCreateIn,
    VCCaseOut,
    VCCaseSummaryOut,
    VCCaseUpdateIn,
    VCCostIn,
    VCDriverIn,
    VCItemIn,
    VCRatingIn,
    VCRealisationIn,
    VCRealisationListOut,
    VCSendIn,
    VCSendOut,
)

router = Router(tags=["Value cases"])

SETTINGS = services.SETTINGS_FIELDS
LINE_KINDS = ("drivers", "costs", "ratings", "items")
LINE_SCHEMAS = {"drivers": VCDriverIn, "costs": VCCostIn, "ratings": VCRatingIn, "items": VCItemIn}


def _figures(case):
    return selectors.case_figures(case).as_decimals()


def case_summary(case: ValueCase) -> dict:
    return {
        "id": case.pk,
        "opportunity": case.opportunity_id,
        "number": case.number,
        "state": case.state,
        "currency": case.currency,
        "version": case.version,
        "compliance_flag": case.compliance_flag,
        "updated_at": case.updated_at,
        "figures": _figures(case),
    }


def case_detail(case: ValueCase) -> dict:
    figures = selectors.case_figures(case)
    ack = getattr(case, "acknowledgement", None) if hasattr(case, "acknowledgement") else None
    data = case_summary(case)
    data["figures"] = figures.as_decimals()
    data.update({k: getattr(case, k) for k in SETTINGS if k != "horizon_months"})
    data.update(
        {
            "sent_to": case.sent_to_id,
            "sent_at": case.sent_at,
            "drivers": [
                {
                    k: getattr(d, k)
                    for k in ("id", "contributor", "description", "activity", "quantity", "unit_value", "amount")
                }
                | {"basis_kind": d.basis_kind, "basis": d.basis, "confidence": d.confidence}
                for d in case.drivers.all()
            ],
            "costs": [
                {k: getattr(c, k) for k in ("id", "kind", "description", "amount", "basis_kind", "basis")}
                for c in case.costs.all()
            ],
            "ratings": [
                {"id": r.pk, "contact": r.contact_id, "product": r.product, "kpi": r.kpi, "service": r.service}
                for r in case.ratings.all()
            ],
            "items": [
                {"id": i.pk, "kind": i.kind, "description": i.description, "amount": i.amount} for i in case.items.all()
            ],
            "sensitivity": selectors.case_sensitivity(case, figures),
            "acknowledgement": {
                "contact": ack.contact_id,
                "contact_name": ack.contact.name,
                "at": ack.at,
                "case_number": ack.case_number,
                "net_value": ack.net_value,
            }
            if ack
            else None,
            "comments": [
                {"contact_name": c.contact.name, "body": c.body, "at": c.at} for c in case.customer_comments.all()
            ],
        }
    )
    return data


def _detail(user, pk) -> dict:
    return case_detail(_load(user, pk))


def _load(user, pk) -> ValueCase:
    qs = selectors.with_lines(
        ValueCase.objects.select_related("opportunity", "acknowledgement__contact").prefetch_related(
            "customer_comments__contact"
        )
    )
    return access_value_case(user, pk, queryset=qs)


def _split(payload: Schema) -> tuple[dict, dict]:
    raw = payload.dict(exclude_unset=True)
    data = {k: v for k, v in raw.items() if k in SETTINGS}
    lines = {k: [dict(x) for x in raw[k]] for k in LINE_KINDS if raw.get(k) is not None}
    return data, lines


class CaseFilter(Schema):
    opportunity: int | None = None
    state: str | None = None
    flagged: bool | None = None
    cursor: str | None = None
    limit: int | None = None


@router.get("/value-cases", response=PageOut[VCCaseSummaryOut])
def list_cases(request, filters: Query[CaseFilter]):
    qs = selectors.with_lines(
        selectors.value_case_list(
            actor(request), opportunity_id=filters.opportunity, flagged=filters.flagged, state=filters.state
        )
    )
    page = api_page(qs, order=("-updated_at", "-id"), cursor=filters.cursor, limit=filters.limit)
    page["items"] = [case_summary(c) for c in page["items"]]
    return page


@router.post("/value-cases", response={201: VCCaseOut})
def create_case(request, payload: VCCaseCreateIn):
    from keyfit.pipeline.permissions import access_opportunity

    user = actor(request)
    opportunity = access_opportunity(user, payload.opportunity, write=True)
    data, lines = _split(payload)
    data.pop("opportunity", None)
    case = services.value_case_create(actor=user, opportunity=opportunity, data=data, lines=lines)
    return Status(201, _detail(user, case.pk))


@router.get("/value-cases/{case_id}", response=VCCaseOut)
def get_case(request, case_id: int):
    return _detail(actor(request), case_id)


@router.get("/value-cases/{case_id}/versions", response=list[VCCaseSummaryOut])
def list_versions(request, case_id: int):
    user = actor(request)
    case = access_value_case(user, case_id)
    qs = selectors.with_lines(selectors.value_case_list(user, opportunity_id=case.opportunity_id)).order_by("-number")
    return [case_summary(c) for c in qs]


@router.put("/value-cases/{case_id}", response=VCCaseOut)
def update_case(request, case_id: int, payload: VCCaseUpdateIn):
    user = actor(request)
    case = access_value_case(user, case_id, write=True)
    data, lines = _split(payload)
    data.pop("version", None)
    services.value_case_update(actor=user, case=case, version=payload.version, data=data, lines=lines)
    return _detail(user, case_id)


@router.delete("/value-cases/{case_id}", response={204: None})
def delete_case(request, case_id: int):
    user = actor(request)
    case = access_value_case(user, case_id, write=True)
    services.value_case_delete(actor=user, case=case)
    return Status(204, None)


def _add_line(request, case_id: int, kind: str, payload: Schema):
    user = actor(request)
    case = access_value_case(user, case_id, write=True)
    services.value_case_line_add(actor=user, case=case, kind=kind, data=payload.dict(exclude_unset=True))
    return Status(201, _detail(user, case_id))


@router.post("/value-cases/{case_id}/drivers", response={201: VCCaseOut})
def add_driver(request, case_id: int, payload: VCDriverIn):
    return _add_line(request, case_id, "drivers", payload)


@router.post("/value-cases/{case_id}/costs", response={201: VCCaseOut})
def add_cost(request, case_id: int, payload: VCCostIn):
    return _add_line(request, case_id, "costs", payload)


@router.post("/value-cases/{case_id}/ratings", response={201: VCCaseOut})
def add_rating(request, case_id: int, payload: VCRatingIn):
    return _add_line(request, case_id, "ratings", payload)


@router.post("/value-cases/{case_id}/items", response={201: VCCaseOut})
def add_item(request, case_id: int, payload: VCItemIn):
    return _add_line(request, case_id, "items", payload)


@router.delete("/value-cases/{case_id}/{kind}/{line_id}", response=VCCaseOut)
def delete_line(request, case_id: int, kind: str, line_id: int):
    if kind not in LINE_KINDS:
        raise NotFound()
    user = actor(request)
    case = access_value_case(user, case_id, write=True)
    services.value_case_line_delete(actor=user, case=case, kind=kind, line_id=line_id)
    return _detail(user, case_id)


@router.post("/value-cases/{case_id}/send", response={201: VCSendOut})
def send_case(request, case_id: int, payload: VCSendIn):
    """Freeze the version and create the customer link. The token is returned once and never again."""
    from keyfit.accounts.models import Contact

    user = actor(request)
    case = access_value_case(user, case_id, write=True)
    contact = Contact.objects.filter(pk=payload.contact, account_id=case.opportunity.account_id).first()
    if contact is None:
        raise field_error("contact", _("Send the case to a contact of the opportunity's account."))
    case, token = services.value_case_send(actor=user, case=case, contact=contact, days=payload.days)
    from keyfit.core.models import SecureLink

    link = SecureLink.objects.filter(object_id=str(case.pk), purpose=services.LINK_PURPOSE).order_by("-id").first()
    url = request.build_absolute_uri(reverse("valuecase:customer", args=[case.pk, token]))
    return Status(201, {"url": url, "token": token, "expires_at": link.expires_at, "case": _detail(user, case_id)})


@router.post("/value-cases/{case_id}/revoke", response=VCCaseOut)
def revoke_links(request, case_id: int):
    user = actor(request)
    case = access_value_case(user, case_id, write=True)
    services.value_case_revoke_links(actor=user, case=case)
    return _detail(user, case_id)


@router.post("/value-cases/{case_id}/close", response=VCCaseOut)
def close_case(request, case_id: int):
    user = actor(request)
    case = access_value_case(user, case_id, write=True)
    services.value_case_close(actor=user, case=case)
    return _detail(user, case_id)


@router.get("/value-cases/{case_id}/realised", response=VCRealisationListOut)
def list_realised(request, case_id: int):
    user = actor(request)
    case = access_value_case(user, case_id, queryset=selectors.with_lines(ValueCase.objects.all()))
    summary = selectors.realisation_for_case(case)
    items = [
        {"id": e.pk, "driver": e.driver_id, "on": e.on, "amount": e.amount, "note": e.note}
        for e in case.realisations.all()
    ]
    return {"items": items, "realised": summary.realised, "cv_at_close": summary.cv_at_close, "rate": summary.rate}


@router.post("/value-cases/{case_id}/realised", response={201: VCRealisationListOut})
def add_realised(request, case_id: int, payload: VCRealisationIn):
    user = actor(request)
    case = access_value_case(user, case_id, write=True)
    services.realisation_add(
        actor=user, case=case, driver_id=payload.driver, on=payload.on, amount=payload.amount, note=payload.note
    )
    return Status(201, list_realised(request, case_id))
