"""keyset pages of values() querysets run prepared on PostgreSQL: the same rows as iterating the queryset."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F

from keyfit.accounts.models import Account
from keyfit.accounts.tests.factories import AccountFactory
from keyfit.core import db
from keyfit.core.pagination import keyset_page

pytestmark = pytest.mark.django_db


def _accounts(org):
    for i, name in enumerate(["Ärger GmbH", "alpha", "Alpha", "杭州云启", "Zeta", "beta", "Beta"]):
        AccountFactory(
            owner=org.ae if i % 2 else org.south_ae,
            name=name,
            annual_revenue=Decimal("1234.50") * i if i % 3 else None,
            custom_fields={"segment": "ent", "n": i},
        )


@pytest.mark.parametrize("persistent", [False, True])
def test_fetch_values_gives_what_the_queryset_gives(org, monkeypatch, persistent):
    _accounts(org)
    if persistent:  # tests open a connection per request; prepared statements need persistent ones
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    assert db.prepared_statements_enabled() is (persistent and connection.vendor == "postgresql")
    qs = Account.objects.values("id", "name", "annual_revenue", "custom_fields", "owner__email", "created_at")
    qs = qs.annotate(team_name=F("team__name")).order_by("name", "id")
    assert db.fetch_values(qs) == list(qs)
    assert db.fetch_values(qs.filter(name="nobody")) == []
    assert db.fetch_values(qs.filter(pk__in=[])) == []
    instances = Account.objects.order_by("id")
    assert [a.pk for a in db.fetch_values(instances)] == [a.pk for a in instances]
    row = db.fetch_values(qs.filter(name="Zeta"))[0]
    assert isinstance(row["custom_fields"], dict) and isinstance(row["created_at"], datetime.datetime)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_keyset_pages_of_values_run_prepared(org, monkeypatch):
    _accounts(org)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    prepared = []
    original = db.prepared_cursor
    monkeypatch.setattr(db, "prepared_cursor", lambda: prepared.append(1) or original())
    qs = Account.objects.values("id", "name")
    seen, cursor = [], None
    while True:
        page = keyset_page(qs, order=("name", "id"), cursor=cursor, limit=3)
        seen += [row["name"] for row in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == list(Account.objects.order_by("name", "id").values_list("name", flat=True))
    assert len(prepared) == 3  # three pages, each through the prepared cursor
