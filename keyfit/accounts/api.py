"""/api/v1/accounts and /api/v1/contacts: thin routes over selectors and services."""

from ninja import Query, Router, Schema, Status

from keyfit.accounts import selectors, services
from keyfit.accounts.schemas import (
    AccountIn,
    AccountOut,
    AccountPatch,
    ConflictOut,
    ContactIn,
    ContactOut,
    ContactPatch,
)
from keyfit.core.api_utils import ErrorOut, PageOut, actor, page_response

router = Router(tags=["Accounts and contacts"])

ERRORS = {403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class AccountFilters(Schema):
    q: str | None = None
    match: str | None = None
    tier: str | None = None
    lifecycle: str | None = None
    industry: str | None = None
    country: str | None = None
    owner: int | None = None
    team: int | None = None
    cursor: str | None = None
    limit: int | None = None


class ContactFilters(Schema):
    q: str | None = None
    match: str | None = None
    account: int | None = None
    buying_role: str | None = None
    seniority: str | None = None
    cursor: str | None = None
    limit: int | None = None


def _custom_query(request) -> dict[str, str]:
    """``cf_<key>=<value>`` filters on choice, multi-choice and yes/no custom fields."""
    return {k: v for k, v in request.GET.items() if k.startswith("cf_")}


def _page_out(page):
    return {"items": page.items, "next_cursor": page.next_cursor}


# The list reads exactly the columns of AccountOut, in its order, as plain rows (no model instances, no
# joins) and sends them without validating each row again; test_api checks it equals the schema's output.
ACCOUNT_OUT_VALUES = tuple(AccountOut.model_fields)


@router.get(
    "/accounts",
    response={200: PageOut[AccountOut], 422: ErrorOut},
    summary="List accounts (keyset pages)",
    description="Filters: q (name prefix, case-insensitive; match=contains searches a bounded window), tier, "
    "lifecycle, industry, country, owner, team, cf_<key> for choice, multi-choice and yes-no custom fields. "
    "Pass next_cursor back as cursor for the next page.",
)
def accounts_list(request, filters: Query[AccountFilters]):
    data = filters.dict(exclude_none=True)
    limit = data.pop("limit", None)
    data.update(_custom_query(request))
    page = selectors.account_list(actor(request), data, limit=limit, values=ACCOUNT_OUT_VALUES)
    return page_response(request, page.items, page.next_cursor)


@router.post("/accounts", response={201: AccountOut, **ERRORS}, summary="Create an account")
def accounts_create(request, payload: AccountIn):
    data = payload.dict()
    if data.get("owner_id") is None:
        data.pop("owner_id")
    if data.get("team_id") is None:
        data.pop("team_id")
    return Status(201, services.account_create(actor=actor(request), **data))


@router.get("/accounts/{account_id}", response={200: AccountOut, 404: ErrorOut}, summary="One account")
def accounts_get(request, account_id: int):
    return selectors.account_get(actor(request), account_id)


@router.patch(
    "/accounts/{account_id}",
    response={200: AccountOut, 409: ConflictOut, **ERRORS},
    summary="Change an account",
    description="Send the `version` you read. A stale version answers 409 with the current values.",
)
def accounts_update(request, account_id: int, payload: AccountPatch):
    user = actor(request)
    account = selectors.access_account(user, account_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    return services.account_update(actor=user, account=account, version=version, **data)


@router.delete("/accounts/{account_id}", response={204: None, 409: ErrorOut, **ERRORS}, summary="Delete an account")
def accounts_delete(request, account_id: int):
    user = actor(request)
    services.account_delete(actor=user, account=selectors.access_account(user, account_id))
    return Status(204, None)


@router.get(
    "/contacts",
    response={200: PageOut[ContactOut], 422: ErrorOut},
    summary="List contacts (keyset pages)",
    description="Filters: q (name or e-mail prefix), account, buying_role, seniority, cf_<key>.",
)
def contacts_list(request, filters: Query[ContactFilters]):
    data = filters.dict(exclude_none=True)
    limit = data.pop("limit", None)
    data.update(_custom_query(request))
    return _page_out(selectors.contact_list(actor(request), data, limit=limit))


@router.post("/contacts", response={201: ContactOut, **ERRORS}, summary="Create a contact")
def contacts_create(request, payload: ContactIn):
    user = actor(request)
    data = payload.dict()
    account = selectors.access_account(user, data.pop("account_id"))
    return Status(201, services.contact_create(actor=user, account=account, **data))


@router.get("/contacts/{contact_id}", response={200: ContactOut, 404: ErrorOut}, summary="One contact")
def contacts_get(request, contact_id: int):
    return selectors.contact_get(actor(request), contact_id)


@router.patch(
    "/contacts/{contact_id}",
    response={200: ContactOut, 409: ConflictOut, **ERRORS},
    summary="Change a contact",
    description="Send the `version` you read. A stale version answers 409 with the current values.",
)
def contacts_update(request, contact_id: int, payload: ContactPatch):
    user = actor(request)
    contact = selectors.access_contact(user, contact_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    return services.contact_update(actor=user, contact=contact, version=version, **data)


@router.delete("/contacts/{contact_id}", response={204: None, 409: ErrorOut, **ERRORS}, summary="Delete a contact")
def contacts_delete(request, contact_id: int):
    user = actor(request)
    services.contact_delete(actor=user, contact=selectors.access_contact(user, contact_id))
    return Status(204, None)
