"""Every role × account/contact × read/update/delete, in the UI and the API; nothing written on denial."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from keyfit.accounts.models import Account, Contact
from keyfit.accounts.tests.factories import AccountFactory, ContactFactory
from keyfit.core.models import AuditEvent
from keyfit.core.roles import Role
from keyfit.users.tests.factories import UserFactory

# role → (read status, write allowed); the record is owned by `ae` in the east team.
MATRIX = {
    "admin": (200, True),
    "vp": (200, True),
    "east_manager": (200, True),
    "south_manager": (404, False),
    "sdr": (200, False),
    "ae": (200, True),
    "ae2": (404, False),
    "south_ae": (404, False),
    "kam": (404, False),
    "viewer": (200, False),
    "viewer_not_granted": (404, False),
}


def _user(org, role):
    if role == "viewer_not_granted":
        return UserFactory(role=Role.VIEWER, email="lonely.viewer@example.com")
    return org.users[role]


@pytest.fixture
def records(org):
    account = AccountFactory(owner=org.ae, name="Scoped Ltd")
    contact = ContactFactory(account=account, name="Scoped Person")
    return account, contact


def _denied_status(read_status):
    return 404 if read_status == 404 else 403


def _ui_client(user):
    client = Client()
    client.force_login(user)
    return client


def _assert_unchanged(account, contact):
    account.refresh_from_db()
    contact.refresh_from_db()
    assert (account.name, account.version) == ("Scoped Ltd", 1)
    assert (contact.name, contact.version) == ("Scoped Person", 1)
    assert AuditEvent.objects.count() == 0


@pytest.mark.parametrize("role", MATRIX)
def test_ui_account_read_update_delete(org, records, role):
    account, contact = records
    read_status, may_write = MATRIX[role]
    client = _ui_client(_user(org, role))
    assert client.get(reverse("accounts:account_detail", args=[account.pk])).status_code == read_status
    url = reverse("accounts:account_edit", args=[account.pk])
    response = client.post(
        url, {"name": "Renamed", "version": 1, "tier": "key", "lifecycle": "prospect", "currency": "CNY"}
    )
    if may_write:
        assert response.status_code == 302, response.content.decode()[:2000]
        account.refresh_from_db()
        assert account.name == "Renamed"
        response = client.post(reverse("accounts:account_delete", args=[account.pk]))
        assert response.status_code == 302
        assert not Account.objects.filter(pk=account.pk).exists()
    else:
        assert response.status_code == _denied_status(read_status)
        response = client.post(reverse("accounts:account_delete", args=[account.pk]))
        assert response.status_code == _denied_status(read_status)
        _assert_unchanged(account, contact)


@pytest.mark.parametrize("role", MATRIX)
def test_ui_contact_read_update_delete(org, records, role):
    account, contact = records
    read_status, may_write = MATRIX[role]
    client = _ui_client(_user(org, role))
    assert client.get(reverse("accounts:contact_detail", args=[contact.pk])).status_code == read_status
    response = client.post(
        reverse("accounts:contact_edit", args=[contact.pk]), {"name": "Renamed", "version": 1, "language": "en"}
    )
    if may_write:
        assert response.status_code == 302, response.content.decode()[:2000]
        contact.refresh_from_db()
        assert contact.name == "Renamed"
        assert client.post(reverse("accounts:contact_delete", args=[contact.pk])).status_code == 302
        assert not Contact.objects.filter(pk=contact.pk).exists()
    else:
        assert response.status_code == _denied_status(read_status)
        assert client.post(reverse("accounts:contact_delete", args=[contact.pk])).status_code == _denied_status(
            read_status
        )
        response = client.post(reverse("accounts:contact_create", args=[account.pk]), {"name": "New", "language": "en"})
        assert response.status_code == _denied_status(read_status)
        _assert_unchanged(account, contact)


@pytest.mark.parametrize("role", MATRIX)
def test_api_account_read_update_delete(org, records, role, api_client_for):
    account, contact = records
    read_status, may_write = MATRIX[role]
    client = api_client_for(_user(org, role))
    url = f"/api/v1/accounts/{account.pk}"
    assert client.get(url).status_code == read_status
    response = client.patch(url, json.dumps({"version": 1, "name": "Renamed"}), content_type="application/json")
    if may_write:
        assert response.status_code == 200, response.content
        assert response.json()["version"] == 2
        assert client.delete(url).status_code == 204
        assert not Account.objects.filter(pk=account.pk).exists()
    else:
        assert response.status_code == _denied_status(read_status)
        assert response.json()["code"] in ("not_found", "permission_denied")
        assert client.delete(url).status_code == _denied_status(read_status)
        _assert_unchanged_api(account, contact)


@pytest.mark.parametrize("role", MATRIX)
def test_api_contact_read_update_delete(org, records, role, api_client_for):
    account, contact = records
    read_status, may_write = MATRIX[role]
    client = api_client_for(_user(org, role))
    url = f"/api/v1/contacts/{contact.pk}"
    assert client.get(url).status_code == read_status
    response = client.patch(url, json.dumps({"version": 1, "name": "Renamed"}), content_type="application/json")
    if may_write:
        assert response.status_code == 200, response.content
        assert client.delete(url).status_code == 204
        assert not Contact.objects.filter(pk=contact.pk).exists()
    else:
        assert response.status_code == _denied_status(read_status)
        assert client.delete(url).status_code == _denied_status(read_status)
        response = client.post(
            "/api/v1/contacts", json.dumps({"account_id": account.pk, "name": "New"}), content_type="application/json"
        )
        assert response.status_code == _denied_status(read_status)
        _assert_unchanged_api(account, contact)


def _assert_unchanged_api(account, contact):
    account.refresh_from_db()
    contact.refresh_from_db()
    assert (account.name, account.version) == ("Scoped Ltd", 1)
    assert (contact.name, contact.version) == ("Scoped Person", 1)
    assert not AuditEvent.objects.filter(action__in=["create", "update", "delete"]).exists()


@pytest.mark.parametrize("role", MATRIX)
def test_list_shows_exactly_the_scope(org, records, role, api_client_for):
    account, _contact = records
    read_status, _ = MATRIX[role]
    user = _user(org, role)
    items = api_client_for(user).get("/api/v1/accounts").json()["items"]
    assert [a["id"] for a in items] == ([account.pk] if read_status == 200 else [])
    page = _ui_client(user).get(reverse("accounts:account_list"))
    assert page.status_code == 200
    assert ("Scoped Ltd" in page.content.decode()) == (read_status == 200)


@pytest.mark.parametrize(
    ("role", "owner", "status"),
    [
        ("viewer", None, 403),
        ("ae", "south_ae", 403),
        ("sdr", "ae", 403),
        ("south_manager", "ae", 403),
        ("east_manager", "ae", 201),
        ("ae", None, 201),
        ("admin", "south_ae", 201),
    ],
)
def test_api_create_respects_who_may_hold_the_record(org, api_client_for, role, owner, status):
    payload = {"name": "New Co"}
    if owner:
        payload["owner_id"] = org.users[owner].pk
    response = api_client_for(org.users[role]).post(
        "/api/v1/accounts", json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == status, response.content
    assert Account.objects.filter(name="New Co").exists() == (status == 201)
    if status == 201:
        expected_owner = org.users[owner] if owner else org.users[role]
        assert response.json()["owner_id"] == expected_owner.pk
        assert response.json()["team_id"] == expected_owner.team_id


def test_ui_viewer_cannot_open_the_create_form(org):
    assert _ui_client(org.viewer).get(reverse("accounts:account_create")).status_code == 403
    assert _ui_client(org.viewer).post(reverse("accounts:account_create"), {"name": "X"}).status_code == 403
    assert not Account.objects.exists()
