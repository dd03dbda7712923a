"""API schemas: separate In / Out; computed figures travel with every case."""

import datetime
from decimal import Decimal

from ninja import Schema


class VCDriverIn(Schema):
    contributor: str = ""
    description: str = ""
    activity: str = ""
    quantity: Decimal | None = None
    unit_value: Decimal | None = None
    amount: Decimal | None = None
    basis_kind: str = ""
    basis: str = ""
    confidence: str = "medium"


class VCCostIn(Schema):
    kind: str = ""
    description: str = ""
    amount: Decimal | None = None
    basis_kind: str = ""
    basis: str = ""


class VCRatingIn(Schema):
    contact: int | None = None
    product: int | None = None
    kpi: int | None = None
    service: int | None = None


class VCItemIn(Schema):
    kind: str = ""
    description: str = ""
    amount: Decimal | None = None


class VCCaseSettingsIn(Schema):
    summary: str | None = None
    internal_notes: str | None = None
    weight_product: Decimal | None = None
    weight_kpi: Decimal | None = None
    weight_service: Decimal | None = None
    perception_override: Decimal | None = None
    perception_override_reason: str | None = None
    horizon_months: int | None = None
    drivers: list[VCDriverIn] | None = None
    costs: list[VCCostIn] | None = None
    ratings: list[VCRatingIn] | None = None
    items: list[VCItemIn] | None = None


class VCCaseCreateIn(VCCaseSettingsIn):
    opportunity: int


class VCCaseUpdateIn(VCCaseSettingsIn):
    version: int


class VCSendIn(Schema):
    contact: int
    days: int = 30


class VCRealisationIn(Schema):
    driver: int
    on: datetime.date | None = None
    amount: Decimal
    note: str = ""


class VCFiguresOut(Schema):
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


class VCDriverOut(Schema):
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


class VCCostOut(Schema):
    id: int
    kind: str
    description: str
    amount: Decimal
    basis_kind: str
    basis: str


class VCRatingOut(Schema):
    id: int
    contact: int | None
    product: int
    kpi: int
    service: int


class VCItemOut(Schema):
    id: int
    kind: str
    description: str
    amount: Decimal


class VCSensitivityOut(Schema):
    key: str
    kind: str
    label: str
    low: Decimal
    high: Decimal
    base: Decimal
    swing: Decimal


class VCAcknowledgementOut(Schema):
    contact: int
    contact_name: str
    at: datetime.datetime
    case_number: int
    net_value: Decimal


class VCCommentOut(Schema):
    contact_name: str
    body: str
    at: datetime.datetime


class VCCaseSummaryOut(Schema):
    id: int
    opportunity: int
    number: int
    state: str
    currency: str
    version: int
    compliance_flag: bool
    updated_at: datetime.datetime
    figures: VCFiguresOut


class VCCaseOut(VCCaseSummaryOut):
    summary: str
    internal_notes: str
    weight_product: Decimal
    weight_kpi: Decimal
    weight_service: Decimal
    perception_override: Decimal | None
    perception_override_reason: str
    sent_to: int | None
    sent_at: datetime.datetime | None
    drivers: list[VCDriverOut]
    costs: list[VCCostOut]
    ratings: list[VCRatingOut]
    items: list[VCItemOut]
    sensitivity: list[VCSensitivityOut]
    acknowledgement: VCAcknowledgementOut | None
    comments: list[VCCommentOut]


class VCSendOut(Schema):
    url: str
    token: str
    expires_at: datetime.datetime
    case: VCCaseOut


class VCRealisationOut(Schema):
    id: int
    driver: int
    on: datetime.date
    amount: Decimal
    note: str


class VCRealisationListOut(Schema):
    items: list[VCRealisationOut]
    realised: Decimal
    cv_at_close: Decimal | None
    rate: Decimal | None
