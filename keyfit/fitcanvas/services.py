"""All writes of the Triple Fit Canvas: templates, waves, raters, invitations, answers, closing."""

import datetime
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyfit.core.audit import audit_record, snapshot
from keyfit.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, field_error
from keyfit.core.models import AuditEvent, SecureLink
from keyfit.core.securelinks import (
    secure_link_issue,
    secure_link_resolve,
    secure_links_revoke_for,
)
from keyfit.fitcanvas import selectors
from keyfit.fitcanvas.choices import DONT_KNOW, ELEMENT_CODES, Horizon, ShareItem, Side, WaveStatus
from keyfit.fitcanvas.models import Answer, QuestionnaireTemplate, Rater, Statement, Wave
from keyfit.fitcanvas.permissions import can_edit_templates

LINK_PURPOSE = "fitcanvas.respond"
RESULTS_WINDOW_DAYS = 30  # after the due date a closed wave's link still shows the shared aggregates
STATEMENT_TEXT_FIELDS = ("supplier_en", "supplier_zh_hans", "customer_en", "customer_zh_hans")


# ---------------------------------------------------------------- templates


def _require_template_admin(actor) -> None:
    if not can_edit_templates(actor):
        raise PermissionDenied()


def _require_template_unused(template: QuestionnaireTemplate) -> None:
    if template.waves.exists():
        raise Conflict(_("This version is used by a wave and is frozen; copy it to make a new version."))


@transaction.atomic
def template_copy(*, template: QuestionnaireTemplate, actor) -> QuestionnaireTemplate:
    """A new version of the template's family with the same statements (retired ones stay retired)."""
    _require_template_admin(actor)
    last = QuestionnaireTemplate.objects.filter(family=template.family).aggregate(m=Max("version_number"))["m"] or 0
    copy = QuestionnaireTemplate.objects.create(
        family=template.family,
        version_number=last + 1,
        name_en=template.name_en,
        name_zh_hans=template.name_zh_hans,
        copied_from=template,
    )
    Statement.objects.bulk_create(
        Statement(
            template=copy,
            code=s.code,
            element=s.element,
            position=s.position,
            retired=s.retired,
            **{f: getattr(s, f) for f in STATEMENT_TEXT_FIELDS},
        )
        for s in template.statements.all()
    )
    audit_record(actor=actor, instance=copy, action=AuditEvent.Action.CREATE, after=snapshot(copy))
    return copy


@transaction.atomic
def template_update(
    *,
    template: QuestionnaireTemplate,
    actor,
    name_en: str | None = None,
    name_zh_hans: str | None = None,
    is_default: bool | None = None,
) -> QuestionnaireTemplate:
    _require_template_admin(actor)
    before = snapshot(template)
    if name_en is not None:
        template.name_en = name_en
    if name_zh_hans is not None:
        template.name_zh_hans = name_zh_hans
    if is_default:
        QuestionnaireTemplate.objects.filter(is_default=True).exclude(pk=template.pk).update(is_default=False)
        template.is_default = True
    template.save()
    audit_record(
        actor=actor, instance=template, action=AuditEvent.Action.UPDATE, before=before, after=snapshot(template)
    )
    return template


def _validate_texts(texts: dict[str, str]) -> None:
    missing = {
        f: [str(_("This field is required."))] for f in STATEMENT_TEXT_FIELDS if not (texts.get(f) or "").strip()
    }
    if missing:
        raise ValidationFailed(fields=missing)


@transaction.atomic
def statement_add(
    *,
    template: QuestionnaireTemplate,
    actor,
    code: str,
    element: str,
    supplier_en: str,
    supplier_zh_hans: str,
    customer_en: str,
    customer_zh_hans: str,
) -> Statement:
    _require_template_admin(actor)
    _require_template_unused(template)
    if element not in ELEMENT_CODES:
        raise field_error("element", _("Unknown element."))
    code = (code or "").strip().upper()
    if not code:
        raise field_error("code", _("This field is required."))
    if template.statements.filter(code=code).exists():
        raise field_error("code", _("This code is already used in the template."))
    texts = {
        "supplier_en": supplier_en,
        "supplier_zh_hans": supplier_zh_hans,
        "customer_en": customer_en,
        "customer_zh_hans": customer_zh_hans,
    }
    _validate_texts(texts)
    position = (template.statements.aggregate(m=Max("position"))["m"] or 0) + 1
    statement = Statement.objects.create(template=template, code=code, element=element, position=position, **texts)
    audit_record(actor=actor, instance=statement, action=AuditEvent.Action.CREATE, after=snapshot(statement))
    return statement


@transaction.atomic
def statement_update(*, statement: Statement, actor, **texts: str) -> Statement:
    """Reword a statement of a version no wave uses yet."""
    _require_template_admin(actor)
    _require_template_unused(statement.template)
    before = snapshot(statement)
    for field in STATEMENT_TEXT_FIELDS:
        if texts.get(field) is not None:
            setattr(statement, field, texts[field])
    _validate_texts({f: getattr(statement, f) for f in STATEMENT_TEXT_FIELDS})
    statement.save()
    audit_record(
        actor=actor, instance=statement, action=AuditEvent.Action.UPDATE, before=before, after=snapshot(statement)
    )
    return statement


@transaction.atomic
def statement_retire(*, statement: Statement, actor) -> Statement:
    _require_template_admin(actor)
    _require_template_unused(statement.template)
    before = snapshot(statement)
    statement.retired = True
    statement.save(update_fields=["retired"])
    audit_record(
        actor=actor, instance=statement, action=AuditEvent.Action.UPDATE, before=before, after=snapshot(statement)
    )
    return statement


# ---------------------------------------------------------------- waves


def _link_expiry(wave: Wave) -> datetime.datetime:
    end_of_due = datetime.datetime.combine(
        wave.due_date + datetime.timedelta(days=RESULTS_WINDOW_DAYS + 1), datetime.time.min, tzinfo=datetime.UTC
    )
    return end_of_due


@transaction.atomic
def wave_create(
    *,
    account,
    actor,
    name: str,
    due_date: datetime.date,
    template: QuestionnaireTemplate | None = None,
    notes: str = "",
) -> Wave:
    template = template or selectors.default_template()
    if template is None:
        raise field_error("template_id", _("There is no questionnaire template."))
    if not (name or "").strip():
        raise field_error("name", _("This field is required."))
    if due_date < timezone.localdate():
        raise field_error("due_date", _("The due date is in the past."))
    wave = Wave.objects.create(
        account=account, template=template, name=name.strip(), due_date=due_date, notes=notes, created_by=actor
    )
    audit_record(actor=actor, instance=wave, action=AuditEvent.Action.CREATE, after=snapshot(wave))
    return wave


@transaction.atomic
def wave_update(*, wave: Wave, actor, version: int, **fields: Any) -> Wave:
    """Change name, due date, notes or (in draft) the template version; a stale version → 409."""
    wave = Wave.objects.select_for_update().get(pk=wave.pk)
    if wave.version != version:
        raise Conflict(extra={"current": wave_public(wave)})
    if wave.status == WaveStatus.CLOSED:
        raise Conflict(_("A closed wave cannot be changed."))
    before = snapshot(wave)
    for key in ("name", "due_date", "notes"):
        if fields.get(key) is not None:
            setattr(wave, key, fields[key])
    if fields.get("template") is not None and fields["template"].pk != wave.template_id:
        if wave.status != WaveStatus.DRAFT:
            raise Conflict(_("The template can only change while the wave is a draft."))
        wave.template = fields["template"]
    if "due_date" in fields and fields["due_date"] is not None and fields["due_date"] < timezone.localdate():
        raise field_error("due_date", _("The due date is in the past."))
    wave.version += 1
    wave.save()
    if "due_date" in fields:
        SecureLink.objects.filter(
            purpose=LINK_PURPOSE,
            content_type=ContentType.objects.get_for_model(Rater),
            object_id__in=[str(pk) for pk in wave.raters.values_list("pk", flat=True)],
            revoked_at__isnull=True,
        ).update(expires_at=_link_expiry(wave))
    audit_record(actor=actor, instance=wave, action=AuditEvent.Action.UPDATE, before=before, after=snapshot(wave))
    return wave


def wave_public(wave: Wave) -> dict[str, Any]:
    return {
        "id": wave.pk,
        "name": wave.name,
        "status": wave.status,
        "due_date": wave.due_date.isoformat(),
        "version": wave.version,
        "notes": wave.notes,
    }


@transaction.atomic
def wave_delete(*, wave: Wave, actor) -> None:
    wave = Wave.objects.select_for_update().get(pk=wave.pk)
    if wave.status != WaveStatus.DRAFT:
        raise Conflict(_("Only a draft wave can be deleted."))
    for rater in wave.raters.all():
        secure_links_revoke_for(purpose=LINK_PURPOSE, target=rater)
    audit_record(actor=actor, instance=wave, action=AuditEvent.Action.DELETE, before=snapshot(wave))
    wave.delete()


@transaction.atomic
def rater_add(*, wave: Wave, actor, user=None, contact=None, role_label: str = "") -> Rater:
    wave = Wave.objects.select_for_update().get(pk=wave.pk)
    if wave.status == WaveStatus.CLOSED:
        raise Conflict(_("A closed wave cannot be changed."))
    if (user is None) == (contact is None):
        raise field_error("__all__", _("Give either a user or a contact."))
    if contact is not None and contact.account_id != wave.account_id:
        raise field_error("contact_id", _("The contact does not belong to this account."))
    if user is not None and not user.is_active:
        raise field_error("user_id", _("The user is not active."))
    side = Side.SUPPLIER if user is not None else Side.CUSTOMER
    try:
        with transaction.atomic():
            rater = Rater.objects.create(wave=wave, side=side, user=user, contact=contact, role_label=role_label)
    except IntegrityError:
        raise field_error("__all__", _("This person is already a rater of the wave.")) from None
    audit_record(actor=actor, instance=rater, action=AuditEvent.Action.CREATE, after=snapshot(rater))
    return rater


@transaction.atomic
def rater_remove(*, rater: Rater, actor) -> None:
    if rater.wave.status == WaveStatus.CLOSED or rater.answers.exists():
        raise Conflict(_("A rater who has answered, or of a closed wave, cannot be removed."))
    secure_links_revoke_for(purpose=LINK_PURPOSE, target=rater)
    audit_record(actor=actor, instance=rater, action=AuditEvent.Action.DELETE, before=snapshot(rater))
    rater.delete()


@transaction.atomic
def rater_link_revoke(*, rater: Rater, actor) -> int:
    """Disable a customer rater's link at once (a new invitation issues a new one)."""
    count = secure_links_revoke_for(purpose=LINK_PURPOSE, target=rater)
    audit_record(
        actor=actor, instance=rater, action=AuditEvent.Action.OTHER, verb="revoke_link", extra={"links": count}
    )
    return count


@transaction.atomic
def wave_open(*, wave: Wave, actor) -> Wave:
    wave = Wave.objects.select_for_update().get(pk=wave.pk)
    if wave.status != WaveStatus.DRAFT:
        raise Conflict(_("Only a draft wave can be opened."))
    if wave.due_date < timezone.localdate():
        raise field_error("due_date", _("The due date is in the past."))
    before = snapshot(wave)
    wave.status = WaveStatus.OPEN
    wave.opened_at = timezone.now()
    wave.version += 1
    wave.save()
    audit_record(
        actor=actor, instance=wave, action=AuditEvent.Action.UPDATE, before=before, after=snapshot(wave), verb="open"
    )
    return wave


def respond_url(token: str, base_url: str = "") -> str:
    return f"{base_url.rstrip('/')}{reverse('fitcanvas:respond', args=[token])}"


def _issue_link(*, rater: Rater, actor) -> str:
    secure_links_revoke_for(purpose=LINK_PURPOSE, target=rater)
    _, token = secure_link_issue(purpose=LINK_PURPOSE, target=rater, expires_at=_link_expiry(rater.wave), actor=actor)
    return token


@transaction.atomic
def wave_invite(*, wave: Wave, actor, rater_ids: list[int] | None = None, base_url: str = "") -> list[dict[str, Any]]:
    """Send each chosen rater (default: everyone not yet invited) an invitation.

    Customer raters get a new personal link (any older link is revoked); the links are returned once
    and e-mailed after commit. Supplier raters get an e-mail pointing to the in-app questionnaire.
    """
    from keyfit.fitcanvas import tasks

    wave = Wave.objects.select_for_update().get(pk=wave.pk)
    if wave.status != WaveStatus.OPEN:
        raise Conflict(_("Open the wave before inviting raters."))
    raters = wave.raters.select_related("user", "contact", "wave")
    if rater_ids:
        raters = raters.filter(pk__in=rater_ids)
        if len(raters) != len(set(rater_ids)):
            raise NotFound()
    else:
        raters = raters.filter(invited_at__isnull=True)
    issued: list[dict[str, Any]] = []
    now = timezone.now()
    for rater in raters:
        if rater.side == Side.CUSTOMER:
            if not rater.contact.email:
                raise field_error("rater_ids", _("%(name)s has no e-mail address.") % {"name": rater.display_name})
            url = respond_url(_issue_link(rater=rater, actor=actor), base_url)
            issued.append({"rater_id": rater.pk, "name": rater.display_name, "url": url})
        else:
            url = f"{base_url.rstrip('/')}{reverse('fitcanvas:answer', args=[wave.pk])}"
        rater.invited_at = now
        rater.save(update_fields=["invited_at"])
        audit_record(
            actor=actor, instance=rater, action=AuditEvent.Action.OTHER, verb="invite", extra={"side": rater.side}
        )
        transaction.on_commit(
            lambda r=rater.pk, u=url: tasks.send_rater_email.enqueue(
                rater_id=r, sealed_url=tasks.seal(u), kind="invite"
            )
        )
    return issued


@transaction.atomic
def wave_remind(*, wave: Wave, actor, base_url: str = "") -> int:
    """Remind every invited rater who has not submitted; customer reminders carry a fresh link."""
    from keyfit.fitcanvas import tasks

    wave = Wave.objects.select_for_update().get(pk=wave.pk)
    if wave.status != WaveStatus.OPEN:
        raise Conflict(_("Only raters of an open wave can be reminded."))
    now = timezone.now()
    count = 0
    for rater in wave.raters.select_related("user", "contact", "wave").filter(
        submitted_at__isnull=True, invited_at__isnull=False
    ):
        if rater.side == Side.CUSTOMER:
            if not rater.contact.email:
                continue
            url = respond_url(_issue_link(rater=rater, actor=actor), base_url)
        else:
            url = f"{base_url.rstrip('/')}{reverse('fitcanvas:answer', args=[wave.pk])}"
        rater.reminded_at = now
        rater.save(update_fields=["reminded_at"])
        audit_record(actor=actor, instance=rater, action=AuditEvent.Action.OTHER, verb="remind")
        transaction.on_commit(
            lambda r=rater.pk, u=url: tasks.send_rater_email.enqueue(
                rater_id=r, sealed_url=tasks.seal(u), kind="remind"
            )
        )
        count += 1
    return count


@transaction.atomic
def wave_close(*, wave: Wave, actor) -> Wave:
    """Close the wave and freeze its results: the snapshot is what every later read shows."""
    wave = Wave.objects.select_for_update().get(pk=wave.pk)
    if wave.status != WaveStatus.OPEN:
        raise Conflict(_("Only an open wave can be closed."))
    before = snapshot(wave)
    wave.status = WaveStatus.CLOSED
    wave.closed_at = timezone.now()
    results = selectors.wave_compute_results(wave)
    results["wave"] = {
        "id": wave.pk,
        "status": WaveStatus.CLOSED,
        "frozen": True,
        "closed_at": wave.closed_at.isoformat(),
    }
    wave.results = results
    wave.version += 1
    wave.save()
    audit_record(
        actor=actor, instance=wave, action=AuditEvent.Action.UPDATE, before=before, after=snapshot(wave), verb="close"
    )
    return wave


@transaction.atomic
def wave_share(*, wave: Wave, actor, items: list[str]) -> Wave:
    """Choose the customer-side aggregates shown on the customer raters' links after closing."""
    wave = Wave.objects.select_for_update().get(pk=wave.pk)
    unknown = [i for i in items if i not in ShareItem.values]
    if unknown:
        raise field_error("items", _("Unknown aggregate: %(items)s") % {"items": ", ".join(unknown)})
    before = snapshot(wave)
    wave.shared_items = [i for i in ShareItem.values if i in items]
    wave.version += 1
    wave.save(update_fields=["shared_items", "version", "updated_at"])
    audit_record(
        actor=actor, instance=wave, action=AuditEvent.Action.UPDATE, before=before, after=snapshot(wave), verb="share"
    )
    return wave


# ---------------------------------------------------------------- answers


def respondent_resolve(*, token: str, client: str = "-") -> Rater:
    """The customer rater behind a link: unknown, expired, revoked or foreign tokens → the same NotFound."""
    link = secure_link_resolve(purpose=LINK_PURPOSE, token=token, client=client)
    if link.content_type.model_class() is not Rater:
        raise NotFound()
    rater = Rater.objects.select_related("wave", "wave__account", "contact").filter(pk=link.object_id).first()
    if rater is None or rater.side != Side.CUSTOMER or rater.wave.status == WaveStatus.DRAFT:
        raise NotFound()
    return rater


def respondent_label(rater: Rater) -> str:
    return f"respondent: {rater.display_name} (rater {rater.pk})"


def respondent_audit(*, rater: Rater, verb: str, client: str = "-") -> None:
    audit_record(
        actor=respondent_label(rater),
        instance=rater,
        action=AuditEvent.Action.ACCESS,
        verb=verb,
        extra={"client": client},
    )


def _wave_status_share_locked(wave_id: int) -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT status FROM fitcanvas_wave WHERE id = %s FOR SHARE", [wave_id])
            row = cursor.fetchone()
        if row is None:
            raise NotFound()
        return row[0]
    return Wave.objects.values_list("status", flat=True).get(pk=wave_id)  # SQLite: writers are serialised


@transaction.atomic
def answers_save(
    *,
    rater: Rater,
    actor,
    answers: dict[int, int | None],
    horizon: str | None = None,
    submit: bool = False,
    client: str = "-",
) -> Rater:
    """Upsert the rater's answers (score 1–5, 0 or None = don't know) while the wave is open; audited."""
    # The rater's row serialises that rater's saves; the wave row is share-locked so that a concurrent close
    # (which takes it FOR UPDATE) waits for in-flight saves and no save lands after the frozen snapshot.
    rater = (
        Rater.objects.select_for_update(of=("self",))
        .select_related("wave", "wave__account", "contact", "user")
        .get(pk=rater.pk)
    )
    rater.wave.status = _wave_status_share_locked(rater.wave_id)
    if rater.wave.status != WaveStatus.OPEN:
        raise Conflict(_("This assessment is closed; answers can no longer be changed."))
    valid_ids = set(
        Statement.objects.filter(template_id=rater.wave.template_id, retired=False, pk__in=list(answers)).values_list(
            "pk", flat=True
        )
    )
    errors: dict[str, list[str]] = {}
    clean: dict[int, int] = {}
    for statement_id, score in answers.items():
        if statement_id not in valid_ids:
            errors[f"answers.{statement_id}"] = [str(_("Not a statement of this questionnaire."))]
            continue
        score = DONT_KNOW if score is None else score
        if not isinstance(score, int) or not 0 <= score <= 5:
            errors[f"answers.{statement_id}"] = [str(_("Choose 1 to 5 or “don't know”."))]
            continue
        clean[statement_id] = score
    if horizon not in (None, "", *Horizon.values):
        errors["horizon"] = [str(_("Choose short-term or long-term."))]
    if errors:
        raise ValidationFailed(fields=errors)
    existing = {a.statement_id: a for a in Answer.objects.filter(rater=rater, statement_id__in=list(clean))}
    changed = []
    for statement_id, score in clean.items():
        answer = existing.get(statement_id)
        if answer is not None and answer.score != score:
            answer.score = score
            changed.append(answer)
    if changed:
        Answer.objects.bulk_update(changed, ["score", "updated_at"])
    new = [Answer(rater=rater, statement_id=sid, score=score) for sid, score in clean.items() if sid not in existing]
    if new:
        Answer.objects.bulk_create(new)
    now = timezone.now()
    fields = ["last_saved_at"]
    rater.last_saved_at = now
    if horizon is not None and horizon != rater.horizon:
        rater.horizon = horizon
        fields.append("horizon")
    if submit and rater.submitted_at is None:
        rater.submitted_at = now
        fields.append("submitted_at")
    rater.save(update_fields=fields)
    label = actor if getattr(actor, "is_authenticated", False) else respondent_label(rater)
    audit_record(
        actor=label,
        instance=rater,
        action=AuditEvent.Action.ACCESS,
        verb="submit" if submit else "save",
        extra={"answers": {str(k): v for k, v in sorted(clean.items())}, "horizon": horizon, "client": client},
    )
    return rater


def respond_expires(rater: Rater):
    return _link_expiry(rater.wave)


def site_base_url(request=None) -> str:
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return getattr(settings, "SITE_URL", "").rstrip("/")
