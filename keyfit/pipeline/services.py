"""Every write of the pipeline: opportunities, stage moves through gates, contracts, activities."""

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from keyfit.accounts.choices import BuyingRole, Lifecycle
from keyfit.core.audit import audit_record, snapshot
from keyfit.core.customfields import custom_fields_clean
from keyfit.core.errors import Conflict, PermissionDenied, ValidationFailed, field_error
from keyfit.core.models import AuditEvent
from keyfit.core.money import is_currency
from keyfit.core.permissions import is_admin
from keyfit.core.roles import Role
from keyfit.pipeline import gates
from keyfit.pipeline.choices import MNE, RequirementWhen, StageKind
from keyfit.pipeline.models import (
    Activity,
    ActivityQuestion,
    Contract,
    LostReason,
    Opportunity,
    OpportunityContact,
    Question,
    Stage,
    StageChange,
    StageRequirement,
)

A = AuditEvent.Action

# Fields a person edits on the opportunity form / PATCH (stage, probability from stage, closing data and
# the version are written by the dedicated services only).
EDITABLE_FIELDS = (
    "name",
    "owner",
    "team",
    "amount",
    "currency",
    "expected_close_date",
    "manual_probability",
    "forecast_category",
    "risk_only_method",
    "risk_only_method_confirmed",
    "risk_not_buying",
    "risk_not_buying_confirmed",
    "competitors",
    "previous",
    "previous_link",
    "motivation",
    "need",
    "expectations",
    "success_criteria",
    "decision_criteria",
    "feasibility_confirmed",
    "metrics",
    "decision_process",
    "paper_process",
    "identified_pain",
    "champion",
)


def stage_by_code(code: str, *, field: str = "stage") -> Stage:
    try:
        return Stage.objects.get(code=code, active=True)
    except Stage.DoesNotExist:
        raise field_error(field, _("Unknown stage “%(code)s”.") % {"code": code}) from None


def _full_clean(instance, exclude=None) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        raise ValidationFailed.from_django(exc) from exc


def _check_currency(currency: str, field: str = "currency") -> None:
    if not is_currency(currency or ""):
        raise field_error(field, _("Unknown currency."))


def _check_external_id(model, external_id: str | None) -> None:
    if external_id and model.objects.filter(external_id=external_id).exists():
        raise field_error("external_id", _("Another record already has this external id."))


def current_values(opportunity: Opportunity) -> dict[str, Any]:
    """What a stale editor gets back with a 409: the record as it is now."""
    data = snapshot(opportunity)
    data["version"] = opportunity.version
    return data


# --- opportunities -------------------------------------------------------------------------------


@transaction.atomic
def opportunity_create(
    *,
    actor,
    account,
    name: str,
    owner,
    team=None,
    amount: Decimal | None = None,
    currency: str = "CNY",
    expected_close_date: datetime.date | None = None,
    contacts=(),
    stage_code: str = "s3_guiding",
    source_lead_id: int | None = None,
    custom_fields: dict[str, Any] | None = None,
    external_id: str | None = None,
    previous: Opportunity | None = None,
    previous_link: str = "",
) -> Opportunity:
    """Create an opportunity in `stage_code` (S3 by default) with its first stage-history row.

    `contacts` are Contact objects or ``(contact, role)`` pairs (role: a BuyingRole value). `previous` with
    `previous_link` (renewal / expansion) makes it the follow-up of an earlier deal of the same account.
    """
    stage = stage_by_code(stage_code)
    if stage.kind != StageKind.OPEN:
        raise field_error("stage", _("An opportunity starts in an open stage."))
    _check_currency(currency)
    _check_external_id(Opportunity, external_id)
    now = timezone.now()
    opportunity = _new_opportunity(
        external_id=external_id,
        name=name,
        account=account,
        owner=owner,
        team=team,
        amount=amount,
        currency=currency,
        stage=stage,
        at=now,
        custom_fields=custom_fields,
        expected_close_date=expected_close_date,
        source_lead_id=source_lead_id,
        previous=previous,
        previous_link=previous_link or "",
    )
    _check_previous(opportunity)
    _full_clean(opportunity, exclude=["previous", "champion"])
    opportunity.save()
    for item in contacts or ():
        contact, role = item if isinstance(item, tuple | list) else (item, "")
        if contact.account_id != account.id:
            raise field_error("contacts", _("A contact must belong to the opportunity's account."))
        OpportunityContact.objects.get_or_create(opportunity=opportunity, contact=contact, defaults={"role": role})
    StageChange.objects.create(opportunity=opportunity, from_stage=None, to_stage=stage, actor=actor, at=now)
    audit_record(actor=actor, instance=opportunity, action=A.CREATE, after=snapshot(opportunity))
    return opportunity


def _lost_reason(lost_reason: LostReason | str | None) -> LostReason:
    """The lost reason given as an object or an active reason's code; a field error when there is none."""
    if isinstance(lost_reason, LostReason):
        return lost_reason
    reason = LostReason.objects.filter(code=lost_reason, active=True).first() if lost_reason else None
    if reason is None:
        raise field_error("lost_reason", _("Choose why the opportunity was lost."))
    return reason


def _onboarding_stage() -> Stage | None:
    """The first customer-success stage: where a won deal goes on to."""
    return Stage.objects.filter(kind=StageKind.SUCCESS, active=True).order_by("position", "id").first()


def _new_opportunity(
    *, external_id, name, account, owner, team, amount, currency, stage: Stage, at, custom_fields, **fields
) -> Opportunity:
    """An unsaved opportunity that entered `stage` at `at`, with the stage's probability and forecast."""
    return Opportunity(
        external_id=external_id or None,
        name=(name or "").strip(),
        account=account,
        owner=owner,
        team=team if team is not None else getattr(owner, "team", None),
        amount=amount,
        currency=currency,
        stage=stage,
        stage_entered_at=at,
        computed_probability=stage.default_probability,
        forecast_category=stage.forecast_category,
        custom_fields=custom_fields_clean("opportunity", custom_fields),
        **fields,
    )


@transaction.atomic
def opportunity_create_closed(
    *,
    actor,
    account,
    name: str,
    owner,
    stage_code: str,
    team=None,
    amount: Decimal | None = None,
    currency: str = "CNY",
    expected_close_date: datetime.date | None = None,
    won_on: datetime.date | None = None,
    lost_on: datetime.date | None = None,
    lost_reason: LostReason | str | None = None,
    lost_note: str = "",
    custom_fields: dict[str, Any] | None = None,
    external_id: str | None = None,
) -> Opportunity:
    """Record a deal that was already won or lost before it came into keyfit (imports of a CRM's history).

    The stage gates judged the live pipeline, not this history, so they are not applied; instead only an
    administrator or a manager may record closed deals, and every history row says it was recorded as
    closed (``override`` with the reason). The history is what a live close leaves: ``won`` (and on into
    the customer-success stage named, or the first one), or ``lost`` with its reason, dated on the close
    date (``won_on`` / ``lost_on``, else ``expected_close_date``, else today). A won deal makes its account
    a customer. No contract is made up: import the contracts themselves (kind ``contract``) to keep
    retention figures true.
    """
    if not (is_admin(actor) or getattr(actor, "role", None) == Role.MANAGER):
        raise PermissionDenied(_("Only an administrator or a manager may record closed opportunities."))
    stage = stage_by_code(stage_code)
    if stage.kind not in (StageKind.WON, StageKind.LOST, StageKind.SUCCESS):
        raise field_error("stage", _("Choose a won, lost or customer-success stage."))
    _check_currency(currency)
    _check_external_id(Opportunity, external_id)
    reason_obj = _lost_reason(lost_reason) if stage.kind == StageKind.LOST else None
    closed_on = (lost_on if stage.kind == StageKind.LOST else won_on) or expected_close_date or timezone.localdate()
    at = timezone.make_aware(datetime.datetime.combine(closed_on, datetime.time(12)))
    if at > timezone.now():
        raise field_error(
            "lost_on" if stage.kind == StageKind.LOST else "won_on", _("A close date cannot be in the future.")
        )
    path = [stage]
    if stage.kind == StageKind.SUCCESS:
        path = [Stage.objects.filter(kind=StageKind.WON).order_by("position", "id").first(), stage]
    elif stage.kind == StageKind.WON:
        onboarding = _onboarding_stage()
        path = [stage, onboarding] if onboarding is not None else [stage]
    last = path[-1]
    opportunity = _new_opportunity(
        external_id=external_id,
        name=name,
        account=account,
        owner=owner,
        team=team,
        amount=amount,
        currency=currency,
        stage=last,
        at=at,
        custom_fields=custom_fields,
        expected_close_date=expected_close_date or closed_on,
        won_on=closed_on if stage.kind != StageKind.LOST else None,
        lost_on=closed_on if stage.kind == StageKind.LOST else None,
        lost_reason=reason_obj,
        lost_note=(lost_note or "").strip(),
    )
    _full_clean(opportunity, exclude=["previous", "champion"])
    opportunity.save()
    note = _("Recorded as closed (imported history); the stage gates were not applied.")
    previous = None
    for step in path:
        StageChange.objects.create(
            opportunity=opportunity,
            from_stage=previous,
            to_stage=step,
            actor=actor,
            at=at,
            seconds_in_previous=0 if previous is not None else None,
            reason=note,
            override=True,
        )
        previous = step
    if stage.kind != StageKind.LOST:
        _account_becomes_customer(actor=actor, account=account)
    audit_record(
        actor=actor, instance=opportunity, action=A.CREATE, verb="recorded_closed", after=snapshot(opportunity)
    )
    return opportunity


def _check_previous(opportunity: Opportunity) -> None:
    """A renewal or expansion follows another deal of the same account, says which it is, and never
    closes a loop (A follows B follows A)."""
    previous = opportunity.previous
    if previous is None:
        if opportunity.previous_link:
            raise field_error("previous", _("Choose the earlier opportunity this one renews or expands."))
        return
    if opportunity.pk and previous.pk == opportunity.pk:
        raise field_error("previous", _("An opportunity cannot follow itself."))
    if previous.account_id != opportunity.account_id:
        raise field_error("previous", _("A renewal or expansion follows an opportunity of the same account."))
    if not opportunity.previous_link:
        raise field_error("previous_link", _("Say whether this is a renewal or an expansion."))
    seen = {opportunity.pk}
    link = previous
    for _step in range(100):  # chains are short; the bound guards against a cycle written around the service
        if link.pk in seen:
            raise field_error("previous", _("That opportunity already follows this one."))
        seen.add(link.pk)
        if not link.previous_id:
            break
        link = Opportunity.objects.only("id", "previous_id").get(pk=link.previous_id)


def _lock(opportunity: Opportunity | int) -> Opportunity:
    pk = opportunity.pk if isinstance(opportunity, Opportunity) else opportunity
    # No joins in the locking query: PostgreSQL re-checks a join condition against the old row of the
    # joined table after waiting for a concurrent update, and would then return no row at all.
    return Opportunity.objects.select_for_update().get(pk=pk)


@transaction.atomic
def opportunity_update(*, actor, opportunity: Opportunity, version: int, data: dict[str, Any]) -> Opportunity:
    """Change the editable fields given in `data`; `version` is the one the editor saw (stale → 409)."""
    locked = _lock(opportunity)
    if int(version) != locked.version:
        raise Conflict(extra={"current": current_values(locked)})
    before = snapshot(locked)
    unknown = [k for k in data if k not in (*EDITABLE_FIELDS, "custom_fields")]
    if unknown:
        raise ValidationFailed(fields={k: [_("This field cannot be changed here.")] for k in unknown})
    for key, value in data.items():
        if key == "custom_fields":
            locked.custom_fields = custom_fields_clean(
                "opportunity", value, existing=locked.custom_fields, partial=True
            )
        elif key in ("name", "competitors") and isinstance(value, str):
            setattr(locked, key, value.strip())
        elif key in ("motivation", "need", "expectations", "success_criteria", "decision_criteria") and value is None:
            setattr(locked, key, "")
        else:
            setattr(locked, key, value)
    if "currency" in data:
        _check_currency(locked.currency)
    if locked.champion_id and locked.champion.account_id != locked.account_id:
        raise field_error("champion", _("The champion must be a contact of the opportunity's account."))
    if "previous" in data or "previous_link" in data:
        _check_previous(locked)
    _full_clean(locked)
    locked.version += 1
    locked.save()
    audit_record(actor=actor, instance=locked, action=A.UPDATE, before=before, after=snapshot(locked))
    return locked


def required_requirements(from_stage: Stage | None, to_stage: Stage) -> list[str]:
    """The requirement codes a move from `from_stage` to `to_stage` must meet.

    Entering a stage demands its "enter" requirements. A forward move (to a later, non-lost stage) also
    demands the "leave" requirements of the stage left and of every open stage jumped over.
    """
    if to_stage.kind == StageKind.LOST:
        return []
    rows = StageRequirement.objects.filter(stage=to_stage, when=RequirementWhen.ENTER)
    forward = from_stage is not None and to_stage.position > from_stage.position
    if forward:
        skipped = Stage.objects.filter(
            position__gt=from_stage.position,
            position__lt=to_stage.position,
            kind__in=[StageKind.OPEN, StageKind.WON, StageKind.SUCCESS],
            active=True,
        )
        rows = (
            StageRequirement.objects.filter(stage=from_stage, when=RequirementWhen.LEAVE)
            | StageRequirement.objects.filter(stage__in=skipped)
            | rows
        )
    return list(rows.order_by("stage__position", "-when", "id").values_list("requirement", flat=True))


def move_check(opportunity: Opportunity, to_stage: Stage) -> list[dict[str, str]]:
    """The unmet requirements of moving `opportunity` to `to_stage` (empty: the gate lets it through)."""
    return gates.unmet(required_requirements(opportunity.stage, to_stage), opportunity)


def _append_move(
    *, actor, opportunity: Opportunity, to_stage: Stage, now, reason: str = "", override=False, overridden=()
) -> StageChange:
    seconds = max(0, int((now - opportunity.stage_entered_at).total_seconds()))
    change = StageChange.objects.create(
        opportunity=opportunity,
        from_stage=opportunity.stage,
        to_stage=to_stage,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        at=now,
        seconds_in_previous=seconds,
        reason=reason,
        override=override,
        overridden=list(overridden),
    )
    opportunity.stage = to_stage
    opportunity.stage_entered_at = now
    opportunity.computed_probability = to_stage.default_probability
    opportunity.forecast_category = to_stage.forecast_category
    return change


@transaction.atomic
def opportunity_move(
    *,
    actor,
    opportunity: Opportunity | int,
    stage_code: str,
    reason: str = "",
    override: bool = False,
    lost_reason: LostReason | str | None = None,
    version: int | None = None,
    now: datetime.datetime | None = None,
) -> Opportunity:
    """Move an opportunity to another stage through its gate; append the history row(s).

    The row is locked (select_for_update), so two concurrent moves are serialised: the second one sees
    the first one's result. A gate refusal raises Conflict code ``gate_refused`` with the unmet
    requirements; an admin may override with a written reason (recorded on the history row and audited).
    Won: the account becomes a customer, a contract is linked (or created) and the opportunity enters
    S5 onboarding (two history rows). Lost: a lost reason is required.
    """
    locked = _lock(opportunity)
    # The time is read once the row is ours: a move that waited for the lock happens after the one it
    # waited for, and the history stays in order.
    now = now or timezone.now()
    if version is not None and int(version) != locked.version:
        raise Conflict(extra={"current": current_values(locked)})
    to_stage = stage_by_code(stage_code)
    from_stage = locked.stage
    reason = (reason or "").strip()
    if to_stage.pk == from_stage.pk:
        raise field_error("stage", _("The opportunity is already in this stage."))
    if to_stage.kind == StageKind.LEAD:
        raise field_error("stage", _("Lead stages belong to leads; an opportunity cannot move there."))
    if to_stage.kind == StageKind.SUCCESS and from_stage.kind == StageKind.OPEN:
        raise field_error("stage", _("Mark the opportunity won before its customer-success stages."))
    if to_stage.kind == StageKind.SUCCESS and from_stage.kind == StageKind.LOST:
        raise field_error("stage", _("A lost opportunity cannot enter customer success."))
    reason_obj = _lost_reason(lost_reason) if to_stage.kind == StageKind.LOST else None
    if override and not is_admin(actor):
        raise PermissionDenied(_("Only an administrator may override a gate."))
    if override and not reason:
        raise field_error("reason", _("Write why the gate is overridden."))

    unmet = move_check(locked, to_stage)
    if unmet and not override:
        raise Conflict(
            _("The move to “%(stage)s” is refused: requirements not met.") % {"stage": to_stage.name},
            code="gate_refused",
            extra={"unmet": unmet},
        )
    overridden = [u["code"] for u in unmet]
    before = snapshot(locked)
    changes = [
        _append_move(
            actor=actor,
            opportunity=locked,
            to_stage=to_stage,
            now=now,
            reason=reason,
            override=bool(override and unmet),
            overridden=overridden,
        )
    ]
    if to_stage.kind == StageKind.LOST:
        locked.lost_reason = reason_obj
        locked.lost_note = reason or locked.lost_note
        locked.lost_on = timezone.localdate(now)
        locked.won_on = None
    elif from_stage.kind == StageKind.LOST:
        locked.lost_reason = None
        locked.lost_on = None
    if to_stage.kind == StageKind.WON:
        locked.won_on = timezone.localdate(now)
        _ensure_contract(actor=actor, opportunity=locked, today=locked.won_on)
        _account_becomes_customer(actor=actor, account=locked.account)
        onboarding = _onboarding_stage()
        if onboarding is not None:
            changes.append(_append_move(actor=actor, opportunity=locked, to_stage=onboarding, now=now))
    locked.version += 1
    locked.save()
    audit_record(
        actor=actor,
        instance=locked,
        action=A.UPDATE,
        verb="stage_move",
        before=before,
        after=snapshot(locked),
        extra={"reason": reason, "override": bool(override and unmet), "overridden": overridden}
        if reason or overridden
        else None,
    )
    return locked


def _ensure_contract(*, actor, opportunity: Opportunity, today: datetime.date) -> Contract:
    contract = opportunity.contracts.order_by("-id").first()
    if contract is not None:
        return contract
    contract = Contract.objects.create(
        account=opportunity.account,
        opportunity=opportunity,
        signed_on=None,
        start_date=today,
        end_date=_one_year_later(today),
        annual_recurring_value=opportunity.amount or Decimal("0"),
        currency=opportunity.currency,
    )
    audit_record(actor=actor, instance=contract, action=A.CREATE, after=snapshot(contract))
    return contract


def _one_year_later(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year + 1) - datetime.timedelta(days=1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _account_becomes_customer(*, actor, account) -> None:
    if account.lifecycle == Lifecycle.CUSTOMER:
        return
    before = snapshot(account)
    account.lifecycle = Lifecycle.CUSTOMER
    account.version += 1
    account.save(update_fields=["lifecycle", "version", "updated_at"])
    audit_record(actor=actor, instance=account, action=A.UPDATE, before=before, after=snapshot(account))


@transaction.atomic
def contract_record(
    *,
    actor,
    opportunity: Opportunity,
    signed_on: datetime.date | None,
    start_date: datetime.date,
    end_date: datetime.date,
    annual_recurring_value: Decimal,
    currency: str | None = None,
    contract: Contract | None = None,
    external_id: str | None = None,
) -> Contract:
    """Create the opportunity's contract, or link an existing contract of its account to it."""
    if contract is not None:
        if contract.account_id != opportunity.account_id:
            raise field_error("contract", _("The contract belongs to another account."))
        before = snapshot(contract)
        contract.opportunity = opportunity
        contract.signed_on = signed_on or contract.signed_on
        contract.save()
        audit_record(actor=actor, instance=contract, action=A.UPDATE, before=before, after=snapshot(contract))
        return contract
    currency = currency or opportunity.currency
    _check_currency(currency)
    if end_date < start_date:
        raise field_error("end_date", _("The end is before the start."))
    _check_external_id(Contract, external_id)
    contract = Contract(
        external_id=external_id or None,
        account=opportunity.account,
        opportunity=opportunity,
        signed_on=signed_on,
        start_date=start_date,
        end_date=end_date,
        annual_recurring_value=annual_recurring_value,
        currency=currency,
    )
    _full_clean(contract)
    contract.save()
    audit_record(actor=actor, instance=contract, action=A.CREATE, after=snapshot(contract))
    return contract


@transaction.atomic
def opportunity_win(
    *,
    actor,
    opportunity: Opportunity,
    signed_on: datetime.date,
    start_date: datetime.date,
    end_date: datetime.date,
    annual_recurring_value: Decimal,
    currency: str | None = None,
    reason: str = "",
    override: bool = False,
) -> Opportunity:
    """The won dialog: record the signed contract, then move to won (→ S5 onboarding)."""
    locked = _lock(opportunity)
    contract_record(
        actor=actor,
        opportunity=locked,
        signed_on=signed_on,
        start_date=start_date,
        end_date=end_date,
        annual_recurring_value=annual_recurring_value,
        currency=currency,
    )
    return opportunity_move(actor=actor, opportunity=locked, stage_code="won", reason=reason, override=override)


@transaction.atomic
def opportunity_delete(*, actor, opportunity: Opportunity) -> None:
    before = snapshot(opportunity)
    audit_record(actor=actor, instance=opportunity, action=A.DELETE, before=before)
    opportunity.delete()


# --- deal contacts ---------------------------------------------------------------------------------


@transaction.atomic
def opportunity_contact_set(
    *,
    actor,
    opportunity: Opportunity,
    contact,
    role: str = "",
    is_key: bool = False,
    motivation: str = "",
    need: str = "",
    expectations: str = "",
    success_criteria: str = "",
) -> OpportunityContact:
    if contact.account_id != opportunity.account_id:
        raise field_error("contact", _("A contact must belong to the opportunity's account."))
    if role and role not in BuyingRole.values:
        raise field_error("role", _("Unknown role."))
    link, created = OpportunityContact.objects.get_or_create(opportunity=opportunity, contact=contact)
    before = None if created else snapshot(link)
    link.role = role
    link.is_key = is_key
    link.motivation, link.need, link.expectations = motivation, need, expectations
    link.success_criteria = success_criteria
    link.save()
    audit_record(
        actor=actor,
        instance=opportunity,
        action=A.UPDATE,
        verb="contact_set",
        extra={"contact": contact.pk, "before": before, "after": snapshot(link)},
    )
    return link


@transaction.atomic
def opportunity_contact_remove(*, actor, opportunity: Opportunity, contact) -> None:
    deleted, _count = OpportunityContact.objects.filter(opportunity=opportunity, contact=contact).delete()
    if deleted:
        audit_record(
            actor=actor, instance=opportunity, action=A.UPDATE, verb="contact_remove", extra={"contact": contact.pk}
        )


# --- activities ----------------------------------------------------------------------------------

ACTIVITY_FIELDS = (
    "kind",
    "subject",
    "occurred_at",
    "duration_minutes",
    "channel",
    "outcome",
    "next_step",
    "next_step_date",
    "done",
)


def _set_participants(activity: Activity, contacts, users) -> None:
    if contacts is not None:
        contacts = list(contacts)
        if any(c.account_id != activity.account_id for c in contacts):
            raise field_error("contacts", _("Participants must be contacts of the activity's account."))
        activity.contacts.set(contacts)
    if users is not None:
        activity.users.set(list(users))


def _set_questions(*, activity: Activity, questions, opportunity: Opportunity | None, actor) -> None:
    """questions: iterable of dicts {"question": Question|code|id, "answer": str, "use_as": ""|mne}."""
    if questions is None:
        return
    ActivityQuestion.objects.filter(activity=activity).delete()
    rows = []
    fills: dict[str, list[str]] = {}
    for i, item in enumerate(questions):
        question = item.get("question")
        if not isinstance(question, Question):
            lookup = {"code": question} if isinstance(question, str) and not question.isdigit() else {"pk": question}
            question = Question.objects.filter(**lookup).first()
            if question is None:
                raise field_error(f"questions.{i}.question", _("Unknown question."))
        use_as = item.get("use_as") or ""
        if use_as and use_as not in MNE.values:
            raise field_error(f"questions.{i}.use_as", _("Choose Motivation, Need or Expectations."))
        answer = (item.get("answer") or "").strip()
        rows.append(ActivityQuestion(activity=activity, question=question, answer=answer, used_as=use_as))
        if use_as and answer:
            fills.setdefault(use_as, []).append(answer)
    ActivityQuestion.objects.bulk_create(rows)
    if fills and opportunity is not None:
        locked = _lock(opportunity)
        before = snapshot(locked)
        for field, answers in fills.items():
            current = (getattr(locked, field) or "").strip()
            additions = [a for a in answers if a not in current]
            if additions:
                setattr(locked, field, "\n".join([current, *additions]).strip())
        locked.version += 1
        locked.save()
        audit_record(
            actor=actor,
            instance=locked,
            action=A.UPDATE,
            verb="mne_from_answers",
            before=before,
            after=snapshot(locked),
        )


@transaction.atomic
def activity_create(
    *,
    actor,
    kind: str,
    subject: str,
    account=None,
    opportunity: Opportunity | None = None,
    owner=None,
    occurred_at: datetime.datetime | None = None,
    duration_minutes: int | None = None,
    channel: str = "field",
    outcome: str = "",
    next_step: str = "",
    next_step_date: datetime.date | None = None,
    done: bool = False,
    contacts=None,
    users=None,
    questions=None,
    external_id: str | None = None,
) -> Activity:
    if opportunity is not None:
        if account is not None and account.pk != opportunity.account_id:
            raise field_error("account", _("The opportunity belongs to another account."))
        account = opportunity.account
    if account is None:
        raise field_error("account", _("Choose an account or an opportunity."))
    owner = owner or actor
    _check_external_id(Activity, external_id)
    activity = Activity(
        external_id=external_id or None,
        kind=kind,
        subject=(subject or "").strip(),
        account=account,
        opportunity=opportunity,
        owner=owner,
        team=getattr(owner, "team", None),
        occurred_at=occurred_at or timezone.now(),
        duration_minutes=duration_minutes,
        channel=channel,
        outcome=outcome or "",
        next_step=next_step or "",
        next_step_date=next_step_date,
        done=done,
    )
    _full_clean(activity)
    activity.save()
    _set_participants(activity, contacts, users)
    _set_questions(activity=activity, questions=questions, opportunity=opportunity, actor=actor)
    audit_record(actor=actor, instance=activity, action=A.CREATE, after=snapshot(activity))
    return activity


@transaction.atomic
def activity_update(
    *, actor, activity: Activity, version: int, data: dict[str, Any], contacts=None, users=None, questions=None
) -> Activity:
    locked = Activity.objects.select_for_update().get(pk=activity.pk)
    if int(version) != locked.version:
        data_now = snapshot(locked)
        data_now["version"] = locked.version
        raise Conflict(extra={"current": data_now})
    before = snapshot(locked)
    unknown = [k for k in data if k not in ACTIVITY_FIELDS]
    if unknown:
        raise ValidationFailed(fields={k: [_("This field cannot be changed here.")] for k in unknown})
    for key, value in data.items():
        setattr(locked, key, value)
    _full_clean(locked)
    locked.version += 1
    locked.save()
    _set_participants(locked, contacts, users)
    _set_questions(activity=locked, questions=questions, opportunity=locked.opportunity, actor=actor)
    audit_record(actor=actor, instance=locked, action=A.UPDATE, before=before, after=snapshot(locked))
    return locked


@transaction.atomic
def activity_delete(*, actor, activity: Activity) -> None:
    audit_record(actor=actor, instance=activity, action=A.DELETE, before=snapshot(activity))
    activity.delete()


@transaction.atomic
def answer_use_as(*, actor, answer: ActivityQuestion, use_as: str) -> ActivityQuestion:
    """The "use as Motivation/Need/Expectations" button: append the answer to the opportunity's MNE."""
    if use_as not in MNE.values:
        raise field_error("use_as", _("Choose Motivation, Need or Expectations."))
    opportunity = answer.activity.opportunity
    if opportunity is None:
        raise field_error("use_as", _("This activity has no opportunity."))
    answer.used_as = use_as
    answer.save(update_fields=["used_as"])
    text = (answer.answer or "").strip()
    if text:
        locked = _lock(opportunity)
        before = snapshot(locked)
        current = (getattr(locked, use_as) or "").strip()
        if text not in current:
            setattr(locked, use_as, "\n".join([current, text]).strip())
            locked.version += 1
            locked.save()
            audit_record(
                actor=actor,
                instance=locked,
                action=A.UPDATE,
                verb="mne_from_answers",
                before=before,
                after=snapshot(locked),
            )
    return answer
