"""API schemas: separate In (create), Patch (update) and Out shapes; never every model field."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from ninja import Schema
from pydantic import Field

from keyfit.accounts.models import Account, Contact


class AccountOut(Schema):
    id: int
    name: str
    legal_name: str
    website: str
    domain: str
    industry: str
    size_band: str
    employees: int | None
    annual_revenue: Decimal | None
    currency: str
    country: str
    region: str
    city: str
    tier: str
    lifecycle: str
    owner_id: int
    team_id: int | None
    parent_id: int | None
    external_id: str | None
    custom_fields: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


class AccountIn(Schema):
    name: str
    legal_name: str = ""
    website: str = ""
    domain: str = ""
    industry: str = ""
    size_band: str = ""
    employees: int | None = None
    annual_revenue: Decimal | None = None
    currency: str = "CNY"
    country: str = ""
    region: str = ""
    city: str = ""
    tier: str = "standard"
    lifecycle: str = "prospect"
    owner_id: int | None = Field(None, description="Defaults to the caller.")
    team_id: int | None = Field(None, description="Defaults to the owner's team.")
    parent_id: int | None = None
    external_id: str | None = None
    custom_fields: dict[str, Any] = {}


class AccountPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one answers 409 with the current values.")
    name: str | None = None
    legal_name: str | None = None
    website: str | None = None
    domain: str | None = None
    industry: str | None = None
    size_band: str | None = None
    employees: int | None = None
    annual_revenue: Decimal | None = None
    currency: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    tier: str | None = None
    lifecycle: str | None = None
    owner_id: int | None = None
    team_id: int | None = None
    parent_id: int | None = None
    external_id: str | None = None
    custom_fields: dict[str, Any] | None = Field(None, description="Keys given replace their values; others stay.")


class ContactOut(Schema):
    id: int
    account_id: int
    name: str
    title: str
    department: str
    email: str
    phone: str
    wechat_id: str
    seniority: str
    buying_role: str
    relationship_strength: int | None
    motivations: str
    personal_kpis: str
    reports_to_id: int | None
    language: str
    external_id: str | None
    custom_fields: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


class ContactIn(Schema):
    account_id: int
    name: str
    title: str = ""
    department: str = ""
    email: str = ""
    phone: str = ""
    wechat_id: str = ""
    seniority: str = ""
    buying_role: str = ""
    relationship_strength: int | None = None
    motivations: str = ""
    personal_kpis: str = ""
    reports_to_id: int | None = None
    language: str = "zh-hans"
    external_id: str | None = None
    custom_fields: dict[str, Any] = {}


class ContactPatch(Schema):
    version: int = Field(..., description="The version you read; a stale one answers 409 with the current values.")
    name: str | None = None
    title: str | None = None
    department: str | None = None
    email: str | None = None
    phone: str | None = None
    wechat_id: str | None = None
    seniority: str | None = None
    buying_role: str | None = None
    relationship_strength: int | None = None
    motivations: str | None = None
    personal_kpis: str | None = None
    reports_to_id: int | None = None
    language: str | None = None
    external_id: str | None = None
    custom_fields: dict[str, Any] | None = None


class ConflictOut(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] = {}
    current: dict[str, Any]


def _dump(schema: type[Schema], instance) -> dict[str, Any]:
    return schema.from_orm(instance).model_dump(mode="json")


def account_out(account: Account) -> dict[str, Any]:
    return _dump(AccountOut, account)


def contact_out(contact: Contact) -> dict[str, Any]:
    return _dump(ContactOut, contact)
