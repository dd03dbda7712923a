import datetime
from typing import Any

from ninja import Field, Schema


class StatementOut(Schema):
    id: int
    code: str
    element: str
    position: int
    supplier_en: str
    supplier_zh_hans: str
    customer_en: str
    customer_zh_hans: str
    retired: bool


class TemplateOut(Schema):
    id: int
    family: str
    version_number: int
    name_en: str
    name_zh_hans: str
    is_default: bool
    copied_from_id: int | None = None


class TemplateDetailOut(TemplateOut):
    frozen: bool
    statements: list[StatementOut]


class TemplateIn(Schema):
    name_en: str | None = None
    name_zh_hans: str | None = None
    is_default: bool | None = None


class StatementIn(Schema):
    code: str
    element: str
    supplier_en: str
    supplier_zh_hans: str
    customer_en: str
    customer_zh_hans: str


class StatementPatchIn(Schema):
    supplier_en: str | None = None
    supplier_zh_hans: str | None = None
    customer_en: str | None = None
    customer_zh_hans: str | None = None


class RaterOut(Schema):
    id: int
    side: str
    user_id: int | None = None
    contact_id: int | None = None
    name: str
    role_label: str
    horizon: str
    invited_at: datetime.datetime | None = None
    reminded_at: datetime.datetime | None = None
    last_saved_at: datetime.datetime | None = None
    submitted_at: datetime.datetime | None = None


class WaveOut(Schema):
    id: int
    account_id: int
    account_name: str
    template_id: int
    name: str
    status: str
    due_date: datetime.date
    notes: str
    opened_at: datetime.datetime | None = None
    closed_at: datetime.datetime | None = None
    shared_items: list[str]
    version: int


class WaveDetailOut(WaveOut):
    raters: list[RaterOut]


class WaveIn(Schema):
    account_id: int
    name: str
    due_date: datetime.date
    template_id: int | None = None
    notes: str = ""


class WavePatchIn(Schema):
    version: int
    name: str | None = None
    due_date: datetime.date | None = None
    notes: str | None = None
    template_id: int | None = None


class RaterIn(Schema):
    user_id: int | None = None
    contact_id: int | None = None
    role_label: str = ""


class InviteIn(Schema):
    rater_ids: list[int] | None = None


class LinkOut(Schema):
    rater_id: int
    name: str
    url: str


class InviteOut(Schema):
    links: list[LinkOut] = Field(..., description="Each new customer link, shown only in this response.")
    invited: int


class RemindOut(Schema):
    reminded: int


class ShareIn(Schema):
    items: list[str]


class AnswersIn(Schema):
    answers: dict[int, int | None] = Field(
        default_factory=dict, description="statement id → 1–5, or 0 / null for “don't know”"
    )
    horizon: str | None = Field(None, description="short or long")
    submit: bool = False


class RespondStatementOut(Schema):
    id: int
    code: str
    text: str
    answer: int | None = Field(None, description="1–5, 0 = don't know, null = not answered")


class RespondElementOut(Schema):
    code: str
    name: str
    statements: list[RespondStatementOut]


class RespondOut(Schema):
    language: str
    account: str
    wave: str
    status: str
    due_date: datetime.date
    can_answer: bool
    submitted: bool
    horizon: str
    answered: int
    total: int
    elements: list[RespondElementOut]
    shared_results: dict[str, Any] | None = None
