"""The team tree behind managers' and viewers' scopes is kept per process under a version token."""

import pytest
from django.core.cache import cache

from keyfit.core import permissions
from keyfit.core.permissions import TEAMS_VERSION_KEY, forget_scope
from keyfit.users.models import Team

pytestmark = pytest.mark.django_db


def _teams(user):
    forget_scope(user)  # a new request: the scope is computed again
    return permissions._scope(user)["read"]


def test_manager_scope_reads_the_teams_once(org, django_assert_num_queries):
    hq, east, south = (org.teams[k].pk for k in ("hq", "east", "south"))
    assert _teams(org.vp) == {hq, east, south}
    with django_assert_num_queries(0):  # kept: no query for the next requests, for any manager
        assert _teams(org.vp) == {hq, east, south}
        assert _teams(org.east_manager) == {east}
        assert _teams(org.south_manager) == {south}


def test_a_team_change_is_seen_at_once(org, django_assert_num_queries):
    east, south = org.teams["east"], org.teams["south"]
    assert _teams(org.east_manager) == {east.pk}
    south.manager = org.east_manager
    south.save()
    assert _teams(org.east_manager) == {east.pk, south.pk}
    assert _teams(org.south_manager) == {south.pk}  # their own team still
    child = Team.objects.create(name="East North", parent=east)
    assert _teams(org.east_manager) == {east.pk, south.pk, child.pk}
    child.delete()
    assert _teams(org.east_manager) == {east.pk, south.pk}


def test_a_change_made_by_another_process_is_seen(org, django_assert_num_queries):
    east, south = org.teams["east"], org.teams["south"]
    assert _teams(org.east_manager) == {east.pk}
    Team.objects.filter(pk=south.pk).update(manager=org.east_manager)  # no signal in this process
    assert _teams(org.east_manager) == {east.pk}  # kept until the token changes
    cache.set(TEAMS_VERSION_KEY, "set-by-another-process")
    with django_assert_num_queries(1):
        assert _teams(org.east_manager) == {east.pk, south.pk}


def test_deleting_a_manager_forgets_the_teams(org):
    from keyfit.core.roles import Role
    from keyfit.users.tests.factories import UserFactory

    east = org.teams["east"]
    boss = UserFactory(role=Role.MANAGER, email="boss@example.com")
    east.manager = boss
    east.save()
    assert _teams(boss) == {east.pk}
    token = cache.get(TEAMS_VERSION_KEY)
    boss.delete()  # the team's manager is cleared in SQL, past the team's signals
    assert cache.get(TEAMS_VERSION_KEY) != token
    assert Team.objects.get(pk=east.pk).manager_id is None
    assert permissions._team_rows() == permissions._load_team_rows()


def test_viewer_scope_uses_the_kept_tree(org, django_assert_num_queries):
    east = org.teams["east"].pk
    assert _teams(org.viewer) == {east}
    with django_assert_num_queries(1):  # their grants only
        assert _teams(org.viewer) == {east}
