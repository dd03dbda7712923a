"""The pure scoring functions: the worked wave exactly, and properties of the formulas."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyfit.fitcanvas import scoring
from keyfit.fitcanvas.scoring import ELEMENTS, RaterIn, compute_results
from keyfit.fitcanvas.tests.factories import WORKED


def worked_results(**kwargs):
    raters = [RaterIn(i, "supplier") for i in range(3)] + [RaterIn(10 + i, "customer") for i in range(2)]
    answers = []
    for element, (supplier, customer) in WORKED.items():
        for i, v in enumerate(supplier):
            answers += [(i, element, v)] * 3
        for i, v in enumerate(customer):
            answers += [(10 + i, element, v)] * 3
    return compute_results(raters=raters, answers=answers, **kwargs)


def r2(x):
    return round(x, 2)


def test_worked_wave_pure():
    r = worked_results()
    assert r["validated"] is True
    assert r["headline"] == {
        "side": "customer",
        "overall": pytest.approx(3.1667),
        "band": "cooperative",
        "label": "validated",
    }
    assert r2(r["sides"]["customer"]["overall"]) == 3.17
    assert r2(r["sides"]["supplier"]["overall"]) == 3.44
    assert {k: r2(v) for k, v in r["sides"]["customer"]["levels"].items()} == {"PLAN": 3.00, "EXEC": 3.33, "RES": 3.17}
    assert r2(r["gaps"]["bias"]) == 0.28
    assert r2(r["gaps"]["mean_absolute"]) == 0.50
    assert (r2(r["gaps"]["loa_lower"]), r2(r["gaps"]["loa_upper"])) == (-0.93, 1.49)
    assert r["relationship_solid"] is False
    e = r["elements"]
    assert (e["PLAN_STRATEGY"]["gap_class"], r2(e["PLAN_STRATEGY"]["gap"])) == ("significant", 1.00)
    assert (e["PLAN_COMMUNICATION"]["gap_class"], r2(e["PLAN_COMMUNICATION"]["gap"])) == ("significant", 1.17)
    assert (e["PLAN_RELATIONSHIPS"]["gap_class"], r2(e["PLAN_RELATIONSHIPS"]["gap"])) == ("partial", 0.83)
    assert (e["RES_KNOWLEDGE"]["gap_direction"], r2(e["RES_KNOWLEDGE"]["gap"])) == ("hidden_strength", -0.67)
    assert e["PLAN_STRATEGY"]["gap_direction"] == "blind_spot"
    assert r["improvement_areas"] == ["PLAN_COMMUNICATION", "PLAN_STRATEGY", "RES_STRUCTURE"]
    assert [r2(e[c]["priority"]) for c in r["improvement_areas"]] == [3.67, 3.00, 2.67]
    assert r["strengths"] == ["EXEC_SOLUTIONS", "RES_TALENT"]
    assert r2(e["PLAN_COMMUNICATION"]["r_wg"]["customer"]) == 0.75
    assert r2(e["PLAN_COMMUNICATION"]["r_wg"]["supplier"]) == 0.83
    assert e["PLAN_RELATIONSHIPS"]["r_wg_low"]["supplier"] is False
    assert r["dont_know_rate"] == 0


def test_rater_element_score_needs_two_of_three_and_ignores_dont_know():
    assert scoring.rater_element_score([4, 0, 0]) is None
    assert scoring.rater_element_score([4]) is None
    assert scoring.rater_element_score([4, 5, 0]) == Fraction(9, 2)
    assert scoring.rater_element_score([1, 2, 3]) == 2


def test_unvalidated_when_no_customer_answered():
    raters = [RaterIn(1, "supplier"), RaterIn(2, "customer")]
    answers = [(1, e, 4) for e in ELEMENTS for _ in range(3)] + [(2, "PLAN_STRATEGY", 0)] * 3
    r = compute_results(raters=raters, answers=answers)
    assert r["validated"] is False
    assert r["headline"]["label"] == "unvalidated" and r["headline"]["side"] == "supplier"
    assert r["headline"]["overall"] == 4.0 and r["maturity_band"] == "interdependent"
    assert r["gaps"]["bias"] is None and r["strengths"] == []
    assert r["sides"]["customer"]["dont_know_rate"] == 1.0


def test_boundaries_of_classes_and_bands():
    assert scoring.gap_class(Fraction(1, 2)) == "partial"
    assert scoring.gap_class(Fraction(49, 100)) == "aligned"
    assert scoring.gap_class(Fraction(1)) == "significant"
    assert scoring.gap_class(Fraction(-1)) == "significant"
    assert [scoring.maturity_band(Fraction(x, 100)) for x in (100, 179, 180, 259, 260, 339, 340, 419, 420, 500)] == [
        "exploratory",
        "exploratory",
        "basic",
        "basic",
        "cooperative",
        "cooperative",
        "interdependent",
        "interdependent",
        "integrated",
        "integrated",
    ]
    assert scoring.r_wg([Fraction(1), Fraction(5)]) == 0  # 1 − 8/2 clamped at 0
    assert scoring.r_wg([Fraction(3)]) is None


def test_horizon_mismatch_and_persistent_bias():
    first = worked_results()
    raters = [RaterIn(i, "supplier", "long") for i in range(3)] + [
        RaterIn(10 + i, "customer", "short") for i in range(2)
    ]
    answers = []
    for element, (supplier, customer) in WORKED.items():
        for i, v in enumerate(supplier):
            answers += [(i, element, v)] * 3
        for i, v in enumerate(customer):
            answers += [(10 + i, element, v)] * 3
    second = compute_results(
        raters=raters, answers=answers, previous=[{"wave_id": 1, "name": "Q1", "date": "2026-01-01", "results": first}]
    )
    assert second["horizon"] == {"supplier": "long", "customer": "short", "mismatch": True}
    assert second["persistent_bias"] == ["PLAN_STRATEGY", "PLAN_RELATIONSHIPS", "PLAN_COMMUNICATION", "RES_KNOWLEDGE"]
    assert second["deltas"]["overall"] == {"supplier": 0.0, "customer": 0.0}
    assert len(second["trend"]) == 2


scores = st.integers(min_value=0, max_value=5)


@st.composite
def waves(draw):
    n_supplier = draw(st.integers(1, 4))
    n_customer = draw(st.integers(0, 4))
    raters = [RaterIn(i, "supplier") for i in range(n_supplier)] + [
        RaterIn(100 + i, "customer") for i in range(n_customer)
    ]
    answers = [(r.id, e, draw(scores)) for r in raters for e in ELEMENTS for _ in range(3)]
    return raters, answers


@given(waves())
def test_properties_of_results(wave):
    raters, answers = wave
    r = compute_results(raters=raters, answers=answers)
    for side in ("supplier", "customer"):
        for value in r["sides"][side]["elements"].values():
            assert value is None or 1 <= value <= 5
    for code, e in r["elements"].items():
        if e["gap"] is not None:
            assert e["gap"] == pytest.approx(e["supplier"] - e["customer"], abs=1e-3)
            assert -4 <= e["gap"] <= 4
        for side in ("supplier", "customer"):
            assert e["r_wg"][side] is None or 0 <= e["r_wg"][side] <= 1
        if e["priority"] is not None:
            assert e["priority"] >= 0
        assert e["improvement_area"] == (code in r["improvement_areas"])
    priorities = [r["elements"][c]["priority"] for c in r["improvement_areas"]]
    assert priorities == sorted(priorities, reverse=True)
    if r["gaps"]["mean_absolute"] is not None:
        assert r["gaps"]["mean_absolute"] >= abs(r["gaps"]["bias"]) - 1e-9
    if r["gaps"]["loa_lower"] is not None:
        assert r["gaps"]["loa_lower"] <= r["gaps"]["bias"] <= r["gaps"]["loa_upper"]
    assert r["validated"] == (r["sides"]["customer"]["responded"] > 0)


@given(st.lists(st.integers(1, 5), min_size=2, max_size=30))
def test_r_wg_is_one_exactly_when_raters_agree(values):
    agreement = scoring.r_wg([Fraction(v) for v in values])
    assert (agreement == 1) == (len(set(values)) == 1)


@given(st.lists(st.integers(0, 5), min_size=3, max_size=3))
def test_rater_score_is_the_mean_of_known_answers(items):
    known = [v for v in items if v]
    score = scoring.rater_element_score(items)
    if len(known) >= 2:
        assert score == Fraction(sum(known), len(known))
    else:
        assert score is None
