"""Helpers shared by the app routers: the acting user and cursor pages."""

from typing import Any, Generic, TypeVar

from django.conf import settings
from ninja import Schema

from keyfit.core.pagination import keyset_page

T = TypeVar("T")


class ErrorOut(Schema):
    code: str
    message: str
    fields: dict[str, list[str]] = {}


class PageOut(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def actor(request):
    """The authenticated user of an API request (bearer token or session)."""
    return request.auth


def api_page(qs, *, order: tuple[str, ...], cursor: str | None, limit: int | None) -> dict[str, Any]:
    limit = min(max(int(limit or settings.PAGE_SIZE), 1), settings.API_MAX_LIMIT)
    page = keyset_page(qs, order=order, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}
