import datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from keyfit.core.errors import Conflict, ValidationFailed
from keyfit.core.models import AuditEvent
from keyfit.pipeline.services import opportunity_move, opportunity_win
from keyfit.valuecase import services
from keyfit.valuecase.choices import CaseState
from keyfit.valuecase.models import CostItem, Driver, MentalItem, Rating, ValueCase
from keyfit.valuecase.selectors import case_figures, realisation_for_case
from keyfit.valuecase.tests.factories import scrm_case

pytestmark = pytest.mark.django_db


def _send_and_ack(case, actor):
    contact = case.opportunity.account.contacts.first()
    case, token = services.value_case_send(actor=actor, case=case, contact=contact)
    services.customer_acknowledge(case_id=case.pk, token=token)
    case.refresh_from_db()
    return case


def test_worked_check_through_the_database(opportunity, org):
    case = scrm_case(actor=org.ae, opportunity=opportunity)
    f = case_figures(case)
    assert (f.pv, f.sv, f.cc) == (5000, 1000, 3500)
    assert f.p == Fraction(1, 3) and f.cv == 2000 and f.net == -1500 and not f.viable
    assert case.net_value == Decimal("-1500.00") and case.customer_value == Decimal("2000.00")
    driver = case.drivers.get(contributor="product")
    assert driver.amount == Decimal("5000") and driver.quantity == 50

    # the seller reshapes perception: a new version copies everything, ratings become 4/4/5
    case, _ = services.value_case_send(actor=org.ae, case=case, contact=opportunity.account.contacts.first())
    v2 = services.value_case_create(actor=org.ae, opportunity=opportunity)
    assert v2.number == 2 and v2.drivers.count() == 2 and v2.costs.count() == 1 and v2.ratings.count() == 1
    services.value_case_line_add(actor=org.ae, case=v2, kind="ratings", data={"product": 4, "kpi": 4, "service": 5})
    assert v2.ratings.count() == 1  # the overall rating is replaced, not duplicated
    f2 = case_figures(v2)
    assert f2.p == Fraction(5, 6) and f2.cv == 5000 and f2.net == 1500 and f2.viable
    # v1 is untouched
    assert case_figures(ValueCase.objects.get(pk=case.pk)).net == -1500


def test_a_version_is_immutable_once_it_leaves_draft(opportunity, org):
    case = scrm_case(actor=org.ae, opportunity=opportunity)
    services.value_case_send(actor=org.ae, case=case, contact=opportunity.account.contacts.first())
    before = Driver.objects.count()
    with pytest.raises(Conflict) as exc:
        services.value_case_line_add(
            actor=org.ae,
            case=case,
            kind="drivers",
            data={
                "contributor": "product",
                "description": "x",
                "activity": "operations",
                "amount": "1",
                "basis_kind": "assumption",
                "basis": "b",
            },
        )
    assert exc.value.code == "not_draft"
    with pytest.raises(Conflict):
        services.value_case_update(actor=org.ae, case=case, version=None, data={"summary": "changed"})
    with pytest.raises(Conflict):
        services.value_case_line_delete(actor=org.ae, case=case, kind="drivers", line_id=case.drivers.first().pk)
    assert Driver.objects.count() == before


def test_only_one_draft_at_a_time(opportunity, org):
    services.value_case_create(actor=org.ae, opportunity=opportunity)
    with pytest.raises(Conflict) as exc:
        services.value_case_create(actor=org.ae, opportunity=opportunity)
    assert exc.value.code == "draft_exists"
    assert ValueCase.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        (
            "drivers",
            {
                "contributor": "product",
                "description": "d",
                "activity": "operations",
                "amount": "-1",
                "basis_kind": "formula",
                "basis": "b",
            },
            "amount",
        ),
        (
            "drivers",
            {
                "contributor": "product",
                "description": "d",
                "activity": "operations",
                "amount": "10",
                "basis_kind": "formula",
                "basis": "  ",
            },
            "basis",
        ),
        (
            "drivers",
            {
                "contributor": "product",
                "description": "d",
                "activity": "operations",
                "amount": "10",
                "basis_kind": "",
                "basis": "b",
            },
            "basis_kind",
        ),
        (
            "drivers",
            {
                "contributor": "product",
                "description": "d",
                "activity": "operations",
                "quantity": "3",
                "basis_kind": "formula",
                "basis": "b",
            },
            "unit_value",
        ),
        (
            "drivers",
            {
                "contributor": "nobody",
                "description": "d",
                "activity": "operations",
                "amount": "1",
                "basis_kind": "formula",
                "basis": "b",
            },
            "contributor",
        ),
        ("costs", {"kind": "price", "amount": "-5", "basis_kind": "formula", "basis": "b"}, "amount"),
        ("costs", {"kind": "price", "amount": "5", "basis_kind": "formula", "basis": ""}, "basis"),
        ("costs", {"kind": "price", "amount": "abc", "basis_kind": "formula", "basis": "b"}, "amount"),
        ("ratings", {"product": 6, "kpi": 3, "service": 3}, "product"),
        ("ratings", {"product": 3, "kpi": 0, "service": 3}, "kpi"),
        ("items", {"kind": "gift", "description": "d", "amount": "1"}, "kind"),
    ],
)
def test_bad_lines_give_field_errors_and_save_nothing(opportunity, org, kind, data, field):
    case = services.value_case_create(actor=org.ae, opportunity=opportunity)
    version = case.version
    counts = [m.objects.count() for m in (Driver, CostItem, Rating, MentalItem)]
    with pytest.raises(ValidationFailed) as exc:
        services.value_case_line_add(actor=org.ae, case=case, kind=kind, data=data)
    assert field in exc.value.fields
    assert [m.objects.count() for m in (Driver, CostItem, Rating, MentalItem)] == counts
    case.refresh_from_db()
    assert case.version == version


def test_override_needs_a_reason_and_stays_within_bounds(opportunity, org):
    case = scrm_case(actor=org.ae, opportunity=opportunity)
    with pytest.raises(ValidationFailed) as exc:
        services.value_case_update(actor=org.ae, case=case, version=case.version, data={"perception_override": "0.9"})
    assert "perception_override_reason" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        services.value_case_update(
            actor=org.ae,
            case=case,
            version=case.version,
            data={"perception_override": "1.6", "perception_override_reason": "r"},
        )
    assert "perception_override" in exc.value.fields
    case.refresh_from_db()
    assert case.perception_override is None
    services.value_case_update(
        actor=org.ae,
        case=case,
        version=case.version,
        data={"perception_override": "1.5", "perception_override_reason": "CFO quoted the saving in writing"},
    )
    case.refresh_from_db()
    assert case_figures(case).cv == 9000 and case.net_value == Decimal("5500.00")


def test_stale_version_is_a_conflict_and_changes_nothing(opportunity, org):
    case = services.value_case_create(actor=org.ae, opportunity=opportunity)
    services.value_case_update(actor=org.ae, case=case, version=case.version, data={"summary": "first"})
    with pytest.raises(Conflict) as exc:
        services.value_case_update(actor=org.ae2, case=case, version=1, data={"summary": "second"})
    assert exc.value.extra["current"]["summary"] == "first"
    case.refresh_from_db()
    assert case.summary == "first"


def test_hospitality_raises_a_compliance_flag_and_stays_outside_net(opportunity, org):
    case = scrm_case(actor=org.ae, opportunity=opportunity, ratings=(4, 4, 5))
    services.value_case_line_add(
        actor=org.ae,
        case=case,
        kind="items",
        data={"kind": "hospitality_gift", "description": "Dinner", "amount": "800"},
    )
    case.refresh_from_db()
    f = case_figures(case)
    assert case.compliance_flag is True
    assert f.net == 1500 and f.perceived_net == 2300
    services.value_case_line_delete(actor=org.ae, case=case, kind="items", line_id=case.items.get().pk)
    case.refresh_from_db()
    assert case.compliance_flag is False


def _ready_for_won(opp, actor):
    opportunity_move(actor=actor, opportunity=opp, stage_code="s4_value")
    opp.refresh_from_db()
    return opp


def _win(opp, actor):
    return opportunity_win(
        actor=actor,
        opportunity=opp,
        signed_on=datetime.date(2026, 11, 20),
        start_date=datetime.date(2026, 12, 1),
        end_date=datetime.date(2027, 11, 30),
        annual_recurring_value=Decimal("3500"),
    )


def _unmet_codes(exc):
    return [u["code"] for u in exc.value.extra["unmet"]]


def test_s4_gate_refuses_won_without_acknowledged_case(opportunity, org):
    opp = _ready_for_won(opportunity, org.ae)
    with pytest.raises(Conflict) as exc:
        _win(opp, org.ae)
    assert "value_case_acknowledged" in _unmet_codes(exc)
    opp.refresh_from_db()
    assert opp.stage.code == "s4_value"


def test_s4_gate_refuses_acknowledged_case_with_negative_net(opportunity, org):
    opp = _ready_for_won(opportunity, org.ae)
    case = scrm_case(actor=org.ae, opportunity=opp, ratings=(2, 2, 3))
    case = _send_and_ack(case, org.ae)
    assert case.state == CaseState.ACKNOWLEDGED
    with pytest.raises(Conflict) as exc:
        _win(opp, org.ae)
    assert "value_case_acknowledged" in _unmet_codes(exc)


def test_s4_gate_refuses_viable_case_not_acknowledged(opportunity, org):
    opp = _ready_for_won(opportunity, org.ae)
    case = scrm_case(actor=org.ae, opportunity=opp, ratings=(4, 4, 5))
    services.value_case_send(actor=org.ae, case=case, contact=opp.account.contacts.first())
    with pytest.raises(Conflict) as exc:
        _win(opp, org.ae)
    assert "value_case_acknowledged" in _unmet_codes(exc)


def test_s4_gate_accepts_won_with_acknowledged_positive_case(opportunity, org):
    opp = _ready_for_won(opportunity, org.ae)
    case = scrm_case(actor=org.ae, opportunity=opp, ratings=(4, 4, 5))
    case = _send_and_ack(case, org.ae)
    ack = case.acknowledgement
    assert ack.case_number == 1 and ack.net_value == Decimal("1500.00")
    assert ack.contact == opp.account.contacts.first()
    won = _win(opp, org.ae)
    assert won.won_on is not None
    # a newer draft does not undo the acknowledged version
    services.value_case_close(actor=org.ae, case=case)
    case.refresh_from_db()
    assert case.state == CaseState.AT_CLOSE


def test_realisation_rate_against_cv_at_close(opportunity, org):
    case = scrm_case(actor=org.ae, opportunity=opportunity, ratings=(4, 4, 5))
    case = _send_and_ack(case, org.ae)
    driver = case.drivers.get(contributor="product")
    with pytest.raises(Conflict):
        services.realisation_add(actor=org.ae, case=case, driver_id=driver.pk, on="2027-01-31", amount="100")
    services.value_case_close(actor=org.ae, case=case)
    services.realisation_add(actor=org.ae, case=case, driver_id=driver.pk, on="2027-01-31", amount="1250")
    services.realisation_add(actor=org.ae, case=case, driver_id=driver.pk, on="2027-02-28", amount="1250.50")
    with pytest.raises(ValidationFailed) as exc:
        services.realisation_add(actor=org.ae, case=case, driver_id=driver.pk, on="2027-03-31", amount="-1")
    assert "amount" in exc.value.fields
    r = realisation_for_case(case)
    assert r.realised == Decimal("2500.50") and r.cv_at_close == Decimal("5000.00")
    assert r.rate == Decimal("0.5001")
    services.value_case_mark_realised(actor=org.ae, case=case)
    case.refresh_from_db()
    assert case.state == CaseState.REALISED


def test_every_change_is_audited(opportunity, org):
    case = scrm_case(actor=org.ae, opportunity=opportunity)
    models = set(AuditEvent.objects.filter(action="create").values_list("content_type__model", flat=True))
    assert {"valuecase", "driver", "costitem", "rating"} <= models
    services.value_case_send(actor=org.ae, case=case, contact=opportunity.account.contacts.first())
    assert AuditEvent.objects.filter(verb="send", object_id=str(case.pk)).exists()
