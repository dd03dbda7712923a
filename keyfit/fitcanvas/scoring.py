"""Triple Fit Canvas results (DESIGN §5): pure functions, no database.

Arithmetic is exact (``fractions.Fraction``) so that class boundaries (a gap of exactly 1.0 is
significant, a mean absolute gap of exactly 0.5 is not "solid") never depend on float rounding; figures
are turned into floats rounded to 4 decimals only in the output.

Input: the raters of a wave, their answers ``(rater_id, element_code, score)`` with score 1–5 or
0 = "don't know", the number of active statements per element, and the stored results of earlier waves
of the same account (oldest first) for deltas, trend and the persistent-bias flag.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

ELEMENTS = [
    "PLAN_STRATEGY",
    "PLAN_RELATIONSHIPS",
    "PLAN_COMMUNICATION",
    "EXEC_SOLUTIONS",
    "EXEC_PROCESSES",
    "EXEC_SYSTEMS",
    "RES_TALENT",
    "RES_STRUCTURE",
    "RES_KNOWLEDGE",
]
LEVELS = ["PLAN", "EXEC", "RES"]
SIDES = ("supplier", "customer")
DONT_KNOW = 0
LOW_AGREEMENT = Fraction(7, 10)
BANDS = [  # (upper bound exclusive, band) on the overall fit
    (Fraction(180, 100), "exploratory"),
    (Fraction(260, 100), "basic"),
    (Fraction(340, 100), "cooperative"),
    (Fraction(420, 100), "interdependent"),
]
Z_LOA = Fraction(196, 100)


@dataclass(frozen=True)
class RaterIn:
    id: int
    side: str
    horizon: str = ""  # "short", "long" or "" (not stated)


def level_of(element: str) -> str:
    return element.split("_", 1)[0]


def mean(values: Sequence[Fraction]) -> Fraction | None:
    return sum(values, Fraction(0)) / len(values) if values else None


def sample_variance(values: Sequence[Fraction]) -> Fraction | None:
    if len(values) < 2:
        return None
    m = mean(values)
    assert m is not None
    return sum(((v - m) ** 2 for v in values), Fraction(0)) / (len(values) - 1)


def min_answered(items: int) -> int:
    """Answered (not "don't know") items a rater needs for a valid element score: 2 of 3."""
    return max(1, math.ceil(Fraction(2, 3) * items)) if items else 1


def rater_element_score(scores: Sequence[int], items: int = 3) -> Fraction | None:
    """Mean of the rater's item scores on one element, "don't know" excluded; None unless ≥ 2 of 3."""
    answered = [Fraction(s) for s in scores if s != DONT_KNOW]
    if len(answered) < min_answered(items):
        return None
    return mean(answered)


def r_wg(rater_scores: Sequence[Fraction]) -> Fraction | None:
    """Within-group agreement 1 − s²/2 (sample variance), clamped at 0; None with fewer than 2 raters."""
    variance = sample_variance(rater_scores)
    if variance is None:
        return None
    return max(Fraction(0), 1 - variance / 2)


def gap_class(gap: Fraction | None) -> str | None:
    if gap is None:
        return None
    size = abs(gap)
    if size < Fraction(1, 2):
        return "aligned"
    if size < 1:
        return "partial"
    return "significant"


def gap_direction(gap: Fraction | None) -> str | None:
    if gap is None:
        return None
    if gap > 0:
        return "blind_spot"
    if gap < 0:
        return "hidden_strength"
    return "none"


def maturity_band(overall: Fraction | float | None) -> str | None:
    if overall is None:
        return None
    value = Fraction(overall).limit_denominator(10**6) if isinstance(overall, float) else overall
    for upper, band in BANDS:
        if value < upper:
            return band
    return "integrated"


def priority(customer: Fraction | None, gap: Fraction | None) -> Fraction | None:
    """priority_e = (5 − C_e) + max(Gap_e, 0)."""
    if customer is None:
        return None
    return (5 - customer) + max(gap or Fraction(0), Fraction(0))


def side_horizon(views: Iterable[str]) -> str | None:
    """The side's view: the majority of stated views; "mixed" on a tie; None when nobody stated one."""
    stated = [v for v in views if v]
    if not stated:
        return None
    short, long_ = stated.count("short"), stated.count("long")
    if short == long_:
        return "mixed"
    return "short" if short > long_ else "long"


def _f(value: Fraction | None, places: int = 4) -> float | None:
    return None if value is None else round(float(value), places)


def _rate(dont_know: int, total: int) -> Fraction | None:
    return Fraction(dont_know, total) if total else None


def compute_results(
    *,
    raters: Sequence[RaterIn],
    answers: Iterable[tuple[int, str, int]],
    items_per_element: dict[str, int] | None = None,
    previous: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """All measures of one wave. ``previous``: ``{"wave_id", "name", "date", "results"}`` oldest first."""
    items = dict.fromkeys(ELEMENTS, 3)
    items.update(items_per_element or {})
    side_of = {r.id: r.side for r in raters}

    per_rater: dict[tuple[int, str], list[int]] = {}
    dk: dict[tuple[str, str], list[int]] = {}  # (side, element) -> [don't know, total]
    for rater_id, element, score in answers:
        side = side_of.get(rater_id)
        if side is None or element not in items:
            continue
        per_rater.setdefault((rater_id, element), []).append(score)
        counts = dk.setdefault((side, element), [0, 0])
        counts[1] += 1
        if score == DONT_KNOW:
            counts[0] += 1

    # rater-element scores, grouped by side and element
    grouped: dict[tuple[str, str], list[Fraction]] = {}
    responded: dict[str, set[int]] = {side: set() for side in SIDES}
    for (rater_id, element), scores in per_rater.items():
        score = rater_element_score(scores, items[element])
        if score is not None:
            side = side_of[rater_id]
            grouped.setdefault((side, element), []).append(score)
            responded[side].add(rater_id)

    side_element: dict[str, dict[str, Fraction | None]] = {
        side: {e: mean(grouped.get((side, e), [])) for e in ELEMENTS} for side in SIDES
    }
    side_levels: dict[str, dict[str, Fraction | None]] = {}
    side_overall: dict[str, Fraction | None] = {}
    for side in SIDES:
        present = {e: v for e, v in side_element[side].items() if v is not None}
        side_levels[side] = {lv: mean([v for e, v in present.items() if level_of(e) == lv]) for lv in LEVELS}
        side_overall[side] = mean(list(present.values()))

    validated = bool(responded["customer"])
    headline_side = "customer" if validated else "supplier"
    overall = side_overall[headline_side]

    elements_out: dict[str, Any] = {}
    gaps: dict[str, Fraction] = {}
    area_candidates: list[tuple[Fraction, int, str]] = []
    strengths: list[str] = []
    for index, e in enumerate(ELEMENTS):
        s_e, c_e = side_element["supplier"][e], side_element["customer"][e]
        fit = side_element[headline_side][e]
        gap = s_e - c_e if s_e is not None and c_e is not None else None
        if gap is not None:
            gaps[e] = gap
        prio = priority(fit, gap)
        is_area = fit is not None and (fit < 3 or (gap is not None and gap >= 1))
        if is_area and prio is not None:
            area_candidates.append((prio, index, e))
        if c_e is not None and c_e >= 4:
            strengths.append(e)
        agreement = {side: r_wg(grouped.get((side, e), [])) for side in SIDES}
        dk_rates = {side: _rate(*dk.get((side, e), [0, 0])) for side in SIDES}
        elements_out[e] = {
            "level": level_of(e),
            "supplier": _f(s_e),
            "customer": _f(c_e),
            "fit": _f(fit),
            "gap": _f(gap),
            "gap_class": gap_class(gap),
            "gap_direction": gap_direction(gap),
            "priority": _f(prio),
            "improvement_area": bool(is_area),
            "strength": e in strengths,
            "r_wg": {side: _f(agreement[side]) for side in SIDES},
            "r_wg_low": {side: (agreement[side] is not None and agreement[side] < LOW_AGREEMENT) for side in SIDES},
            "raters": {side: len(grouped.get((side, e), [])) for side in SIDES},
            "dont_know_rate": {side: _f(dk_rates[side]) for side in SIDES},
        }
    area_candidates.sort(key=lambda t: (-t[0], t[1]))

    gap_values = list(gaps.values())
    abs_gap = mean([abs(g) for g in gap_values])
    bias = mean(gap_values)
    variance = sample_variance(gap_values)
    sd = math.sqrt(variance) if variance is not None else None
    loa_lower = float(bias) - 1.96 * sd if bias is not None and sd is not None else None
    loa_upper = float(bias) + 1.96 * sd if bias is not None and sd is not None else None

    dk_side = {}
    for side in SIDES:
        d = sum(dk.get((side, e), [0, 0])[0] for e in ELEMENTS)
        t = sum(dk.get((side, e), [0, 0])[1] for e in ELEMENTS)
        dk_side[side] = (d, t)
    dk_all = _rate(sum(v[0] for v in dk_side.values()), sum(v[1] for v in dk_side.values()))

    horizons = {side: side_horizon(r.horizon for r in raters if r.side == side) for side in SIDES}
    mismatch = bool(horizons["supplier"] and horizons["customer"] and horizons["supplier"] != horizons["customer"])

    results: dict[str, Any] = {
        "validated": validated,
        "headline": {
            "side": headline_side,
            "overall": _f(overall),
            "band": maturity_band(overall),
            "label": "validated" if validated else "unvalidated",
        },
        "sides": {
            side: {
                "overall": _f(side_overall[side]),
                "levels": {lv: _f(v) for lv, v in side_levels[side].items()},
                "elements": {e: _f(v) for e, v in side_element[side].items()},
                "raters": sum(1 for r in raters if r.side == side),
                "responded": len(responded[side]),
                "dont_know_rate": _f(_rate(*dk_side[side])),
                "horizon": horizons[side],
            }
            for side in SIDES
        },
        "elements": elements_out,
        "gaps": {
            "elements": len(gap_values),
            "mean_absolute": _f(abs_gap),
            "bias": _f(bias),
            "sd": None if sd is None else round(sd, 4),
            "loa_lower": None if loa_lower is None else round(loa_lower, 4),
            "loa_upper": None if loa_upper is None else round(loa_upper, 4),
        },
        "improvement_areas": [e for _, _, e in area_candidates],
        "strengths": strengths,
        "maturity_band": maturity_band(overall),
        "relationship_solid": bool(
            abs_gap is not None and overall is not None and abs_gap < Fraction(1, 2) and overall >= Fraction(34, 10)
        ),
        "horizon": {**horizons, "mismatch": mismatch},
        "dont_know_rate": _f(dk_all),
    }
    results.update(compare_waves(results, previous))
    return results


def compare_waves(current: dict[str, Any], previous: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Deltas against the latest earlier wave, the trend, and the persistent-bias flag per element."""
    trend = [
        {
            "wave_id": p.get("wave_id"),
            "name": p.get("name", ""),
            "date": p.get("date"),
            "supplier": p["results"]["sides"]["supplier"]["overall"],
            "customer": p["results"]["sides"]["customer"]["overall"],
            "headline": p["results"]["headline"]["overall"],
        }
        for p in previous
        if p.get("results")
    ]
    trend.append(
        {
            "wave_id": None,
            "name": "",
            "date": None,
            "supplier": current["sides"]["supplier"]["overall"],
            "customer": current["sides"]["customer"]["overall"],
            "headline": current["headline"]["overall"],
        }
    )
    last = next((p for p in reversed(previous) if p.get("results")), None)
    persistent: list[str] = []
    deltas: dict[str, Any] | None = None
    if last is not None:
        before = last["results"]

        def delta(now: float | None, then: float | None) -> float | None:
            return None if now is None or then is None else round(now - then, 4)

        deltas = {
            "previous_wave": last.get("wave_id"),
            "overall": {
                side: delta(current["sides"][side]["overall"], before["sides"][side]["overall"]) for side in SIDES
            },
            "headline": delta(current["headline"]["overall"], before["headline"]["overall"]),
            "elements": {},
        }
        for e in ELEMENTS:
            now, then = current["elements"][e], before["elements"].get(e, {})
            deltas["elements"][e] = {
                "supplier": delta(now["supplier"], then.get("supplier")),
                "customer": delta(now["customer"], then.get("customer")),
                "gap": delta(now["gap"], then.get("gap")),
            }
            g_now, g_then = now["gap"], then.get("gap")
            if g_now is not None and g_then is not None and persistent_gap(g_now, g_then):
                persistent.append(e)
    for e in ELEMENTS:
        current["elements"][e]["persistent_bias"] = e in persistent
    return {"deltas": deltas, "trend": trend, "persistent_bias": persistent}


def persistent_gap(gap_now: float, gap_before: float) -> bool:
    """Same-sign gap of at least 0.5 in two consecutive waves (compared on 4-decimal figures)."""
    threshold = 0.5 - 1e-9
    return (gap_now >= threshold and gap_before >= threshold) or (gap_now <= -threshold and gap_before <= -threshold)
