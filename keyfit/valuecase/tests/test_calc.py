"""The value-case arithmetic (DESIGN §4): the worked check exactly, and properties."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyfit.valuecase import calc
from keyfit.valuecase.calc import CaseInput, Cost, Driver, Item, Rating


def scrm(product: int, kpi: int, service: int, **kwargs) -> CaseInput:
    return CaseInput(
        drivers=[
            Driver("d1", "SCRM product", calc.PRODUCT, Decimal("5000")),
            Driver("d2", "Implementation guidance", calc.SELLER, Decimal("1000")),
        ],
        costs=[Cost("c1", "Price", Decimal("3500"))],
        ratings=[Rating("overall", "Overall", product, kpi, service)],
        **kwargs,
    )


def test_worked_check_first_version_is_not_viable():
    f = calc.compute(scrm(2, 2, 3))
    assert f.pv == 5000 and f.sv == 1000 and f.av == 6000
    assert f.p == Fraction(1, 3)
    assert f.cv == 2000
    assert f.cc == 3500
    assert f.net == -1500
    assert f.viable is False
    shown = f.as_decimals()
    assert shown["p"] == Decimal("0.3333")
    assert shown["cv"] == Decimal("2000.00")
    assert shown["net"] == Decimal("-1500.00")


def test_worked_check_after_reshaping_perception_is_viable():
    f = calc.compute(scrm(4, 4, 5))
    assert f.p == Fraction(5, 6)
    assert f.cv == 5000
    assert f.net == 1500
    assert f.viable is True
    assert f.roi == Fraction(1500, 3500)
    assert f.break_even_p == Fraction(3500, 6000)
    # payback = CC / (CV / 12) = 3500 × 12 / 5000 = 8.4 months
    assert f.payback_months == Fraction(42, 5)
    assert f.as_decimals()["payback_months"] == Decimal("8.4")


def test_several_stakeholders_average_per_dimension_first():
    case = CaseInput(
        drivers=[Driver("d", "d", calc.PRODUCT, Decimal("1000"))],
        ratings=[Rating("a", "A", 5, 1, 3), Rating("b", "B", 3, 3, 3)],
    )
    f = calc.compute(case)
    # means: product 4, kpi 2, service 3 → p: 3/4, 1/4, 2/4 → P = 1/2
    assert f.dimension_means == {"product": 4, "kpi": 2, "service": 3}
    assert f.p == Fraction(1, 2)
    assert f.cv == 500


def test_weights_are_applied():
    case = scrm(5, 1, 1, weights=(2, 1, 1))
    assert calc.compute(case).p == Fraction(1, 2)


def test_override_replaces_p_and_is_bounded():
    case = scrm(2, 2, 3, override=Decimal("1.5"))
    f = calc.compute(case)
    assert f.overridden and f.p == Fraction(3, 2) and f.p_computed == Fraction(1, 3)
    assert f.cv == 9000
    calc.check_override(Decimal("1.5"), "customer quoted it")
    with pytest.raises(calc.CalcError) as err:
        calc.check_override(Decimal("1.51"), "reason")
    assert err.value.field == "perception_override"
    with pytest.raises(calc.CalcError):
        calc.check_override(Decimal("-0.01"), "reason")
    with pytest.raises(calc.CalcError) as err:
        calc.check_override(Decimal("0.9"), "   ")
    assert err.value.field == "perception_override_reason"


def test_mental_accounting_is_beside_net_never_inside():
    case = CaseInput(
        drivers=[Driver("d", "d", calc.PRODUCT, Decimal("1000"))],
        costs=[Cost("c", "c", Decimal("100"))],
        ratings=[Rating("o", "o", 5, 5, 5)],
        items=[Item("i1", "peer", Decimal("300")), Item("i2", "reference price", Decimal("-50"))],
    )
    f = calc.compute(case)
    assert f.net == 900
    assert f.mental == 250
    assert f.perceived_net == 1150


def test_degenerate_cases():
    f = calc.compute(CaseInput())
    assert f.p == 0 and f.p_computed is None and f.net == 0 and not f.viable
    assert f.roi is None and f.break_even_p is None and f.payback_months is None


def test_bad_ratings_and_horizon_are_refused():
    with pytest.raises(calc.CalcError):
        calc.compute(scrm(0, 2, 3))
    with pytest.raises(calc.CalcError):
        calc.compute(scrm(2, 6, 3))
    with pytest.raises(calc.CalcError):
        calc.compute(scrm(2, 2, 3, horizon_months=0))
    with pytest.raises(calc.CalcError):
        calc.compute(scrm(2, 2, 3, weights=(0, 0, 0)))


def test_line_amount_is_exact():
    assert calc.line_amount(Decimal("3"), Decimal("0.1")) == Decimal("0.3")
    assert calc.line_amount(None, Decimal("1")) is None


def test_sensitivity_worked_example():
    case = scrm(4, 4, 5)
    bars = calc.sensitivity(case)
    by_key = {b.key: b for b in bars}
    # product driver ±20 %: ±1000 × 5/6
    assert by_key["d1"].high - by_key["d1"].base == Fraction(2500, 3)
    # price ±20 %: ∓700
    assert by_key["c1"].low == 1500 + 700 and by_key["c1"].high == 1500 - 700
    # service 5 cannot go up (clamped): high equals base
    assert by_key["overall:service"].high == 1500
    assert by_key["overall:service"].low == 6000 * Fraction(3, 4) - 3500  # 4/4/4 → P = 3/4
    assert bars[0].key == "d1"  # largest swing first
    swings = [b.swing for b in bars]
    assert swings == sorted(swings, reverse=True)


def test_sensitivity_ratings_have_no_swing_under_override():
    bars = calc.sensitivity(scrm(2, 2, 3, override=Decimal("1")))
    assert all(b.swing == 0 for b in bars if b.kind == "rating")


def test_quantize_half_up_from_exact():
    assert calc.quantize(Fraction(1, 3), 4) == Decimal("0.3333")
    assert calc.quantize(Fraction(5, 6), 4) == Decimal("0.8333")
    assert calc.quantize(Fraction(1, 8), 2) == Decimal("0.13")
    assert calc.quantize(None) is None


# --- properties --------------------------------------------------------------------------------

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=2)
rating = st.integers(min_value=1, max_value=5)
ratings = st.lists(st.tuples(rating, rating, rating), min_size=1, max_size=4)


def _case(pv, sv, cc, rs, override=None):
    return CaseInput(
        drivers=[Driver("p", "p", calc.PRODUCT, pv), Driver("s", "s", calc.SELLER, sv)],
        costs=[Cost("c", "c", cc)],
        ratings=[Rating(str(i), str(i), *r) for i, r in enumerate(rs)],
        override=override,
    )


@settings(deadline=None)  # exact arithmetic, but the machine is shared: no timing flakes
@given(pv=money, sv=money, cc=money, rs=ratings)
def test_net_value_increases_with_p_when_av_positive(pv, sv, cc, rs):
    low = calc.compute(_case(pv, sv, cc, rs))
    # raise one rating of the first stakeholder by one step where possible
    first = list(rs[0])
    for i in range(3):
        if first[i] < 5:
            first[i] += 1
            break
    else:
        return
    high = calc.compute(_case(pv, sv, cc, [tuple(first), *rs[1:]]))
    assert high.p > low.p
    assert high.net > low.net


@settings(deadline=None)  # exact arithmetic, but the machine is shared: no timing flakes
@given(pv=money, sv=money, cc=money, p1=st.fractions(0, 1), p2=st.fractions(0, 1))
def test_net_is_monotone_in_p(pv, sv, cc, p1, p2):
    a = calc.compute(_case(pv, sv, cc, [(3, 3, 3)], override=p1))
    b = calc.compute(_case(pv, sv, cc, [(3, 3, 3)], override=p2))
    assert (p1 < p2) == (a.net < b.net)


@settings(deadline=None)  # exact arithmetic, but the machine is shared: no timing flakes
@given(pv=money, sv=money, cc=money)
def test_break_even_perception_gives_exactly_zero_net(pv, sv, cc):
    f = calc.compute(_case(pv, sv, cc, [(3, 3, 3)]))
    at_break_even = calc.compute(_case(pv, sv, cc, [(3, 3, 3)], override=f.break_even_p))
    assert at_break_even.net == 0
    assert not at_break_even.viable


@settings(deadline=None)  # exact arithmetic, but the machine is shared: no timing flakes
@given(rs=ratings)
def test_p_lies_in_unit_interval(rs):
    p = calc.perception([Rating(str(i), "", *r) for i, r in enumerate(rs)])
    assert 0 <= p <= 1


@settings(deadline=None)  # exact arithmetic, but the machine is shared: no timing flakes
@given(value=st.decimals(min_value=Decimal("-10"), max_value=Decimal("10"), places=3))
def test_override_bounds(value):
    if Decimal(0) <= value <= Decimal("1.5"):
        calc.check_override(value, "written reason")
    else:
        with pytest.raises(calc.CalcError):
            calc.check_override(value, "written reason")
    with pytest.raises(calc.CalcError):
        calc.check_override(value, "")


@settings(deadline=None)  # exact arithmetic, but the machine is shared: no timing flakes
@given(amounts=st.lists(money, min_size=1, max_size=30))
def test_totals_are_exact_sums(amounts):
    case = CaseInput(costs=[Cost(str(i), "", a) for i, a in enumerate(amounts)])
    assert calc.quantize(calc.compute(case).cc) == sum(amounts, Decimal(0))
