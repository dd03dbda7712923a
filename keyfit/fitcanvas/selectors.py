"""Reads of the Triple Fit Canvas, always starting from the user's visible waves."""

from typing import Any

from django.db.models import Count, Q

from keyfit.accounts.permissions import visible_accounts, visible_contacts
from keyfit.core.errors import NotFound, PermissionDenied
from keyfit.fitcanvas import scoring
from keyfit.fitcanvas.choices import ELEMENT_CODES, Side, WaveStatus
from keyfit.fitcanvas.models import Answer, QuestionnaireTemplate, Rater, Statement, Wave
from keyfit.fitcanvas.permissions import editable_waves, visible_templates, visible_waves


def wave_list(user, *, account_id: int | None = None, status: str | None = None):
    qs = visible_waves(user).select_related("account", "template")
    if account_id:
        qs = qs.filter(account_id=account_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def access_wave(user, wave_id: int, *, write: bool = False) -> Wave:
    """The wave if visible (else 404); with ``write`` also editable (else 403)."""
    wave = visible_waves(user).select_related("account", "template").filter(pk=wave_id).first()
    if wave is None:
        raise NotFound()
    if write and not editable_waves(user).filter(pk=wave.pk).exists():
        raise PermissionDenied()
    return wave


def access_account(user, account_id: int, *, write: bool = False):
    from keyfit.accounts.permissions import editable_accounts

    account = visible_accounts(user).filter(pk=account_id).first()
    if account is None:
        raise NotFound()
    if write and not editable_accounts(user).filter(pk=account.pk).exists():
        raise PermissionDenied()
    return account


def access_contact(user, contact_id: int):
    contact = visible_contacts(user).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound()
    return contact


def template_list(user):
    return visible_templates(user).annotate(
        statement_count=Count("statements", filter=Q(statements__retired=False)), wave_count=Count("waves")
    )


def access_template(user, template_id: int) -> QuestionnaireTemplate:
    template = visible_templates(user).filter(pk=template_id).first()
    if template is None:
        raise NotFound()
    return template


def default_template() -> QuestionnaireTemplate | None:
    return QuestionnaireTemplate.objects.filter(is_default=True).first() or QuestionnaireTemplate.objects.first()


def active_statements(template_id: int):
    return Statement.objects.filter(template_id=template_id, retired=False).order_by("position", "id")


def questionnaire(template_id: int) -> list[dict[str, Any]]:
    """The active statements grouped by element, in the canonical element order (one query)."""
    by_element: dict[str, list[Statement]] = {code: [] for code in ELEMENT_CODES}
    for statement in active_statements(template_id):
        by_element[statement.element].append(statement)
    return [{"code": code, "statements": items} for code, items in by_element.items() if items]


def rater_list(wave: Wave):
    return wave.raters.select_related("user", "contact").annotate(answer_count=Count("answers")).order_by("side", "id")


def rater_answers(rater: Rater) -> dict[int, int]:
    return dict(Answer.objects.filter(rater=rater).values_list("statement_id", "score"))


def supplier_rater_for(wave: Wave, user) -> Rater | None:
    return Rater.objects.filter(wave=wave, side=Side.SUPPLIER, user=user).first()


def previous_snapshots(wave: Wave) -> list[dict[str, Any]]:
    """Stored results of the account's earlier closed waves, oldest first."""
    rows = (
        Wave.objects.filter(account_id=wave.account_id, status=WaveStatus.CLOSED, results__isnull=False)
        .filter(Q(due_date__lt=wave.due_date) | Q(due_date=wave.due_date, id__lt=wave.id))
        .order_by("due_date", "id")
        .values("id", "name", "due_date", "results")
    )
    return [
        {"wave_id": r["id"], "name": r["name"], "date": r["due_date"].isoformat(), "results": r["results"]}
        for r in rows
    ]


def wave_compute_results(wave: Wave) -> dict[str, Any]:
    """Compute every measure live. The answers come in one query (raters left-joined to answers)."""
    rows = Rater.objects.filter(wave_id=wave.pk).values_list(
        "id", "side", "horizon", "answers__statement__element", "answers__score"
    )
    raters: dict[int, scoring.RaterIn] = {}
    answers: list[tuple[int, str, int]] = []
    for rater_id, side, horizon, element, score in rows:
        if rater_id not in raters:
            raters[rater_id] = scoring.RaterIn(id=rater_id, side=side, horizon=horizon or "")
        if element is not None:
            answers.append((rater_id, element, score))
    items = dict(
        Statement.objects.filter(template_id=wave.template_id, retired=False)
        .values_list("element")
        .annotate(n=Count("id"))
        .values_list("element", "n")
    )
    results = scoring.compute_results(
        raters=list(raters.values()), answers=answers, items_per_element=items, previous=previous_snapshots(wave)
    )
    results["trend"][-1].update(wave_id=wave.pk, name=wave.name, date=wave.due_date.isoformat())
    results["wave"] = {"id": wave.pk, "status": wave.status, "frozen": False}
    return results


def wave_results(wave: Wave) -> dict[str, Any]:
    """The frozen snapshot of a closed wave, else the live computation."""
    if wave.status == WaveStatus.CLOSED and wave.results:
        return wave.results
    return wave_compute_results(wave)


def shared_results(wave: Wave) -> dict[str, Any] | None:
    """Only the customer-side aggregates the KAM chose to share, and only once the wave is closed."""
    if wave.status != WaveStatus.CLOSED or not wave.results or not wave.shared_items:
        return None
    r = wave.results
    customer = r["sides"]["customer"]
    items = set(wave.shared_items)
    out: dict[str, Any] = {}
    if "overall" in items and r.get("validated"):
        out["overall"] = customer["overall"]
        out["band"] = scoring.maturity_band(customer["overall"])
    if "levels" in items:
        out["levels"] = dict(customer["levels"])
    if "elements" in items:
        out["elements"] = dict(customer["elements"])
    if "strengths" in items:
        out["strengths"] = list(r["strengths"])
    if "improvement_areas" in items:
        out["improvement_areas"] = list(r["improvement_areas"])
    if "participation" in items:
        out["respondents"] = customer["responded"]
    return out
