import json

import pytest

from keyfit.accounts.models import Account, Contact
from keyfit.accounts.tests.factories import AccountFactory, ContactFactory
from keyfit.core.models import AuditEvent, CustomFieldDefinition


def _post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def _patch(client, url, data):
    return client.patch(url, json.dumps(data), content_type="application/json")


@pytest.fixture
def segment(db):
    return CustomFieldDefinition.objects.create(
        target="account",
        key="segment",
        label_en="Segment",
        label_zh_hans="细分市场",
        field_type="choice",
        choices=[{"value": "smb", "label_en": "SMB"}, {"value": "ent", "label_en": "Enterprise"}],
    )


def test_create_get_patch_delete(org, api_client_for, segment):
    client = api_client_for(org.ae)
    response = _post(
        client,
        "/api/v1/accounts",
        {
            "name": "上海数智物流有限公司",
            "website": "https://shuzhi.example.cn",
            "tier": "key",
            "custom_fields": {"segment": "ent"},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["domain"] == "shuzhi.example.cn"
    assert body["owner_id"] == org.ae.pk
    assert body["team_id"] == org.teams["east"].pk
    assert body["custom_fields"] == {"segment": "ent"}
    url = f"/api/v1/accounts/{body['id']}"
    assert client.get(url).json()["name"] == "上海数智物流有限公司"
    response = _patch(client, url, {"version": 1, "lifecycle": "customer"})
    assert response.status_code == 200
    assert response.json()["lifecycle"] == "customer"
    assert response.json()["custom_fields"] == {"segment": "ent"}
    response = _patch(client, url, {"version": 1, "lifecycle": "churned"})
    assert response.status_code == 409
    conflict = response.json()
    assert conflict["code"] == "conflict"
    assert conflict["current"]["lifecycle"] == "customer"
    assert conflict["current"]["version"] == 2
    assert Account.objects.get().lifecycle == "customer"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x" * 300}, "name"),
        ({"name": "A", "custom_fields": {"segment": "galaxy"}}, "custom_fields.segment"),
        ({"name": "A", "currency": "ABC"}, "currency"),
        ({"name": "A", "external_id": "DUP"}, "external_id"),
    ],
)
def test_account_bad_input_is_field_level_and_saves_nothing(org, api_client_for, segment, payload, field):
    AccountFactory(owner=org.ae, external_id="DUP")
    response = _post(api_client_for(org.ae), "/api/v1/accounts", payload)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["fields"]
    assert Account.objects.count() == 1
    assert not AuditEvent.objects.filter(action__in=["create", "update", "delete"]).exists()


def test_contact_bad_email_and_dup_external_id(org, api_client_for):
    account = AccountFactory(owner=org.ae)
    ContactFactory(account=account, external_id="C-1")
    client = api_client_for(org.ae)
    response = _post(client, "/api/v1/contacts", {"account_id": account.pk, "name": "Li", "email": "nope"})
    assert response.status_code == 422
    assert "email" in response.json()["fields"]
    response = _post(client, "/api/v1/contacts", {"account_id": account.pk, "name": "Li", "external_id": "C-1"})
    assert response.status_code == 422
    assert "external_id" in response.json()["fields"]
    assert Contact.objects.count() == 1


def test_contacts_filtered_by_account(org, api_client_for):
    a = AccountFactory(owner=org.ae)
    b = AccountFactory(owner=org.ae)
    ca = ContactFactory(account=a)
    ContactFactory(account=b)
    items = api_client_for(org.ae).get(f"/api/v1/contacts?account={a.pk}").json()["items"]
    assert [c["id"] for c in items] == [ca.pk]


def test_pagination_filters_and_prefix_search(org, api_client_for):
    for i in range(7):
        AccountFactory(owner=org.ae, name=f"Alpha {i}", tier="key" if i % 2 else "standard")
    AccountFactory(owner=org.ae, name="Beta")
    client = api_client_for(org.ae)
    seen, cursor = [], ""
    while True:
        body = client.get(f"/api/v1/accounts?limit=3&cursor={cursor}").json()
        seen += [a["name"] for a in body["items"]]
        if not body["next_cursor"]:
            break
        cursor = body["next_cursor"]
    assert seen == [f"Alpha {i}" for i in range(7)] + ["Beta"]
    names = [a["name"] for a in client.get("/api/v1/accounts?tier=key").json()["items"]]
    assert names == ["Alpha 1", "Alpha 3", "Alpha 5"]
    names = [a["name"] for a in client.get("/api/v1/accounts?q=alp&limit=2").json()["items"]]
    assert names == ["Alpha 0", "Alpha 1"]
    names = [a["name"] for a in client.get("/api/v1/accounts?q=eta").json()["items"]]
    assert names == []
    names = [a["name"] for a in client.get("/api/v1/accounts?q=eta&match=contains").json()["items"]]
    assert names == ["Beta"]
    assert client.get("/api/v1/accounts?cursor=garbage").status_code == 422


def test_custom_choice_filter(org, api_client_for, segment):
    AccountFactory(owner=org.ae, name="E", custom_fields={"segment": "ent"})
    AccountFactory(owner=org.ae, name="S", custom_fields={"segment": "smb"})
    names = [a["name"] for a in api_client_for(org.ae).get("/api/v1/accounts?cf_segment=ent").json()["items"]]
    assert names == ["E"]


@pytest.fixture
def regions(db):
    return CustomFieldDefinition.objects.create(
        target="account",
        key="regions",
        label_en="Regions served",
        label_zh_hans="服务区域",
        field_type="multi_choice",
        choices=[{"value": v, "label_en": v.title()} for v in ("east", "north", "south")],
    )


def test_multi_choice_filter(org, api_client_for, regions):
    AccountFactory(owner=org.ae, name="EN", custom_fields={"regions": ["east", "north"]})
    AccountFactory(owner=org.ae, name="N", custom_fields={"regions": ["north"]})
    AccountFactory(owner=org.ae, name="Old", custom_fields={"regions": "east"})  # stored before it was multi
    AccountFactory(owner=org.ae, name="None", custom_fields={})
    AccountFactory(owner=org.ae, name="Empty", custom_fields={"regions": []})
    AccountFactory(owner=org.ae, name="Other key", custom_fields={"zone": ["east"]})
    client = api_client_for(org.ae)

    def names(query):
        return [a["name"] for a in client.get(f"/api/v1/accounts?{query}").json()["items"]]

    assert names("cf_regions=east") == ["EN", "Old"]
    assert names("cf_regions=north") == ["EN", "N"]
    assert names("cf_regions=south") == []
    assert names("cf_regions=eas") == []  # whole values only, not substrings
    assert len(names("")) == 6


@pytest.mark.parametrize("limit", [10, 100])
def test_list_query_budget(org, api_client_for, django_assert_max_num_queries, limit):
    for i in range(120):
        AccountFactory.build(owner=org.ae, team=org.teams["east"], name=f"N{i:03d}").save()
    client = api_client_for(org.admin)
    with django_assert_max_num_queries(4):
        body = client.get(f"/api/v1/accounts?limit={limit}").json()
    assert len(body["items"]) == limit


def test_openapi_lists_routes(org, api_client_for):
    paths = api_client_for(org.ae).get("/api/v1/openapi.json").json()["paths"]
    for path in [
        "/api/v1/accounts",
        "/api/v1/accounts/{account_id}",
        "/api/v1/contacts",
        "/api/v1/contacts/{contact_id}",
    ]:
        assert path in paths
    assert set(paths["/api/v1/accounts/{account_id}"]) == {"get", "patch", "delete"}


def test_docs_page_uses_local_assets(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


def test_delete_of_a_referenced_account_is_a_conflict(org, api_client_for, monkeypatch):
    from django.db.models import ProtectedError

    account = AccountFactory(owner=org.ae)

    def refuse(self, *args, **kwargs):
        raise ProtectedError("in use", set())

    monkeypatch.setattr(Account, "delete", refuse)
    response = api_client_for(org.ae).delete(f"/api/v1/accounts/{account.pk}")
    assert response.status_code == 409
    assert response.json()["code"] == "in_use"
    assert Account.objects.filter(pk=account.pk).exists()
    assert not AuditEvent.objects.filter(action="delete").exists()


def test_list_sends_exactly_what_the_schema_would(org, api_client_for, segment):
    """The list serialises plain rows without validating them again; the body must be byte for byte the
    one the declared PageOut[AccountOut] produces from the accounts (custom fields, money, owner, team,
    parent, empty and set optional values, timestamps with microseconds), on every page and filter."""
    import datetime
    from decimal import Decimal

    from ninja.responses import NinjaJSONEncoder

    from keyfit.accounts.schemas import AccountOut
    from keyfit.core.api_utils import PageOut

    parent = AccountFactory(owner=org.kam, name="Group 集团", external_id="EXT-1", employees=12000)
    AccountFactory(
        owner=org.ae,
        team=org.teams["east"],
        parent=parent,
        name="Alpha “引号” <b>",
        legal_name="Alpha Ltd",
        annual_revenue=Decimal("1234567.80"),
        currency="USD",
        country="US",
        city="Austin",
        tier="key",
        lifecycle="customer",
        custom_fields={"segment": "ent", "budget": "2500.00", "vip": True, "tags": ["a", "b"], "n": 3},
    )
    AccountFactory(owner=org.south_ae, team=None, name="Beta", annual_revenue=Decimal("0.00"), employees=0)
    Account.objects.filter(name="Beta").update(created_at=datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, datetime.UTC))
    client = api_client_for(org.admin)

    def expected(query, **filters):
        accounts = list(Account.objects.filter(**filters).order_by("name", "id")[: query.get("limit", 50)])
        page = {"items": accounts, "next_cursor": None}
        return json.dumps(PageOut[AccountOut].model_validate(page).model_dump(), cls=NinjaJSONEncoder).encode()

    response = client.get("/api/v1/accounts")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.content == expected({})
    assert len(response.json()["items"]) == 3
    item = response.json()["items"][0]
    assert item["name"] == "Alpha “引号” <b>"
    assert item["annual_revenue"] == "1234567.80"
    assert item["parent_id"] == parent.pk
    assert item["custom_fields"] == {"segment": "ent", "budget": "2500.00", "vip": True, "tags": ["a", "b"], "n": 3}
    assert response.json()["items"][1]["created_at"] == "2026-01-02T03:04:05.678Z"
    assert client.get("/api/v1/accounts?tier=key").content == expected({}, tier="key")
    assert client.get("/api/v1/accounts?cf_segment=ent").content == expected({}, custom_fields__segment="ent")

    first = client.get("/api/v1/accounts?limit=2").json()
    assert [a["name"] for a in first["items"]] == ["Alpha “引号” <b>", "Beta"]
    rest = client.get(f"/api/v1/accounts?limit=2&cursor={first['next_cursor']}")
    assert rest.content == expected({}, name="Group 集团")
