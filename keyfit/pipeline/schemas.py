import datetime
from decimal import Decimal
from typing import Any

from ninja import Field, Schema


class StageOut(Schema):
    code: str
    name: str
    kind: str
    position: int
    default_probability: int
    forecast_category: str


class DealContactIn(Schema):
    contact_id: int
    role: str = ""
    is_key: bool = False
    motivation: str = ""
    need: str = ""
    expectations: str = ""
    success_criteria: str = ""


class DealContactOut(Schema):
    contact_id: int
    name: str = Field(..., alias="contact.name")
    role: str
    is_key: bool
    motivation: str
    need: str
    expectations: str
    success_criteria: str


class OpportunityIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    account_id: int
    owner_id: int | None = None
    team_id: int | None = None
    amount: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    currency: str = "CNY"
    expected_close_date: datetime.date | None = None
    contacts: list[DealContactIn] = []
    custom_fields: dict[str, Any] | None = None
    external_id: str | None = Field(None, max_length=100)
    previous_id: int | None = Field(None, description="an earlier deal of the same account this one follows")
    previous_link: str | None = Field(None, description="renewal or expansion (required with previous_id)")


class OpportunityPatch(Schema):
    version: int
    name: str | None = Field(None, min_length=1, max_length=200)
    owner_id: int | None = None
    team_id: int | None = None
    amount: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=2)
    currency: str | None = None
    expected_close_date: datetime.date | None = None
    manual_probability: int | None = Field(None, ge=0, le=100)
    forecast_category: str | None = None
    risk_only_method: bool | None = None
    risk_only_method_confirmed: bool | None = None
    risk_not_buying: bool | None = None
    risk_not_buying_confirmed: bool | None = None
    competitors: str | None = None
    previous_id: int | None = None
    previous_link: str | None = None
    motivation: str | None = None
    need: str | None = None
    expectations: str | None = None
    success_criteria: str | None = None
    decision_criteria: str | None = None
    feasibility_confirmed: bool | None = None
    metrics: str | None = None
    decision_process: str | None = None
    paper_process: str | None = None
    identified_pain: str | None = None
    champion_id: int | None = None
    custom_fields: dict[str, Any] | None = None


class OpportunityOut(Schema):
    id: int
    name: str
    external_id: str | None = None
    account_id: int
    account_name: str = Field(..., alias="account.name")
    owner_id: int
    team_id: int | None
    stage: str = Field(..., alias="stage.code")
    stage_name: str = Field(..., alias="stage.name")
    stage_entered_at: datetime.datetime
    amount: Decimal | None
    currency: str
    expected_close_date: datetime.date | None
    probability: int
    computed_probability: int
    manual_probability: int | None
    forecast_category: str
    risk_only_method: bool
    risk_only_method_confirmed: bool
    risk_not_buying: bool
    risk_not_buying_confirmed: bool
    competitors: str
    lost_reason: str | None = None
    won_on: datetime.date | None
    lost_on: datetime.date | None
    previous_id: int | None
    previous_link: str
    source_lead_id: int | None
    custom_fields: dict[str, Any]
    motivation: str
    need: str
    expectations: str
    success_criteria: str
    decision_criteria: str
    feasibility_confirmed: bool
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_lost_reason(obj):
        return obj.lost_reason.code if obj.lost_reason_id else None


class OpportunityDetailOut(OpportunityOut):
    contacts: list[DealContactOut] = []

    @staticmethod
    def resolve_contacts(obj):
        return list(obj.deal_contacts.all())


class WinIn(Schema):
    signed_on: datetime.date
    start_date: datetime.date
    end_date: datetime.date
    annual_recurring_value: Decimal = Field(..., ge=0, max_digits=18, decimal_places=2)
    currency: str | None = None
    reason: str = ""
    override: bool = False


class DealContactPut(Schema):
    role: str = ""
    is_key: bool = False
    motivation: str = ""
    need: str = ""
    expectations: str = ""
    success_criteria: str = ""


class MoveIn(Schema):
    stage: str
    reason: str = ""
    override: bool = False
    lost_reason: str | None = None
    version: int | None = None


class UnmetOut(Schema):
    code: str
    label: str
    detail: str


class GateCheckOut(Schema):
    stage: str
    unmet: list[UnmetOut]


class StageChangeOut(Schema):
    id: int
    from_stage: str | None
    to_stage: str = Field(..., alias="to_stage.code")
    actor_id: int | None
    at: datetime.datetime
    seconds_in_previous: int | None
    reason: str
    override: bool
    overridden: list[str]
    external_id: str | None = None

    @staticmethod
    def resolve_from_stage(obj):
        return obj.from_stage.code if obj.from_stage_id else None


class QuestionOut(Schema):
    id: int
    code: str
    text: str
    text_en: str = Field(..., alias="name_en")
    text_zh_hans: str = Field(..., alias="name_zh_hans")
    category: str
    meddpicc: str


class AskedIn(Schema):
    question: str | int
    answer: str = ""
    use_as: str = ""


class AskedOut(Schema):
    question: str = Field(..., alias="question.code")
    answer: str
    used_as: str


class ActivityIn(Schema):
    kind: str
    subject: str = Field(..., min_length=1, max_length=200)
    opportunity_id: int | None = None
    account_id: int | None = None
    occurred_at: datetime.datetime | None = None
    duration_minutes: int | None = Field(None, ge=0)
    channel: str = "field"
    outcome: str = ""
    next_step: str = ""
    next_step_date: datetime.date | None = None
    done: bool = False
    contact_ids: list[int] = []
    user_ids: list[int] = []
    questions: list[AskedIn] = []
    external_id: str | None = Field(None, max_length=100)


class ActivityPatch(Schema):
    version: int
    kind: str | None = None
    subject: str | None = Field(None, min_length=1, max_length=200)
    occurred_at: datetime.datetime | None = None
    duration_minutes: int | None = Field(None, ge=0)
    channel: str | None = None
    outcome: str | None = None
    next_step: str | None = None
    next_step_date: datetime.date | None = None
    done: bool | None = None
    contact_ids: list[int] | None = None
    user_ids: list[int] | None = None
    questions: list[AskedIn] | None = None


class ActivityOut(Schema):
    id: int
    kind: str
    subject: str
    external_id: str | None = None
    account_id: int
    opportunity_id: int | None
    owner_id: int
    occurred_at: datetime.datetime
    duration_minutes: int | None
    channel: str
    outcome: str
    next_step: str
    next_step_date: datetime.date | None
    done: bool
    contact_ids: list[int] = []
    user_ids: list[int] = []
    questions: list[AskedOut] = []
    version: int

    @staticmethod
    def resolve_contact_ids(obj):
        return [c.pk for c in obj.contacts.all()]

    @staticmethod
    def resolve_user_ids(obj):
        return [u.pk for u in obj.users.all()]

    @staticmethod
    def resolve_questions(obj):
        return list(obj.asked.all())
