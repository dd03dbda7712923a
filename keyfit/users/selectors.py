from keyfit.core.permissions import is_admin, scope_q
from keyfit.users.models import Team, User

__all__ = ["Team", "team_tree", "user_list", "visible_users"]


def visible_users(user):
    """Colleagues a user can pick as owners: admins see all; others their scope's teams and themselves."""
    if is_admin(user):
        return User.objects.filter(is_active=True)
    return User.objects.filter(is_active=True).filter(scope_q(user, owner_field="pk", team_field="team") | _self(user))


def _self(user):
    from django.db.models import Q

    return Q(pk=user.pk)


def user_list(user):
    return visible_users(user).select_related("team").order_by("team__name", "full_name")


def team_tree() -> list[tuple[int, Team]]:
    """Teams in tree order with their depth."""
    teams = list(Team.objects.select_related("manager", "parent").order_by("name"))
    children: dict[int | None, list[Team]] = {}
    for team in teams:
        children.setdefault(team.parent_id, []).append(team)
    out: list[tuple[int, Team]] = []

    def walk(parent_id, depth):
        for team in children.get(parent_id, []):
            out.append((depth, team))
            walk(team.id, depth + 1)

    walk(None, 0)
    return out
