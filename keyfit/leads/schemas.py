import datetime
from decimal import Decimal

from ninja import Schema


class LeadIn(Schema):
    source: str = "api"
    campaign: str = ""
    company_name: str = ""
    company_domain: str = ""
    industry: str = ""
    company_size: str = ""
    region: str = ""
    contact_name: str = ""
    contact_title: str = ""
    email: str = ""
    phone: str = ""
    language: str | None = None
    priority: int | None = None
    purchase_intent: str | None = None
    need_confirmed: bool | None = None
    estimated_value: Decimal | None = None
    currency: str | None = None
    bant_budget: str = ""
    bant_authority: str = ""
    bant_need: str = ""
    bant_timeline: str = ""
    custom_fields: dict = {}
    external_id: str | None = None
    known_converted: bool | None = None
    known_closed_at: datetime.datetime | None = None
    owner_id: int | None = None
    team_id: int | None = None


class LeadPatch(Schema):
    version: int
    campaign: str | None = None
    company_name: str | None = None
    company_domain: str | None = None
    industry: str | None = None
    company_size: str | None = None
    region: str | None = None
    contact_name: str | None = None
    contact_title: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None
    priority: int | None = None
    custom_fields: dict | None = None
    external_id: str | None = None
    status_note: str | None = None


class UserRef(Schema):
    id: int
    name: str


class LeadOut(Schema):
    id: int
    version: int
    source: str
    campaign: str
    company_name: str
    company_domain: str
    industry: str
    company_size: str
    region: str
    contact_name: str
    contact_title: str
    email: str
    phone: str
    phone_normalized: str
    status: str
    disqualify_reason: str | None
    screen1_result: str
    fit_score: int | None
    screen2_result: str
    screen2_unmet: list[str]
    need_confirmed: bool
    purchase_intent: str
    estimated_value: Decimal | None
    currency: str
    owner: UserRef | None
    team_id: int | None
    priority: int
    assigned_at: datetime.datetime | None
    first_touch_at: datetime.datetime | None
    sla_due_at: datetime.datetime | None
    sla_breached_at: datetime.datetime | None
    custom_fields: dict
    external_id: str | None
    converted_opportunity_id: int | None
    created_at: datetime.datetime

    @staticmethod
    def resolve_owner(obj):
        return {"id": obj.owner_id, "name": obj.owner.display_name} if obj.owner_id else None

    @staticmethod
    def resolve_disqualify_reason(obj):
        return obj.disqualify_reason.code if obj.disqualify_reason_id else None

    @staticmethod
    def resolve_converted_opportunity_id(obj):
        return obj.converted_opportunity_ref


class LeadCreatedOut(Schema):
    lead: LeadOut
    duplicates: list[int]


class LeadDetailOut(LeadOut):
    fit_breakdown: list
    screen1_reasons: list[str]
    bant_budget: str
    bant_authority: str
    bant_need: str
    bant_timeline: str
    duplicates: list[int] = []


class ScreenIn(Schema):
    step: int
    version: int | None = None
    need_confirmed: bool | None = None
    purchase_intent: str | None = None
    estimated_value: Decimal | None = None
    currency: str | None = None
    bant_budget: str | None = None
    bant_authority: str | None = None
    bant_need: str | None = None
    bant_timeline: str | None = None


class SignalIn(Schema):
    signal_type: str
    originator: str
    occurred_at: datetime.datetime | None = None
    note: str = ""


class SignalOut(Schema):
    id: int
    lead_id: int
    signal_type: str
    originator: str
    occurred_at: datetime.datetime
    note: str


class ConvertIn(Schema):
    opportunity_name: str = ""
    version: int | None = None


class ConvertOut(Schema):
    lead_id: int
    account_id: int
    account_created: bool
    contact_id: int | None
    contact_created: bool
    opportunity_id: int


class MergeIn(Schema):
    target_id: int
    source_ids: list[int]


class RouteIn(Schema):
    lead_ids: list[int] | None = None
    seed: int = 0


class DecisionOut(Schema):
    id: int | None = None
    lead_id: int
    kind: str
    owner_id: int | None = None
    team_id: int | None = None
    rule_id: int | None = None
    reason: str
    at: datetime.datetime | None = None


class RouteOut(Schema):
    routed: int
    unrouted: int
    decisions: list[DecisionOut]
    decisions_truncated: bool


class ReassignIn(Schema):
    owner_id: int
    reason: str
    version: int | None = None


class DisqualifyIn(Schema):
    reason: str
    note: str = ""
    version: int | None = None
