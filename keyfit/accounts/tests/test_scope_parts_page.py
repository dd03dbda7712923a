"""A manager's, SDR's or viewer's account pages merge one ordered read per part of their scope on PostgreSQL:
the rows and cursors must be exactly those of the one scoped scan."""

import pytest
from django.db import connection

from keyfit.accounts import selectors
from keyfit.accounts.tests.factories import AccountFactory
from keyfit.core import db

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the merged read is PostgreSQL's"),
]


def _walk(user, filters, limit, *, merged: bool, monkeypatch):
    if not merged:
        monkeypatch.setattr(selectors, "_page_by_scope_parts", lambda *a, **k: None)
    names, cursor, cursors = [], None, []
    while True:
        page = selectors.account_list(user, {**filters, "cursor": cursor}, limit=limit, values=selectors.LIST_VALUES)
        names += [(row["name"], row["id"]) for row in page.items]
        cursors.append(page.next_cursor)
        if not page.next_cursor:
            return names, cursors
        cursor = page.next_cursor


@pytest.mark.parametrize("who", ["east_manager", "sdr", "viewer", "vp", "admin", "ae"])
@pytest.mark.parametrize("filters", [{}, {"tier": "key"}])
@pytest.mark.parametrize("prepared", [False, True])
def test_merged_pages_equal_the_scoped_scan(org, monkeypatch, who, filters, prepared):
    if prepared:  # persistent connections: the merged statement runs prepared (keyfit.core.db)
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    owners = [org.ae, org.ae2, org.sdr, org.south_ae, org.east_manager]  # five: everyone gets both tiers
    for i in range(60):
        owner = owners[i % len(owners)]
        team = None if i % 11 == 0 else owner.team  # some accounts without a team
        name = ["Acme", "acme", "Bolt", "杭州", "Zed"][i % 5] + (f" {i % 7}" if i % 3 else "")  # ties on name
        AccountFactory(owner=owner, team=team, name=name, tier="key" if i % 2 else "standard")
    user = getattr(org, who)
    calls, compiled = [], []
    original = selectors._page_by_scope_parts
    monkeypatch.setattr(selectors, "_page_by_scope_parts", lambda *a, **k: calls.append(1) or original(*a, **k))
    run_compiled = db.compiled_rows
    monkeypatch.setattr(db, "compiled_rows", lambda *a, **k: compiled.append(run_compiled(*a, **k)) or compiled[-1])
    merged = _walk(user, filters, 5, merged=True, monkeypatch=monkeypatch)
    assert calls  # the merged read ran
    # from its compiled statement, the pages after a cursor too (their stand-ins found and swapped)
    assert len(compiled) == len(calls) and all(rows is not None for rows in compiled)
    scanned = _walk(user, filters, 5, merged=False, monkeypatch=monkeypatch)
    assert merged == scanned
    assert len(merged[0]) == len(set(merged[0])) > 5  # several pages, no row twice


@pytest.mark.parametrize("prepared", [False, True])
def test_manager_api_pages_are_the_same_merged_or_scanned(org, monkeypatch, api_client_for, prepared):
    if prepared:
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    for i in range(25):
        owner = [org.ae, org.south_ae, org.east_manager][i % 3]
        AccountFactory(owner=owner, team=owner.team, name=f"Co {i % 9}", custom_fields={"n": i, "tags": ["a"]})
    client = api_client_for(org.east_manager)

    def walk():
        bodies, url = [], "/api/v1/accounts?limit=4"
        while url:
            body = client.get(url).json()
            bodies.append(body)
            url = f"/api/v1/accounts?limit=4&cursor={body['next_cursor']}" if body["next_cursor"] else None
        return bodies

    merged = walk()
    assert isinstance(merged[0]["items"][0]["custom_fields"], dict)
    monkeypatch.setattr(selectors, "_page_by_scope_parts", lambda *a, **k: None)
    assert walk() == merged
