from decimal import Decimal

import pytest

from keyfit.accounts.choices import BuyingRole
from keyfit.core.errors import ValidationFailed
from keyfit.core.models import AuditEvent
from keyfit.pipeline.models import LostReason, Question, Stage, StageChange, StageRequirement
from keyfit.pipeline.services import opportunity_create
from keyfit.pipeline.tests.factories import PipelineAccountFactory, PipelineContactFactory

pytestmark = pytest.mark.django_db


def test_seeded_stages_form_one_sequence():
    codes = list(Stage.objects.order_by("position").values_list("code", flat=True))
    assert codes == [
        "s0_prospect",
        "s1_lead",
        "s2_conversion",
        "s3_guiding",
        "s4_value",
        "won",
        "lost",
        "s5_onboarding",
        "s5_adoption",
        "s5_value_realised",
        "s5_renewal",
    ]
    s4 = Stage.objects.get(code="s4_value")
    assert (s4.kind, s4.default_probability, s4.forecast_category) == ("open", 60, "best_case")
    assert Stage.objects.get(code="s1_lead").kind == "lead"
    assert Stage.objects.get(code="s5_renewal").kind == "success"
    assert all(s.name_zh_hans and s.name_en for s in Stage.objects.all())


def test_seeded_vocabulary():
    assert Question.objects.count() >= 30
    assert set(Question.objects.values_list("category", flat=True)) == {"motivation", "need", "expectations"}
    assert LostReason.objects.filter(code="competitor").exists()
    assert StageRequirement.objects.filter(stage__code="s3_guiding", when="leave").count() == 5


def test_opportunity_create_in_s3_with_first_history_row(org):
    account = PipelineAccountFactory(owner=org.ae, team=org.teams["east"])
    buyer = PipelineContactFactory(account=account)
    opp = opportunity_create(
        actor=org.ae,
        account=account,
        name="  ERP rollout ",
        owner=org.ae,
        amount=Decimal("120000.50"),
        contacts=[(buyer, BuyingRole.ECONOMIC_BUYER)],
        source_lead_id=42,
    )
    opp.refresh_from_db()
    assert opp.name == "ERP rollout"
    assert opp.stage.code == "s3_guiding"
    assert opp.team == org.teams["east"]
    assert opp.computed_probability == 20 and opp.manual_probability is None and opp.probability == 20
    assert opp.forecast_category == "pipeline"
    assert opp.amount == Decimal("120000.50") and opp.currency == "CNY"
    assert opp.source_lead_id == 42
    assert opp.version == 1
    assert list(opp.deal_contacts.values_list("contact_id", "role")) == [(buyer.pk, "economic_buyer")]
    (row,) = StageChange.objects.filter(opportunity=opp)
    assert row.from_stage is None and row.to_stage.code == "s3_guiding" and row.actor == org.ae
    assert row.seconds_in_previous is None
    assert AuditEvent.objects.filter(object_id=str(opp.pk), action="create").count() == 1


def test_opportunity_create_rejects_foreign_contact_and_bad_currency(org):
    account = PipelineAccountFactory(owner=org.ae)
    other = PipelineContactFactory()
    with pytest.raises(ValidationFailed) as exc:
        opportunity_create(actor=org.ae, account=account, name="X", owner=org.ae, contacts=[other])
    assert "contacts" in exc.value.fields
    with pytest.raises(ValidationFailed) as exc:
        opportunity_create(actor=org.ae, account=account, name="X", owner=org.ae, currency="XXZ")
    assert "currency" in exc.value.fields
    with pytest.raises(ValidationFailed):
        opportunity_create(actor=org.ae, account=account, name="X", owner=org.ae, stage_code="won")


def test_stage_history_is_append_only(org):
    account = PipelineAccountFactory(owner=org.ae)
    opp = opportunity_create(actor=org.ae, account=account, name="X", owner=org.ae)
    row = opp.stage_changes.get()
    with pytest.raises(RuntimeError):
        row.save()
    with pytest.raises(RuntimeError):
        row.delete()
