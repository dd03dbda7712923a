"""/api/v1/fit/: templates, waves, raters, invitations, answers, results and the respondent endpoint."""

from django.shortcuts import get_object_or_404
from ninja import Router, Status

from keyfit.core.api_utils import PageOut, actor, api_page
from keyfit.core.errors import NotFound, PermissionDenied
from keyfit.core.permissions import can_write
from keyfit.core.securelinks import client_address
from keyfit.fitcanvas import selectors, services
from keyfit.fitcanvas.models import Rater, Statement
from keyfit.fitcanvas.schemas import (
    AnswersIn,
    InviteIn,
    InviteOut,
    RaterIn,
    RaterOut,
    RemindOut,
    RespondOut,
    ShareIn,
    StatementIn,
    StatementOut,
    StatementPatchIn,
    TemplateDetailOut,
    TemplateIn,
    TemplateOut,
    WaveDetailOut,
    WaveIn,
    WaveOut,
    WavePatchIn,
)
from keyfit.fitcanvas.views import respondent_payload

router = Router(tags=["Triple Fit Canvas"])


def _template_detail(template) -> dict:
    return {
        **{
            f: getattr(template, f) for f in ("id", "family", "version_number", "name_en", "name_zh_hans", "is_default")
        },
        "copied_from_id": template.copied_from_id,
        "frozen": template.waves.exists(),
        "statements": list(template.statements.order_by("position", "id")),
    }


@router.get("/templates", response=PageOut[TemplateOut])
def templates_list(request, cursor: str | None = None, limit: int | None = None):
    return api_page(
        selectors.template_list(actor(request)), order=("family", "-version_number", "id"), cursor=cursor, limit=limit
    )


@router.get("/templates/{template_id}", response=TemplateDetailOut)
def templates_get(request, template_id: int):
    return _template_detail(selectors.access_template(actor(request), template_id))


@router.post("/templates/{template_id}/copy", response={201: TemplateDetailOut})
def templates_copy(request, template_id: int):
    template = selectors.access_template(actor(request), template_id)
    return Status(201, _template_detail(services.template_copy(template=template, actor=actor(request))))


@router.patch("/templates/{template_id}", response=TemplateDetailOut)
def templates_update(request, template_id: int, payload: TemplateIn):
    template = selectors.access_template(actor(request), template_id)
    services.template_update(template=template, actor=actor(request), **payload.dict())
    return _template_detail(template)


@router.post("/templates/{template_id}/statements", response={201: StatementOut})
def statements_add(request, template_id: int, payload: StatementIn):
    template = selectors.access_template(actor(request), template_id)
    return Status(201, services.statement_add(template=template, actor=actor(request), **payload.dict()))


def _statement(request, template_id: int, statement_id: int) -> Statement:
    template = selectors.access_template(actor(request), template_id)
    return get_object_or_404(Statement, template=template, pk=statement_id)


@router.patch("/templates/{template_id}/statements/{statement_id}", response=StatementOut)
def statements_update(request, template_id: int, statement_id: int, payload: StatementPatchIn):
    statement = _statement(request, template_id, statement_id)
    return services.statement_update(statement=statement, actor=actor(request), **payload.dict())


@router.post("/templates/{template_id}/statements/{statement_id}/retire", response=StatementOut)
def statements_retire(request, template_id: int, statement_id: int):
    return services.statement_retire(statement=_statement(request, template_id, statement_id), actor=actor(request))


def _wave_out(wave) -> dict:
    return {
        **{f: getattr(wave, f) for f in ("id", "account_id", "template_id", "name", "status", "due_date", "notes")},
        **{f: getattr(wave, f) for f in ("opened_at", "closed_at", "shared_items", "version")},
        "account_name": wave.account.name,
    }


def _rater_out(rater) -> dict:
    return {
        **{f: getattr(rater, f) for f in ("id", "side", "user_id", "contact_id", "role_label", "horizon")},
        **{f: getattr(rater, f) for f in ("invited_at", "reminded_at", "last_saved_at", "submitted_at")},
        "name": rater.display_name,
    }


def _wave_detail(wave) -> dict:
    return {**_wave_out(wave), "raters": [_rater_out(r) for r in selectors.rater_list(wave)]}


@router.get("/waves", response=PageOut[WaveOut])
def waves_list(
    request,
    account_id: int | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
):
    qs = selectors.wave_list(actor(request), account_id=account_id, status=status)
    page = api_page(qs, order=("-due_date", "-id"), cursor=cursor, limit=limit)
    page["items"] = [_wave_out(w) for w in page["items"]]
    return page


@router.post("/waves", response={201: WaveDetailOut})
def waves_create(request, payload: WaveIn):
    user = actor(request)
    account = selectors.access_account(user, payload.account_id, write=True)
    template = selectors.access_template(user, payload.template_id) if payload.template_id else None
    wave = services.wave_create(
        account=account,
        actor=user,
        name=payload.name,
        due_date=payload.due_date,
        template=template,
        notes=payload.notes,
    )
    return Status(201, _wave_detail(wave))


@router.get("/waves/{wave_id}", response=WaveDetailOut)
def waves_get(request, wave_id: int):
    return _wave_detail(selectors.access_wave(actor(request), wave_id))


@router.patch("/waves/{wave_id}", response=WaveDetailOut)
def waves_update(request, wave_id: int, payload: WavePatchIn):
    user = actor(request)
    wave = selectors.access_wave(user, wave_id, write=True)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    if data.get("template_id"):
        data["template"] = selectors.access_template(user, data.pop("template_id"))
    wave = services.wave_update(wave=wave, actor=user, version=version, **data)
    return _wave_detail(selectors.access_wave(user, wave.pk))


@router.delete("/waves/{wave_id}", response={204: None})
def waves_delete(request, wave_id: int):
    services.wave_delete(wave=selectors.access_wave(actor(request), wave_id, write=True), actor=actor(request))
    return Status(204, None)


@router.post("/waves/{wave_id}/raters", response={201: RaterOut})
def raters_add(request, wave_id: int, payload: RaterIn):
    from keyfit.users.models import User

    user = actor(request)
    wave = selectors.access_wave(user, wave_id, write=True)
    rater_user = get_object_or_404(User, pk=payload.user_id, is_active=True) if payload.user_id else None
    contact = selectors.access_contact(user, payload.contact_id) if payload.contact_id else None
    rater = services.rater_add(wave=wave, actor=user, user=rater_user, contact=contact, role_label=payload.role_label)
    return Status(201, _rater_out(rater))


@router.delete("/waves/{wave_id}/raters/{rater_id}", response={204: None})
def raters_remove(request, wave_id: int, rater_id: int):
    wave = selectors.access_wave(actor(request), wave_id, write=True)
    services.rater_remove(rater=get_object_or_404(Rater, wave=wave, pk=rater_id), actor=actor(request))
    return Status(204, None)


@router.post("/waves/{wave_id}/raters/{rater_id}/revoke-link", response={204: None})
def raters_revoke_link(request, wave_id: int, rater_id: int):
    """Disable the rater's personal link now; inviting the rater again issues a new one."""
    wave = selectors.access_wave(actor(request), wave_id, write=True)
    services.rater_link_revoke(rater=get_object_or_404(Rater, wave=wave, pk=rater_id), actor=actor(request))
    return Status(204, None)


@router.post("/waves/{wave_id}/open", response=WaveDetailOut)
def waves_open(request, wave_id: int):
    wave = services.wave_open(wave=selectors.access_wave(actor(request), wave_id, write=True), actor=actor(request))
    return _wave_detail(selectors.access_wave(actor(request), wave.pk))


@router.post("/waves/{wave_id}/invite", response=InviteOut)
def waves_invite(request, wave_id: int, payload: InviteIn | None = None):
    wave = selectors.access_wave(actor(request), wave_id, write=True)
    before = wave.raters.filter(invited_at__isnull=False).count()
    links = services.wave_invite(
        wave=wave,
        actor=actor(request),
        rater_ids=payload.rater_ids if payload else None,
        base_url=services.site_base_url(request),
    )
    invited = wave.raters.filter(invited_at__isnull=False).count() - before
    return {"links": links, "invited": max(invited, len(links))}


@router.post("/waves/{wave_id}/remind", response=RemindOut)
def waves_remind(request, wave_id: int):
    wave = selectors.access_wave(actor(request), wave_id, write=True)
    return {"reminded": services.wave_remind(wave=wave, actor=actor(request), base_url=services.site_base_url(request))}


@router.post("/waves/{wave_id}/close", response=WaveDetailOut)
def waves_close(request, wave_id: int):
    wave = services.wave_close(wave=selectors.access_wave(actor(request), wave_id, write=True), actor=actor(request))
    return _wave_detail(selectors.access_wave(actor(request), wave.pk))


@router.put("/waves/{wave_id}/share", response=WaveDetailOut)
def waves_share(request, wave_id: int, payload: ShareIn):
    wave = selectors.access_wave(actor(request), wave_id, write=True)
    services.wave_share(wave=wave, actor=actor(request), items=payload.items)
    return _wave_detail(selectors.access_wave(actor(request), wave_id))


@router.get("/waves/{wave_id}/results", response=dict)
def waves_results(request, wave_id: int):
    """Every measure of DESIGN §5, element codes as keys; the frozen snapshot once the wave is closed."""
    return selectors.wave_results(selectors.access_wave(actor(request), wave_id))


def _my_rater(request, wave_id: int) -> Rater:
    user = actor(request)
    wave = selectors.access_wave(user, wave_id)
    rater = selectors.supplier_rater_for(wave, user)
    if rater is None:
        raise NotFound()
    return rater


@router.get("/waves/{wave_id}/answers", response=RespondOut)
def answers_get(request, wave_id: int, lang: str | None = None):
    """The in-app questionnaire of the calling supplier rater (supplier phrasing) with their answers."""
    rater = _my_rater(request, wave_id)
    return respondent_payload(rater, lang or actor(request).language)


@router.put("/waves/{wave_id}/answers", response=RespondOut)
def answers_put(request, wave_id: int, payload: AnswersIn, lang: str | None = None):
    rater = _my_rater(request, wave_id)
    if not can_write(actor(request)):
        raise PermissionDenied()
    rater = services.answers_save(
        rater=rater,
        actor=actor(request),
        answers=payload.answers,
        horizon=payload.horizon,
        submit=payload.submit,
        client=client_address(request),
    )
    return respondent_payload(rater, lang or actor(request).language)


@router.get("/respond/{token}", response=RespondOut, auth=None)
def respond_get(request, token: str, lang: str | None = None):
    """The questionnaire for the holder of a customer link (customer phrasing, own answers only)."""
    client = client_address(request)
    rater = services.respondent_resolve(token=token, client=client)
    services.respondent_audit(rater=rater, verb="open", client=client)
    return respondent_payload(rater, lang or rater.language)


@router.put("/respond/{token}", response=RespondOut, auth=None)
def respond_put(request, token: str, payload: AnswersIn, lang: str | None = None):
    client = client_address(request)
    rater = services.respondent_resolve(token=token, client=client)
    rater = services.answers_save(
        rater=rater,
        actor=None,
        answers=payload.answers,
        horizon=payload.horizon,
        submit=payload.submit,
        client=client,
    )
    return respondent_payload(rater, lang or rater.language)
