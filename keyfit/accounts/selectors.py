"""Reads of accounts and contacts. Every read starts from the user's scope (permissions.py).

List pages are keyset pages in (name, id) order: with an equality filter on tier, lifecycle, owner or
team the composite index (<filter>, name, id) serves both the filter and the order; without filters the
(name, id) index does. The cursor also adds ``name >= <last name>`` so a deep page starts its index scan
where the previous one stopped instead of walking from the beginning.

Search (``q``) is a case-insensitive *prefix* match on the name (see ``_prefix_page``): short or caseless
prefixes are read as ranges of the (name, id) index, longer ones through the ``lower(name)`` pattern
index (migration 0003). ``match=contains`` looks for the text anywhere in the name, but only within a
bounded window of ``CONTAINS_WINDOW`` rows per page (in list order); the "more" cursor continues after
the window, so no request scans the whole table.
"""

from typing import Any

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Lower

from keyfit.accounts.models import Account, Contact
from keyfit.accounts.permissions import editable_accounts, editable_contacts, visible_accounts, visible_contacts
from keyfit.core.errors import NotFound
from keyfit.core.models import CustomFieldDefinition
from keyfit.core.pagination import Page, decode_cursor, encode_cursor, keyset_page

ORDER = ("name", "id")
CONTAINS_WINDOW = 5000
ACCOUNT_FILTERS = ("q", "match", "tier", "lifecycle", "industry", "country", "owner", "team", "cursor")
CONTACT_FILTERS = ("q", "match", "account", "buying_role", "seniority", "cursor")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _custom_filters(target: str, filters: dict[str, Any]) -> Q:
    """``cf_<key>=<value>`` for choice, multi-choice and yes/no custom fields (JSON key lookups); a
    multi-choice field matches when its values include ``value``."""
    wanted = {k[3:]: v for k, v in filters.items() if k.startswith("cf_") and v not in (None, "")}
    if not wanted:
        return Q()
    q = Q()
    T = CustomFieldDefinition.Type
    types = (T.CHOICE, T.MULTI_CHOICE, T.BOOLEAN)
    for d in CustomFieldDefinition.objects.filter(target=target, active=True, key__in=wanted, field_type__in=types):
        value = wanted[d.key]
        if d.field_type == T.BOOLEAN:
            q &= Q(**{f"custom_fields__{d.key}": str(value).lower() in {"1", "true", "yes", "on"}})
        elif d.field_type == T.MULTI_CHOICE:
            q &= Q(**{f"custom_fields__{d.key}__has_choice": str(value)})
        else:
            q &= Q(**{f"custom_fields__{d.key}": value})
    return q


def _page(qs, *, cursor: str | None, limit: int | None) -> Page:
    """One keyset page in ORDER; after a cursor it starts with ``name >= <last name>`` (see keyset_page), so
    the scan of the (name, id) or (<filter>, name, id) index starts where the previous page stopped."""
    limit = min(max(int(limit or settings.PAGE_SIZE), 1), settings.API_MAX_LIMIT)
    return keyset_page(qs, order=ORDER, cursor=cursor, limit=limit)


MAX_CHAR = "\U0010ffff"
MAX_PREFIX_VARIANTS = 4


def prefix_variants(q: str) -> list[str]:
    """The case spellings of the start of `q` whose name ranges hold every case-insensitive match.

    ``"he"`` → ``["HE", "He", "hE", "he"]``; ``"杭州"`` → ``["杭州"]`` (caseless text is one range);
    stops before the number of spellings would exceed MAX_PREFIX_VARIANTS.
    """
    variants = [""]
    for ch in q:
        lower, upper = ch.lower(), ch.upper()
        if lower == upper:
            forms = [ch]
        elif len(lower) == 1 and len(upper) == 1:
            forms = [upper, lower]
        else:
            break
        if len(variants) * len(forms) > MAX_PREFIX_VARIANTS:
            break
        variants = [v + f for v in variants for f in forms]
    return sorted(set(variants)) if variants != [""] else []


def _row_key(row) -> tuple[str, int]:
    """(name, id) of a model row or a ``values()`` row."""
    if isinstance(row, dict):
        return row["name"], row["id"]
    return row.name, row.pk


def _prefix_filter(qs, q: str):
    return qs.alias(name_lower=Lower("name")).filter(name_lower__startswith=q.lower())


_CODE_POINT_ORDER: dict[str, bool] = {}


def code_point_order() -> bool:
    """Does the database compare text by code point (SQLite; PostgreSQL with the C / C.UTF-8 collation)?

    The range tricks of the prefix search rely on it; with a linguistic collation they are skipped and the
    search uses only the ``lower(name)`` pattern index. Asked once per process.
    """
    from django.db import connection

    alias = connection.alias
    if alias not in _CODE_POINT_ORDER:
        if connection.vendor == "sqlite":
            _CODE_POINT_ORDER[alias] = True
        elif connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()")
                collate = (cursor.fetchone() or [""])[0]
            _CODE_POINT_ORDER[alias] = collate.upper().replace("-", "") in {"C", "POSIX", "C.UTF8"}
        else:
            _CODE_POINT_ORDER[alias] = False
    return _CODE_POINT_ORDER[alias]


def _prefix_page(qs, q: str, *, cursor: str | None, limit: int | None) -> Page:
    """Case-insensitive prefix search, read in list order.

    Short or caseless text (``"h"``, ``"he"``, ``"杭州"``, ``"3M"``): each case spelling of `q` is a range
    of the (name, id) index, read in order — one small query per spelling (at most MAX_PREFIX_VARIANTS,
    whatever the page size) and a merge of the pages. Such short prefixes match many names, and each
    ordered range scan stops after one page.
    Longer text (``"hangzhou"``): ``lower(name) LIKE 'q%'``, bounded to the names between the all-upper
    and the all-lower spelling, so the planner either reads the few matches through the ``lower(name)``
    pattern index and sorts them, or walks the (name, id) index from the first possible match.
    """
    matches = _prefix_filter(qs, q)
    if not code_point_order():
        return _page(matches, cursor=cursor, limit=limit)
    variants = prefix_variants(q)
    if not variants or any(len(v) != len(q) for v in variants):
        return _page(matches.filter(name__gte=q.upper(), name__lt=q.lower() + MAX_CHAR), cursor=cursor, limit=limit)
    pages = [_page(qs.filter(name__gte=v, name__lt=v + MAX_CHAR), cursor=cursor, limit=limit) for v in variants]
    if len(pages) == 1:
        return pages[0]
    limit_used = pages[0].limit
    rows = sorted((row for page in pages for row in page.items), key=_row_key)
    has_more = len(rows) > limit_used or any(page.has_more for page in pages)
    rows = rows[:limit_used]
    next_cursor = encode_cursor(list(_row_key(rows[-1]))) if has_more and rows else None
    return Page(items=rows, next_cursor=next_cursor, limit=limit_used, has_more=bool(next_cursor))


def _contains_page(base, q: str, *, cursor: str | None, limit: int | None) -> Page:
    """Rows of `base` whose name contains `q`, looking at no more than CONTAINS_WINDOW rows per page."""
    limit = min(max(int(limit or settings.PAGE_SIZE), 1), settings.API_MAX_LIMIT)
    window = base
    if cursor:
        values = decode_cursor(cursor, len(ORDER))
        window = window.filter(Q(name__gt=values[0]) | Q(name=values[0], id__gt=values[1]), name__gte=values[0])
    edge = list(window.order_by(*ORDER).values_list(*ORDER)[CONTAINS_WINDOW - 1 : CONTAINS_WINDOW])
    bounded = window
    if edge:
        last_name, last_id = edge[0]
        bounded = window.filter(Q(name__lt=last_name) | Q(name=last_name, id__lte=last_id))
    rows = list(bounded.filter(name__icontains=q.strip()).order_by(*ORDER)[: limit + 1])
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(items=rows, next_cursor=encode_cursor(list(_row_key(rows[-1]))), limit=limit, has_more=True)
    if edge:  # the window was full: continue after it even if this page is short
        return Page(items=rows, next_cursor=encode_cursor(list(edge[0])), limit=limit, has_more=True)
    return Page(items=rows, next_cursor=None, limit=limit)


def _filtered_accounts(user, filters: dict[str, Any]):
    return _apply_filters(visible_accounts(user), filters)


def _apply_filters(qs, filters: dict[str, Any]):
    for key in ("tier", "lifecycle", "industry"):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    if filters.get("country"):
        qs = qs.filter(country=str(filters["country"]).upper())
    for key in ("owner", "team"):
        if filters.get(key) not in (None, ""):
            qs = qs.filter(**{f"{key}_id": _int_or_none(filters[key])})
    return qs.filter(_custom_filters("account", filters))


LIST_VALUES = (
    "id",
    "name",
    "tier",
    "lifecycle",
    "industry",
    "city",
    "country",
    "owner__full_name",
    "owner__email",
    "team__name",
)


def account_list(
    user,
    filters: dict[str, Any],
    *,
    cursor: str | None = None,
    limit: int | None = None,
    values: tuple[str, ...] | None = None,
) -> Page:
    """One keyset page of the accounts `user` may see, filtered; no COUNT, no OFFSET.

    Items are Account instances, or — with ``values`` (the list page passes LIST_VALUES) — plain dicts of
    just those columns, which are cheaper to load and to render.
    """
    cursor = cursor or filters.get("cursor") or None
    qs = _filtered_accounts(user, filters)
    qs = qs.values(*values) if values else qs.select_related("owner", "team")
    q = str(filters.get("q") or "").strip()
    if q and filters.get("match") == "contains":
        return _contains_page(qs, q, cursor=cursor, limit=limit)
    if q:
        return _prefix_page(qs, q, cursor=cursor, limit=limit)
    if values:
        page = _page_by_scope_parts(user, filters, values, cursor=cursor, limit=limit)
        if page is not None:
            return page
    return _page(qs, cursor=cursor, limit=limit)


def _page_by_scope_parts(user, filters, values, *, cursor: str | None, limit: int | None) -> Page | None:
    """A page of plain rows on PostgreSQL from a statement compiled once per process and prepared once per
    connection (keyfit.core.db.compiled_rows). For a manager (SDR, viewer): the first rows of each disjoint
    part of their scope (each team, then their own accounts elsewhere) read from the part's own
    (team, name, id) or (owner, name, id) index and merged in one statement — the same rows as walking the
    (name, id) index and skipping every other team's accounts, which at a million accounts reads hundreds of
    rows for 50. For everyone else, the one scoped read. None where that does not apply (SQLite, columns
    without the order's, a cursor of another shape)."""
    from django.db import connection

    from keyfit.core.db import compiled_rows, cursor_values, fetch_values, stand_ins_for
    from keyfit.core.pagination import rows_after
    from keyfit.core.permissions import scope_parts, scope_q

    if connection.vendor != "postgresql" or "id" not in values or "name" not in values:
        return None
    after = None
    if cursor:
        after = cursor_values(cursor, len(ORDER))
        if after is None or not isinstance(after[0], str):
            return None  # not a cursor of this list: the ORM path reports it
    # Everyone else's scope (everything, or their own accounts) is one part: one ordered read.
    parts = scope_parts(user) or [scope_q(user)]
    limit = min(max(int(limit or settings.PAGE_SIZE), 1), settings.API_MAX_LIMIT)

    def build(bound, *, tuples=False):
        base = _apply_filters(Account.objects.all(), filters)
        if bound is not None:
            base = base.filter(rows_after(ORDER, bound))
        base = base.values_list(*values) if tuples else base.values(*values)
        branches = [base.filter(part).order_by(*ORDER)[: limit + 1] for part in parts]
        if len(branches) == 1:
            return branches[0]
        return branches[0].union(*branches[1:], all=True).order_by(*ORDER)[: limit + 1]

    rows = None
    plain = {k: v for k, v in filters.items() if k != "cursor" and v not in (None, "")}
    if not any(k.startswith("cf_") for k in plain):  # custom filters compile per their definitions
        stand_ins = stand_ins_for(after) if after is not None else None
        compiled = compiled_rows(
            user,
            ("accounts", tuple(sorted((k, str(v)) for k, v in plain.items())), limit, values, after is not None),
            lambda: build(stand_ins, tuples=True),
            values,
            model=Account,
            values=dict(zip(map(id, stand_ins), after, strict=True)) if stand_ins else None,
        )
        if compiled is not None:
            rows = [row._asdict() for row in compiled]
    if rows is None:
        rows = fetch_values(build(after))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([rows[-1]["name"], rows[-1]["id"]]) if has_more and rows else None
    return Page(items=rows, next_cursor=next_cursor, limit=limit, has_more=has_more)


def access_account(user, pk) -> Account:
    """The account if `user` may see it, else NotFound (404: its existence is not revealed)."""
    pk = _int_or_none(pk)
    account = visible_accounts(user).select_related("owner", "team", "parent").filter(pk=pk).first()
    if account is None:
        raise NotFound()
    return account


def account_get(user, pk) -> Account:
    return access_account(user, pk)


def account_can_edit(user, account: Account) -> bool:
    return editable_accounts(user).filter(pk=account.pk).exists()


def account_contacts(account: Account) -> list[Contact]:
    """Contacts of an account the caller already may see (bounded: accounts have tens of contacts)."""
    return list(account.contacts.select_related("reports_to").order_by("name", "id")[:500])


def org_chart(contacts: list[Contact]) -> list[dict[str, Any]]:
    """The reports-to forest of `contacts`: [{"contact": c, "reports": [...]}, ...] (no extra queries)."""
    by_id = {c.pk: {"contact": c, "reports": []} for c in contacts}
    roots = []
    for c in contacts:
        node = by_id[c.pk]
        parent = by_id.get(c.reports_to_id)
        if parent is not None and c.reports_to_id != c.pk:
            parent["reports"].append(node)
        else:
            roots.append(node)
    return roots


def _filtered_contacts(user, filters: dict[str, Any]):
    qs = visible_contacts(user)
    if filters.get("account") not in (None, ""):
        qs = qs.filter(account_id=_int_or_none(filters["account"]))
    for key in ("buying_role", "seniority"):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    return qs.filter(_custom_filters("contact", filters))


def contact_list(user, filters: dict[str, Any], *, cursor: str | None = None, limit: int | None = None) -> Page:
    cursor = cursor or filters.get("cursor") or None
    qs = _filtered_contacts(user, filters).select_related("account")
    if filters.get("q") and filters.get("match") == "contains":
        return _contains_page(qs, str(filters["q"]), cursor=cursor, limit=limit)
    q = str(filters.get("q") or "").strip()
    if q:
        qs = qs.alias(name_lower=Lower("name")).filter(
            Q(name_lower__startswith=q.lower()) | Q(email__startswith=q.lower())
        )
    return _page(qs, cursor=cursor, limit=limit)


def access_contact(user, pk) -> Contact:
    pk = _int_or_none(pk)
    contact = visible_contacts(user).select_related("account", "reports_to").filter(pk=pk).first()
    if contact is None:
        raise NotFound()
    return contact


def contact_get(user, pk) -> Contact:
    return access_contact(user, pk)


def contact_can_edit(user, contact: Contact) -> bool:
    return editable_contacts(user).filter(pk=contact.pk).exists()


SAVED_VIEWS_TTL = 300  # seconds; a change invalidates at once (keyfit.accounts.signals), this bounds a missed one


def saved_views_key(user_id: int, list_key: str) -> str:
    return f"accounts:saved-views:v1:{user_id}:{list_key}"


def saved_views(user, list_key: str) -> list[dict[str, Any]]:
    """`user`'s saved views of a list (pk, name, query), by name."""
    from keyfit.core.models import SavedView

    rows = SavedView.objects.filter(user=user, list_key=list_key).order_by("name").values("pk", "name", "query")
    return list(rows[:50])


def cached_saved_views(user, list_key: str) -> list[dict[str, Any]]:
    """saved_views through the shared cache: they are read on every list page and change rarely."""
    from django.core.cache import cache

    key = saved_views_key(user.pk, list_key)
    views = cache.get(key)
    if views is None:
        views = saved_views(user, list_key)
        cache.set(key, views, SAVED_VIEWS_TTL)
    return views
