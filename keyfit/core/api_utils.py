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


def page_response(request, items: list[dict[str, Any]], next_cursor: str | None):
    """A 200 ``PageOut`` answer built from rows that already have the item schema's fields, in its order and
    with its types (``values()`` rows of exactly those columns), rendered by the API's own renderer.

    It is what the operation itself would send for such rows, without validating every field of every row
    against the schema again (a third of a list request's time). The operation keeps declaring ``PageOut``
    as its response, so the OpenAPI description is unchanged; a test compares the two for each caller.
    """
    from config.api import api  # the one NinjaAPI; imported here because it imports every app's router

    return api.create_response(request, {"items": items, "next_cursor": next_cursor}, status=200)


def actor(request):
    """The authenticated user of an API request (bearer token or session)."""
    return request.auth


def api_page(qs, *, order: tuple[str, ...], cursor: str | None, limit: int | None) -> dict[str, Any]:
    limit = min(max(int(limit or settings.PAGE_SIZE), 1), settings.API_MAX_LIMIT)
    page = keyset_page(qs, order=order, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}
