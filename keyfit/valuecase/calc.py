"""The value-case arithmetic of DESIGN §4, exact.

Pure functions, no database. Money comes in as ``Decimal``; everything is computed with
``fractions.Fraction`` so that e.g. P = 1/3 times AV = 6,000 gives CV = 2,000 exactly (a ``Decimal``
with any finite precision would not). Results are exact fractions; ``quantize`` rounds them for
display only.

Definitions (see docs/valuecase.md):

- PV = Σ product drivers, SV = Σ seller drivers, AV = PV + SV
- p(x) = (x − 1) / 4 for a rating x ∈ 1..5
- with several stakeholders, each dimension (product, personal-KPI fit, service) is first averaged over
  the stakeholders, then P = weighted mean of the three dimension values (weights default 1 : 1 : 1)
- a manual override replaces P; it lies in [0, 1.5] and needs a written reason
- CV = AV × P, CC = Σ cost items, net = CV − CC, viable iff net > 0
- perceived net = net + Σ mental-accounting items (shown beside net, never inside it)
- customer ROI = net / CC; break-even perception = CC / AV (the P at which net = 0)
- payback months = CC / (CV / horizon months) = CC × horizon / CV (only when CV > 0)
- sensitivity: net value after ±20 % on each driver and cost amount and ±1 on each rating (clamped 1..5)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

DIMENSIONS = ("product", "kpi", "service")
RATING_MIN = 1
RATING_MAX = 5
OVERRIDE_MAX = Fraction(3, 2)
SENSITIVITY_SHARE = Fraction(1, 5)  # ±20 %
DEFAULT_HORIZON_MONTHS = 12

PRODUCT = "product"
SELLER = "seller"


class CalcError(ValueError):
    """An input outside the method's domain; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


Number = Decimal | int | Fraction


def exact(value: Number | str | None) -> Fraction:
    if value is None:
        return Fraction(0)
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):  # pragma: no cover - guarded so floats never leak in
        raise TypeError("floats are not accepted; pass Decimal")
    return Fraction(Decimal(value) if isinstance(value, str) else value)


def _div_decimal(value: Fraction, places: int) -> Decimal:
    """value rounded half-up to `places` decimals, computed from the exact fraction."""
    with localcontext() as ctx:
        ctx.prec = 80
        q = Decimal(value.numerator) / Decimal(value.denominator)
        return q.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def quantize(value: Fraction | None, places: int = 2) -> Decimal | None:
    return None if value is None else _div_decimal(value, places)


def line_amount(quantity: Number | None, unit_value: Number | None) -> Decimal | None:
    """amount = quantity × unit value (exact Decimal product), or None when either is missing."""
    if quantity is None or unit_value is None:
        return None
    return Decimal(quantity) * Decimal(unit_value)


@dataclass(frozen=True)
class Driver:
    key: str
    label: str
    contributor: str  # PRODUCT or SELLER
    amount: Number


@dataclass(frozen=True)
class Cost:
    key: str
    label: str
    amount: Number


@dataclass(frozen=True)
class Rating:
    """One stakeholder's ratings (or the overall rating when there is no stakeholder)."""

    key: str
    label: str
    product: int
    kpi: int
    service: int

    def value(self, dimension: str) -> int:
        return getattr(self, dimension)


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    amount: Number  # signed


@dataclass(frozen=True)
class CaseInput:
    drivers: Sequence[Driver] = ()
    costs: Sequence[Cost] = ()
    ratings: Sequence[Rating] = ()
    items: Sequence[Item] = ()
    weights: tuple[Number, Number, Number] = (1, 1, 1)
    override: Number | None = None
    horizon_months: int = DEFAULT_HORIZON_MONTHS


@dataclass(frozen=True)
class SensitivityBar:
    key: str
    kind: str  # "driver", "cost" or "rating"
    label: str
    low: Fraction  # net value with the input moved down (−20 % or −1)
    high: Fraction  # net value with the input moved up (+20 % or +1)
    base: Fraction

    @property
    def swing(self) -> Fraction:
        return abs(self.high - self.low)


@dataclass(frozen=True)
class Figures:
    pv: Fraction
    sv: Fraction
    av: Fraction
    p: Fraction
    p_computed: Fraction | None  # from the ratings; None when nothing is rated
    overridden: bool
    cv: Fraction
    cc: Fraction
    net: Fraction
    viable: bool
    mental: Fraction
    perceived_net: Fraction
    roi: Fraction | None
    break_even_p: Fraction | None
    payback_months: Fraction | None
    horizon_months: int
    dimension_means: dict[str, Fraction | None] = field(default_factory=dict)

    def as_decimals(self) -> dict[str, object]:
        """Display values: money to 2 places, factors to 4, months to 1."""
        return {
            "pv": quantize(self.pv),
            "sv": quantize(self.sv),
            "av": quantize(self.av),
            "p": quantize(self.p, 4),
            "p_computed": quantize(self.p_computed, 4),
            "overridden": self.overridden,
            "cv": quantize(self.cv),
            "cc": quantize(self.cc),
            "net": quantize(self.net),
            "viable": self.viable,
            "mental": quantize(self.mental),
            "perceived_net": quantize(self.perceived_net),
            "roi": quantize(self.roi, 4),
            "break_even_p": quantize(self.break_even_p, 4),
            "payback_months": quantize(self.payback_months, 1),
            "horizon_months": self.horizon_months,
        }


def p_of(rating: int | Fraction) -> Fraction:
    """p(x) = (x − 1) / 4."""
    return (Fraction(rating) - 1) / 4


def check_rating(value: int, field_name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not RATING_MIN <= value <= RATING_MAX:
        raise CalcError(field_name, "A rating is a whole number from 1 to 5.")


def check_override(value: Number | None, reason: str | None) -> None:
    """An override lies in [0, 1.5] and needs a written reason."""
    if value is None:
        return
    v = exact(value)
    if v < 0 or v > OVERRIDE_MAX:
        raise CalcError("perception_override", "The override must lie between 0 and 1.5.")
    if not (reason or "").strip():
        raise CalcError("perception_override_reason", "An override needs a written reason.")


def check_weights(weights: Sequence[Number]) -> tuple[Fraction, Fraction, Fraction]:
    ws = tuple(exact(w) for w in weights)
    if len(ws) != 3 or any(w < 0 for w in ws) or sum(ws) <= 0:
        raise CalcError("weights", "Weights are three non-negative numbers, not all zero.")
    return ws  # type: ignore[return-value]


def dimension_means(ratings: Iterable[Rating]) -> dict[str, Fraction | None]:
    ratings = list(ratings)
    if not ratings:
        return dict.fromkeys(DIMENSIONS)
    return {d: Fraction(sum(r.value(d) for r in ratings), len(ratings)) for d in DIMENSIONS}


def perception(ratings: Iterable[Rating], weights: Sequence[Number] = (1, 1, 1)) -> Fraction | None:
    """P from the ratings: per-dimension mean over stakeholders, then the weighted mean of p(x)."""
    ws = check_weights(weights)
    means = dimension_means(ratings)
    if means["product"] is None:
        return None
    total = sum((w * p_of(means[d]) for w, d in zip(ws, DIMENSIONS, strict=True)), Fraction(0))
    return total / sum(ws)


def compute(case: CaseInput) -> Figures:
    ws = check_weights(case.weights)
    for r in case.ratings:
        for d in DIMENSIONS:
            check_rating(r.value(d), d)
    if case.horizon_months is None or int(case.horizon_months) <= 0:
        raise CalcError("horizon_months", "The benefit horizon is at least one month.")
    pv = sum((exact(d.amount) for d in case.drivers if d.contributor == PRODUCT), Fraction(0))
    sv = sum((exact(d.amount) for d in case.drivers if d.contributor == SELLER), Fraction(0))
    av = pv + sv
    p_computed = perception(case.ratings, ws)
    overridden = case.override is not None
    p = exact(case.override) if overridden else (p_computed or Fraction(0))
    cv = av * p
    cc = sum((exact(c.amount) for c in case.costs), Fraction(0))
    net = cv - cc
    mental = sum((exact(i.amount) for i in case.items), Fraction(0))
    horizon = int(case.horizon_months)
    return Figures(
        pv=pv,
        sv=sv,
        av=av,
        p=p,
        p_computed=p_computed,
        overridden=overridden,
        cv=cv,
        cc=cc,
        net=net,
        viable=net > 0,
        mental=mental,
        perceived_net=net + mental,
        roi=(net / cc) if cc != 0 else None,
        break_even_p=(cc / av) if av > 0 else None,
        payback_months=(cc * horizon / cv) if cv > 0 else None,
        horizon_months=horizon,
        dimension_means=dimension_means(case.ratings),
    )


def _clamp(x: int) -> int:
    return max(RATING_MIN, min(RATING_MAX, x))


def sensitivity(case: CaseInput, figures: Figures | None = None) -> list[SensitivityBar]:
    """Tornado bars, largest swing first (ties keep input order).

    Drivers and costs move ±20 % of their amount; every rating of every stakeholder moves ±1, clamped to
    1..5. With a manual override the ratings do not move P, so their bars have no swing.
    """
    figures = figures or compute(case)
    base = figures.net
    p = figures.p
    bars: list[SensitivityBar] = []
    for d in case.drivers:
        delta = exact(d.amount) * SENSITIVITY_SHARE * p
        bars.append(SensitivityBar(d.key, "driver", d.label, base - delta, base + delta, base))
    for c in case.costs:
        delta = exact(c.amount) * SENSITIVITY_SHARE
        # a higher cost lowers net value
        bars.append(SensitivityBar(c.key, "cost", c.label, base + delta, base - delta, base))
    ratings = list(case.ratings)
    for index, r in enumerate(ratings):
        for d in DIMENSIONS:
            nets = []
            for step in (-1, 1):
                if figures.overridden:
                    nets.append(base)
                    continue
                moved = Rating(r.key, r.label, **{**_rating_values(r), d: _clamp(r.value(d) + step)})
                new_ratings = [*ratings[:index], moved, *ratings[index + 1 :]]
                new_p = perception(new_ratings, case.weights) or Fraction(0)
                nets.append(figures.av * new_p - figures.cc)
            bars.append(SensitivityBar(f"{r.key}:{d}", "rating", f"{r.label} · {d}", nets[0], nets[1], base))
    order = {id(b): i for i, b in enumerate(bars)}
    bars.sort(key=lambda b: (-b.swing, order[id(b)]))
    return bars


def _rating_values(r: Rating) -> dict[str, int]:
    return {d: r.value(d) for d in DIMENSIONS}
