"""API schemas: separate In / Out; computed figures travel with every case."""

import datetime
from decimal import Decimal

from ninja import Schema


class DriverIn(Schema):
    contributor: str = ""
    description: str = ""
    activity: str = ""
    quantity: Decimal | None = None
    unit_value: Decimal | None = None
    amount: Decimal | None = None
    basis_kind: str = ""
    basis: str = ""
    confidence: str = "medium"


class CostIn(Schema):
    kind: str = ""
    description: str = ""
    amount: Decimal | None = None
    basis_kind: str = ""
    basis: str = ""


class RatingIn(Schema):
    contact: int | None = None
    product: int | None = None
    kpi: int | None = None
    service: int | None = None


class ItemIn(Schema):
    kind: str = ""
    description: str = ""
    amount: Decimal | None = None


class CaseSettingsIn(Schema):
    summary: str | None = None
    internal_notes: str | None = None
    weight_product: Decimal | None = None
    weight_kpi: Decimal | None = None
    weight_service: Decimal | None = None
    perception_override: Decimal | None = None
    perception_override_reason: str | None = None
    horizon_months: int | None = None
    drivers: list[DriverIn] | None = None
    costs: list[CostIn] | None = None
    ratings: list[RatingIn] | None = None
    items: list[ItemIn] | None = None


class CaseCreateIn(CaseSettingsIn):
    opportunity: int


class CaseUpdateIn(CaseSettingsIn):
    version: int


class SendIn(Schema):
    contact: int
    days: int = 30


class RealisationIn(Schema):
    driver: int
    on: datetime.date | None = None
    amount: Decimal
    note: str = ""


class FiguresOut(Schema):
    pv: Decimal
    sv: Decimal
    av: Decimal
    p: Decimal
    p_computed: Decimal | None
    overridden: bool
    cv: Decimal
    cc: Decimal
    net: Decimal
    viable: bool
    mental: Decimal
    perceived_net: Decimal
    roi: Decimal | None
    break_even_p: Decimal | None
    payback_months: Decimal | None
    horizon_months: int


class DriverOut(Schema):
    id: int
    contributor: str
    description: str
    activity: str
    quantity: Decimal | None
    unit_value: Decimal | None
    amount: Decimal
    basis_kind: str
    basis: str
    confidence: str


class CostOut(Schema):
    id: int
    kind: str
    description: str
    amount: Decimal
    basis_kind: str
    basis: str


class RatingOut(Schema):
    id: int
    contact: int | None
    product: int
    kpi: int
    service: int


class ItemOut(Schema):
    id: int
    kind: str
    description: str
    amount: Decimal


class SensitivityOut(Schema):
    key: str
    kind: str
    label: str
    low: Decimal
    high: Decimal
    base: Decimal
    swing: Decimal


class AcknowledgementOut(Schema):
    contact: int
    contact_name: str
    at: datetime.datetime
    case_number: int
    net_value: Decimal


class CommentOut(Schema):
    contact_name: str
    body: str
    at: datetime.datetime


class CaseSummaryOut(Schema):
    id: int
    opportunity: int
    number: int
    state: str
    currency: str
    version: int
    compliance_flag: bool
    updated_at: datetime.datetime
    figures: FiguresOut


class CaseOut(CaseSummaryOut):
    summary: str
    internal_notes: str
    weight_product: Decimal
    weight_kpi: Decimal
    weight_service: Decimal
    perception_override: Decimal | None
    perception_override_reason: str
    sent_to: int | None
    sent_at: datetime.datetime | None
    drivers: list[DriverOut]
    costs: list[CostOut]
    ratings: list[RatingOut]
    items: list[ItemOut]
    sensitivity: list[SensitivityOut]
    acknowledgement: AcknowledgementOut | None
    comments: list[CommentOut]


class SendOut(Schema):
    url: str
    token: str
    expires_at: datetime.datetime
    case: CaseOut


class RealisationOut(Schema):
    id: int
    driver: int
    on: datetime.date
    amount: Decimal
    note: str


class RealisationListOut(Schema):
    items: list[RealisationOut]
    realised: Decimal
    cv_at_close: Decimal | None
    rate: Decimal | None
