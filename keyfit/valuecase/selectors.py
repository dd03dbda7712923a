"""Reads of value cases; every list starts from ``visible_value_cases(user)``."""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.db.models import Prefetch, Sum
from django.utils.translation import gettext as _

from keyfit.core.pagination import keyset_page
from keyfit.valuecase import calc
from keyfit.valuecase.choices import CaseState
from keyfit.valuecase.models import Rating, ValueCase
from keyfit.valuecase.permissions import access_value_case, visible_value_cases

CLOSED_STATES = (CaseState.AT_CLOSE, CaseState.REALISED)


def _dimension_label(d: str) -> str:
    return {"product": _("Product"), "kpi": _("Personal-KPI fit"), "service": _("Service")}[d]


def with_lines(qs):
    return qs.prefetch_related(
        "drivers", "costs", Prefetch("ratings", queryset=Rating.objects.select_related("contact")), "items"
    )


def case_input(case: ValueCase) -> calc.CaseInput:
    return calc.CaseInput(
        drivers=[calc.Driver(f"driver:{d.pk}", d.description, d.contributor, d.amount) for d in case.drivers.all()],
        costs=[
            calc.Cost(f"cost:{c.pk}", c.description or str(c.get_kind_display()), c.amount) for c in case.costs.all()
        ],
        ratings=[
            calc.Rating(
                f"rating:{r.pk}", r.contact.name if r.contact_id else str(_("Overall")), r.product, r.kpi, r.service
            )
            for r in case.ratings.all()
        ],
        items=[calc.Item(f"item:{i.pk}", i.description, i.amount) for i in case.items.all()],
        weights=(case.weight_product, case.weight_kpi, case.weight_service),
        override=case.perception_override,
        horizon_months=case.horizon_months,
    )


def case_figures(case: ValueCase) -> calc.Figures:
    return calc.compute(case_input(case))


def case_sensitivity(case: ValueCase, figures: calc.Figures | None = None) -> list[dict]:
    """Tornado data: net value after moving each input down / up, largest swing first (JSON-safe)."""
    inputs = case_input(case)
    bars = calc.sensitivity(inputs, figures)
    out = []
    for bar in bars:
        label = bar.label
        if bar.kind == "rating":
            who, dimension = bar.label.rsplit(" · ", 1)
            label = f"{who} · {_dimension_label(dimension)}"
        out.append(
            {
                "key": bar.key,
                "kind": bar.kind,
                "label": label,
                "low": str(calc.quantize(bar.low)),
                "high": str(calc.quantize(bar.high)),
                "base": str(calc.quantize(bar.base)),
                "swing": str(calc.quantize(bar.swing)),
            }
        )
    return out


def value_case_get(user, pk) -> ValueCase:
    return access_value_case(
        user, pk, queryset=with_lines(ValueCase.objects.select_related("opportunity__account", "sent_to"))
    )


def value_case_list(user, *, opportunity_id=None, flagged: bool | None = None, state: str | None = None):
    qs = visible_value_cases(user).select_related("opportunity", "opportunity__account")
    if opportunity_id is not None:
        qs = qs.filter(opportunity_id=opportunity_id)
    if flagged:
        qs = qs.filter(compliance_flag=True)
    if state:
        qs = qs.filter(state=state)
    return qs


def value_case_page(user, *, cursor=None, limit=50, **filters):
    return keyset_page(value_case_list(user, **filters), order=("-updated_at", "-id"), cursor=cursor, limit=limit)


def versions_of(case: ValueCase):
    return (
        ValueCase.objects.filter(opportunity_id=case.opportunity_id)
        .order_by("-number")
        .only("id", "number", "state", "net_value", "updated_at", "opportunity_id")
    )


@dataclass
class Realisation:
    cv_at_close: Decimal | None
    realised: Decimal
    rate: Decimal | None  # realised / CV at close, 4 places
    case: ValueCase | None


def realisation_for_case(case: ValueCase | None) -> Realisation:
    if case is None:
        return Realisation(None, Decimal("0"), None, None)
    realised = case.realisations.aggregate(s=Sum("amount"))["s"] or Decimal("0")
    cv = case_figures(case).cv
    rate = calc.quantize(Fraction(realised) / cv, 4) if cv > 0 else None
    return Realisation(calc.quantize(cv), realised, rate, case)


def closed_case_of(opportunity) -> ValueCase | None:
    return with_lines(opportunity.value_cases.filter(state__in=CLOSED_STATES)).order_by("-number").first()


def opportunity_value_summary(user, opportunity) -> dict:
    """For the opportunity page: the latest version, its figures and the realisation rate."""
    cases = with_lines(visible_value_cases(user).filter(opportunity_id=opportunity.pk)).order_by("-number")
    latest = cases.first()
    closed = closed_case_of(opportunity) if latest is not None else None
    return {
        "case": latest,
        "figures": case_figures(latest).as_decimals() if latest else None,
        "realisation": realisation_for_case(closed),
        "currency": opportunity.currency,
        "opportunity_id": opportunity.pk,
    }


def account_value_summary(user, account) -> dict:
    """For the account page (valuecase/_account_value.html): cases at close, value realised, rate.

    Aggregated in SQL over the stored CV copies of the cases at close of the account's visible
    opportunities, per currency. One query when the account has no visible case (the common case on
    the account page), otherwise 2 + one per currency.
    """
    recent = list(
        visible_value_cases(user)
        .filter(opportunity__account_id=account.pk)
        .select_related("opportunity")
        .order_by("-updated_at", "-id")[:10]
    )
    rows = []
    if recent:
        closed = visible_value_cases(user).filter(opportunity__account_id=account.pk, state__in=CLOSED_STATES)
        for row in closed.values("currency").annotate(cv=Sum("customer_value")).order_by("currency"):
            realised = closed.filter(currency=row["currency"]).aggregate(s=Sum("realisations__amount"))["s"] or Decimal(
                "0"
            )
            cv = row["cv"] or Decimal("0")
            rows.append(
                {
                    "currency": row["currency"],
                    "cv_at_close": cv,
                    "realised": realised,
                    "rate": calc.quantize(Fraction(realised) / Fraction(cv), 4) if cv > 0 else None,
                }
            )
    return {"rows": rows, "recent": recent}
