import datetime
from decimal import Decimal

import pytest

from keyfit.accounts.choices import BuyingRole, Lifecycle
from keyfit.core.errors import Conflict, PermissionDenied, ValidationFailed
from keyfit.core.models import AuditEvent
from keyfit.pipeline import gates
from keyfit.pipeline.models import Contract, Stage, StageChange, StageRequirement
from keyfit.pipeline.services import opportunity_move, opportunity_win

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def value_case_ok():
    """Register a passing value-case check for the test (the value case app installs the real one)."""
    previous = gates.get_requirement("value_case_acknowledged")
    gates.register_requirement("value_case_acknowledged", "Value case acknowledged", lambda o: (True, ""))
    yield
    gates._REGISTRY["value_case_acknowledged"] = previous


def _refusal(opp, stage="s4_value", **kwargs):
    with pytest.raises(Conflict) as exc:
        opportunity_move(actor=opp.owner, opportunity=opp, stage_code=stage, **kwargs)
    assert exc.value.code == "gate_refused" and exc.value.status == 409
    return [u["code"] for u in exc.value.extra["unmet"]], exc.value


def test_unready_opportunity_is_refused_with_every_unmet_requirement(make_opportunity):
    opp = make_opportunity()
    codes, error = _refusal(opp)
    assert codes == [
        "mne_complete",
        "economic_buyer_identified",
        "decision_criteria_known",
        "feasibility_confirmed_by_customer",
    ]
    body = error.as_dict()
    assert body["code"] == "gate_refused"
    first = body["unmet"][0]
    assert first == {
        "code": "mne_complete",
        "label": "MNE profile complete",
        "detail": "Missing: Motivation, Need, Expectations, Success criteria",
    }
    opp.refresh_from_db()
    assert opp.stage.code == "s3_guiding" and opp.version == 1
    assert StageChange.objects.filter(opportunity=opp).count() == 1


def test_mne_complete_needs_all_four(make_opportunity):
    opp = make_opportunity(ready=True)
    opp.success_criteria = "  "
    opp.save()
    codes, error = _refusal(opp)
    assert codes == ["mne_complete"]
    assert error.extra["unmet"][0]["detail"] == "Missing: Success criteria"


def test_economic_buyer_identified(make_opportunity):
    opp = make_opportunity(ready=True)
    opp.deal_contacts.update(role=BuyingRole.CHAMPION)
    assert _refusal(opp)[0] == ["economic_buyer_identified"]


def test_decision_criteria_known(make_opportunity):
    opp = make_opportunity(ready=True)
    opp.decision_criteria = ""
    opp.save()
    assert _refusal(opp)[0] == ["decision_criteria_known"]


def test_feasibility_confirmed_by_customer(make_opportunity):
    opp = make_opportunity(ready=True)
    opp.feasibility_confirmed = False
    opp.save()
    assert _refusal(opp)[0] == ["feasibility_confirmed_by_customer"]


@pytest.mark.parametrize(
    ("field", "detail"),
    [
        ("risk_only_method_confirmed", "Confirmed risk: only seeking a method"),
        ("risk_not_buying_confirmed", "Confirmed risk: not buying from us"),
    ],
)
def test_risk_flags_cleared(make_opportunity, field, detail):
    opp = make_opportunity(ready=True)
    opp.risk_only_method = True  # raised but unconfirmed does not block
    opp.save()
    opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s4_value")
    opp = make_opportunity(ready=True)
    setattr(opp, field, True)
    opp.save()
    codes, error = _refusal(opp)
    assert codes == ["risk_flags_cleared"]
    assert error.extra["unmet"][0]["detail"] == detail


def test_value_case_acknowledged_is_not_available_until_registered(make_opportunity, value_case_ok):
    opp = make_opportunity(ready=True)
    opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s4_value")
    gates._REGISTRY["value_case_acknowledged"] = gates.Requirement(
        "value_case_acknowledged", "Value case acknowledged", gates._value_case_not_available
    )
    codes, error = _refusal(opp, stage="won")
    assert codes == ["value_case_acknowledged", "contract_signed"]
    assert error.extra["unmet"][0]["detail"] == "The value case check is not installed."


def test_contract_signed_and_won_flow(make_opportunity, value_case_ok, org):
    opp = make_opportunity(ready=True, amount=Decimal("50000.00"))
    opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s4_value")
    assert _refusal(opp, stage="won")[0] == ["contract_signed"]
    opp = opportunity_win(
        actor=opp.owner,
        opportunity=opp,
        signed_on=datetime.date(2026, 4, 1),
        start_date=datetime.date(2026, 5, 1),
        end_date=datetime.date(2027, 4, 30),
        annual_recurring_value=Decimal("48000.00"),
    )
    assert opp.stage.code == "s5_onboarding"
    assert opp.won_on is not None and opp.computed_probability == 100 and opp.forecast_category == "closed"
    assert opp.account.lifecycle == Lifecycle.CUSTOMER
    opp.account.refresh_from_db()
    assert opp.account.lifecycle == Lifecycle.CUSTOMER
    contract = Contract.objects.get(opportunity=opp)
    assert (contract.annual_recurring_value, contract.currency, contract.account_id) == (
        Decimal("48000.00"),
        "CNY",
        opp.account_id,
    )
    history = [(c.from_stage.code if c.from_stage else None, c.to_stage.code) for c in opp.stage_changes.all()]
    assert history == [
        (None, "s3_guiding"),
        ("s3_guiding", "s4_value"),
        ("s4_value", "won"),
        ("won", "s5_onboarding"),
    ]
    assert opp.stage_changes.order_by("-id").first().seconds_in_previous == 0


def test_jumping_over_a_stage_demands_its_gates(make_opportunity, value_case_ok):
    opp = make_opportunity()
    codes, _ = _refusal(opp, stage="won")
    assert codes == [
        "mne_complete",
        "economic_buyer_identified",
        "decision_criteria_known",
        "feasibility_confirmed_by_customer",
        "contract_signed",
    ]


def test_requirements_are_data(make_opportunity):
    StageRequirement.objects.filter(stage__code="s3_guiding").delete()
    StageRequirement.objects.create(stage=Stage.objects.get(code="s4_value"), requirement="mne_complete", when="enter")
    opp = make_opportunity(ready=False)
    assert _refusal(opp)[0] == ["mne_complete"]
    StageRequirement.objects.all().delete()
    moved = opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s4_value")
    assert moved.stage.code == "s4_value"


def test_backward_move_and_lost_are_not_gated(make_opportunity, org):
    opp = make_opportunity(ready=True)
    opp = opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s4_value")
    opp.motivation = ""
    opp.save()
    assert opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s3_guiding").stage.code == "s3_guiding"
    with pytest.raises(ValidationFailed) as exc:
        opportunity_move(actor=opp.owner, opportunity=opp, stage_code="lost")
    assert "lost_reason" in exc.value.fields
    lost = opportunity_move(
        actor=opp.owner, opportunity=opp, stage_code="lost", lost_reason="competitor", reason="Went with B"
    )
    assert lost.stage.code == "lost" and lost.lost_reason.code == "competitor" and lost.lost_on is not None
    assert lost.computed_probability == 0


def test_admin_override_with_reason_is_recorded(make_opportunity, org):
    opp = make_opportunity()
    with pytest.raises(PermissionDenied):
        opportunity_move(actor=org.east_manager, opportunity=opp, stage_code="s4_value", override=True, reason="x")
    with pytest.raises(ValidationFailed) as exc:
        opportunity_move(actor=org.admin, opportunity=opp, stage_code="s4_value", override=True, reason=" ")
    assert "reason" in exc.value.fields
    moved = opportunity_move(
        actor=org.admin, opportunity=opp, stage_code="s4_value", override=True, reason="CEO sponsor, MNE on paper"
    )
    assert moved.stage.code == "s4_value"
    row = moved.stage_changes.order_by("-id").first()
    assert row.override is True and row.reason == "CEO sponsor, MNE on paper" and row.actor == org.admin
    assert row.overridden == [
        "mne_complete",
        "economic_buyer_identified",
        "decision_criteria_known",
        "feasibility_confirmed_by_customer",
    ]
    event = AuditEvent.objects.filter(object_id=str(opp.pk), verb="stage_move").get()
    assert event.actor == org.admin
    assert event.changes["_extra"]["override"] is True
    assert event.changes["_extra"]["reason"] == "CEO sponsor, MNE on paper"
    assert event.changes["stage_id"][1] == Stage.objects.get(code="s4_value").pk


def test_history_records_exact_durations(make_opportunity, value_case_ok):
    opp = make_opportunity(ready=True)
    opp.stage_entered_at = T0
    opp.save(update_fields=["stage_entered_at"])
    t1 = T0 + datetime.timedelta(days=3, hours=4, minutes=5, seconds=6)
    opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s4_value", now=t1)
    t2 = t1 + datetime.timedelta(hours=1, seconds=1)
    opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s3_guiding", now=t2)
    rows = list(opp.stage_changes.order_by("id").values_list("seconds_in_previous", "at"))
    assert rows[1:] == [(3 * 86400 + 4 * 3600 + 5 * 60 + 6, t1), (3601, t2)]


def test_unknown_or_lead_stages_are_refused(make_opportunity):
    opp = make_opportunity()
    with pytest.raises(ValidationFailed):
        opportunity_move(actor=opp.owner, opportunity=opp, stage_code="nope")
    with pytest.raises(ValidationFailed):
        opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s2_conversion")
    with pytest.raises(ValidationFailed):
        opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s5_adoption")


def test_stale_version_on_move_is_a_conflict(make_opportunity):
    opp = make_opportunity(ready=True)
    with pytest.raises(Conflict) as exc:
        opportunity_move(actor=opp.owner, opportunity=opp, stage_code="s4_value", version=7)
    assert exc.value.code == "conflict" and exc.value.extra["current"]["version"] == 1
