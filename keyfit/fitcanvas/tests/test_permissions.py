"""Scoping over roles: waves follow their account; out of scope → 404, viewer read-only → 403."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from keyfit.core.models import AuditEvent
from keyfit.fitcanvas.models import Rater, Wave
from keyfit.fitcanvas.tests.factories import AccountFactory, ContactFactory, open_wave

pytestmark = pytest.mark.django_db


@pytest.fixture
def wave(org):
    account = AccountFactory(owner=org.kam, team=org.teams["east"])
    return open_wave(kam=org.kam, account=account, suppliers=[org.kam], contacts=[ContactFactory(account=account)])


def state(wave):
    wave.refresh_from_db()
    return (wave.version, wave.status, Rater.objects.filter(wave=wave).count(), AuditEvent.objects.count())


READERS = ["admin", "vp", "east_manager", "kam", "viewer"]
OUTSIDERS = ["south_manager", "south_ae", "south_sdr", "ae"]


@pytest.mark.parametrize("role", READERS + OUTSIDERS)
def test_read_scope(org, wave, api_client_for, role):
    client = api_client_for(getattr(org, role))
    expected = 200 if role in READERS else 404
    assert client.get(f"/api/v1/fit/waves/{wave.pk}").status_code == expected
    assert client.get(f"/api/v1/fit/waves/{wave.pk}/results").status_code == expected
    listed = [w["id"] for w in client.get("/api/v1/fit/waves").json()["items"]]
    assert (wave.pk in listed) == (role in READERS)
    web = Client()
    web.force_login(getattr(org, role))
    assert web.get(f"/fit/waves/{wave.pk}/").status_code == expected
    assert web.get(f"/fit/waves/{wave.pk}/export.xlsx").status_code == expected


@pytest.mark.parametrize("role", [*OUTSIDERS, "viewer"])
def test_writes_refused_and_nothing_written(org, wave, api_client_for, role):
    client = api_client_for(getattr(org, role))
    expected = 403 if role == "viewer" else 404
    before = state(wave)
    contact = ContactFactory(account=wave.account)
    after_contact = state(wave)
    calls = [
        client.patch(
            f"/api/v1/fit/waves/{wave.pk}", {"version": wave.version, "name": "x"}, content_type="application/json"
        ),
        client.post(f"/api/v1/fit/waves/{wave.pk}/raters", {"contact_id": contact.pk}, content_type="application/json"),
        client.post(f"/api/v1/fit/waves/{wave.pk}/invite", content_type="application/json"),
        client.post(f"/api/v1/fit/waves/{wave.pk}/remind"),
        client.post(f"/api/v1/fit/waves/{wave.pk}/close"),
        client.put(f"/api/v1/fit/waves/{wave.pk}/share", {"items": ["overall"]}, content_type="application/json"),
        client.delete(f"/api/v1/fit/waves/{wave.pk}"),
    ]
    assert [c.status_code for c in calls] == [expected] * len(calls)
    web = Client()
    web.force_login(getattr(org, role))
    assert web.post(f"/fit/waves/{wave.pk}/close/").status_code == (403 if role == "viewer" else 404)
    assert state(wave) == after_contact
    assert before[:3] == after_contact[:3]


def test_create_wave_needs_an_editable_account(org, api_client_for):
    account = AccountFactory(owner=org.kam, team=org.teams["east"])
    due = str(timezone.localdate() + datetime.timedelta(days=7))
    body = {"account_id": account.pk, "name": "Q", "due_date": due}
    assert (
        api_client_for(org.south_ae).post("/api/v1/fit/waves", body, content_type="application/json").status_code == 404
    )
    assert (
        api_client_for(org.viewer).post("/api/v1/fit/waves", body, content_type="application/json").status_code == 403
    )
    assert not Wave.objects.exists()
    assert (
        api_client_for(org.east_manager).post("/api/v1/fit/waves", body, content_type="application/json").status_code
        == 201
    )


def test_manager_of_the_team_may_close(org, wave, api_client_for):
    assert api_client_for(org.east_manager).post(f"/api/v1/fit/waves/{wave.pk}/close").status_code == 200
    wave.refresh_from_db()
    assert wave.status == "closed" and wave.results is not None


def test_api_requires_authentication(wave):
    assert Client().get("/api/v1/fit/waves").status_code == 401
    assert Client().get(f"/api/v1/fit/waves/{wave.pk}/results").status_code == 401
