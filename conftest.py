"""Shared test fixtures: an organisation with every role, API clients, catalogues compiled."""

import pytest
from hypothesis import settings as hypothesis_settings

# Property tests check values, not speed: no per-example deadline (the machine may be busy).
hypothesis_settings.register_profile("keyfit", deadline=None)
hypothesis_settings.load_profile("keyfit")


def pytest_configure(config):
    import django
    from django.conf import settings

    if not settings.configured:
        django.setup()
    from keyfit.core.management.commands.compile_translations import compile_all

    compile_all()


@pytest.fixture
def org(db):
    """Two sibling sales teams under a parent, with a user of every role.

    hq ─┬─ east (manager east_manager; sdr, ae, kam, ae2)
        └─ south (manager south_manager; south_ae, south_sdr)
    plus an admin, the VP managing hq, and a viewer granted the east team.
    """
    from keyfit.core.roles import Role
    from keyfit.users.models import Team, ViewerGrant
    from keyfit.users.tests.factories import UserFactory

    hq = Team.objects.create(name="HQ")
    east = Team.objects.create(name="East", parent=hq)
    south = Team.objects.create(name="South", parent=hq)
    users = {
        "admin": UserFactory(role=Role.ADMIN, email="admin@example.com"),
        "vp": UserFactory(role=Role.MANAGER, team=hq, email="vp@example.com"),
        "east_manager": UserFactory(role=Role.MANAGER, team=east, email="east.manager@example.com"),
        "sdr": UserFactory(role=Role.SDR, team=east, email="sdr@example.com"),
        "ae": UserFactory(role=Role.ACCOUNT_EXECUTIVE, team=east, email="ae@example.com"),
        "ae2": UserFactory(role=Role.ACCOUNT_EXECUTIVE, team=east, email="ae2@example.com"),
        "kam": UserFactory(role=Role.KEY_ACCOUNT_MANAGER, team=east, email="kam@example.com"),
        "south_manager": UserFactory(role=Role.MANAGER, team=south, email="south.manager@example.com"),
        "south_ae": UserFactory(role=Role.ACCOUNT_EXECUTIVE, team=south, email="south.ae@example.com"),
        "south_sdr": UserFactory(role=Role.SDR, team=south, email="south.sdr@example.com"),
        "viewer": UserFactory(role=Role.VIEWER, email="viewer@example.com"),
    }
    hq.manager = users["vp"]
    hq.save()
    east.manager = users["east_manager"]
    east.save()
    south.manager = users["south_manager"]
    south.save()
    ViewerGrant.objects.create(user=users["viewer"], team=east)

    class Org:
        pass

    o = Org()
    o.teams = {"hq": hq, "east": east, "south": south}
    o.users = users
    for key, user in users.items():
        setattr(o, key, user)
    return o


@pytest.fixture
def api_client_for(db):
    """api_client_for(user) → a Django test client that sends the user's bearer token."""
    from django.test import Client

    from keyfit.users.services import api_token_create

    def make(user):
        _, raw = api_token_create(user=user, name="tests")
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    return make


@pytest.fixture(autouse=True)
def _forget_cached_lookups():
    """Pages keep small reference tables (stages, teams, pickers) in the cache, invalidated by signals when
    they change; a test's rolled-back transaction sends none, so every test starts from an empty cache."""
    from django.core.cache import cache

    cache.clear()
    # the routing configuration each process keeps: a rolled-back test can leave team ids and versions
    # that the next test's teams have again (SQLite reuses the ids of rolled-back rows)
    from keyfit.leads import routing_config

    routing_config.forget()
