"""Record scoping: the one mechanism every page and API read goes through.

Policy (DESIGN §1), for records that carry an owner and a team:

| role | reads | writes |
|---|---|---|
| admin | everything | everything |
| manager | own records and every record of the teams they manage, with their sub-teams | the same |
| SDR | own records and their team's | own records |
| account executive, key account manager | own records | own records |
| viewer | records of the teams granted to them (with sub-teams) | nothing |

Apps build ``visible_<entities>(user)`` and ``editable_<entities>(user)`` from ``scope_q``. Records
outside the read scope are answered with 404; a visible record the user may not change with 403.
"""

from collections.abc import Iterable

from django.db.models import Model, Q

from keyfit.core.kept import KeptByToken
from keyfit.core.roles import Role

_CACHE_ATTR = "_keyfit_scope_cache"

# The team tree is read for every manager's and viewer's request and changes rarely: each process keeps its
# rows under a version token (keyfit.core.kept). Saving or deleting a team, or deleting a user (a team's
# manager is set to NULL in SQL, past the team's signals), sets a new token.
TEAMS_VERSION_KEY = "core:teams:version"
TEAMS_TTL = 300  # seconds
_teams = KeptByToken(TEAMS_VERSION_KEY, TEAMS_TTL)  # [(id, parent id, manager id)]


def _load_team_rows() -> list[tuple[int, int | None, int | None]]:
    from keyfit.users.models import Team

    return list(Team.objects.order_by().values_list("id", "parent_id", "manager_id"))


def _team_rows() -> list[tuple[int, int | None, int | None]]:
    """(id, parent id, manager id) of every team: teams are few, and one read serves the tree and the
    managers — kept in this process under the teams' version token (see TEAMS_VERSION_KEY). Read only."""
    token, rows = _teams.get()
    if rows is None:
        rows = _load_team_rows()
        _teams.keep(token, rows)
    return rows


def forget_teams(**kwargs) -> None:
    """A new teams token: every process reads the team rows again on its next request."""
    _teams.forget()


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from keyfit.users.models import Team, User

    post_save.connect(forget_teams, sender=Team, dispatch_uid="core-teams-save")
    post_delete.connect(forget_teams, sender=Team, dispatch_uid="core-teams-delete")
    post_delete.connect(forget_teams, sender=User, dispatch_uid="core-teams-user-delete")


def _team_tree(rows: list[tuple[int, int | None, int | None]] | None = None) -> dict[int | None, list[int]]:
    children: dict[int | None, list[int]] = {}
    for team_id, parent_id, _manager_id in _team_rows() if rows is None else rows:
        children.setdefault(parent_id, []).append(team_id)
    return children


def team_subtree_ids(root_ids: Iterable[int], tree: dict[int | None, list[int]] | None = None) -> set[int]:
    tree = tree if tree is not None else _team_tree()
    seen: set[int] = set()
    stack = list(root_ids)
    while stack:
        team_id = stack.pop()
        if team_id in seen:
            continue
        seen.add(team_id)
        stack.extend(tree.get(team_id, []))
    return seen


def _scope(user) -> dict:
    """Per-request cache of the user's team ids for reading and writing."""
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    from keyfit.users.models import ViewerGrant

    read_teams: set[int] = set()
    write_teams: set[int] = set()
    if user.role == Role.MANAGER:
        teams = _team_rows()
        managed = [team_id for team_id, _parent_id, manager_id in teams if manager_id == user.pk]
        if user.team_id:
            managed.append(user.team_id)
        read_teams = write_teams = team_subtree_ids(managed, _team_tree(teams))
    elif user.role == Role.SDR and user.team_id:
        read_teams = {user.team_id}
    elif user.role == Role.VIEWER:
        granted = ViewerGrant.objects.filter(user=user).values_list("team_id", flat=True)
        read_teams = team_subtree_ids(granted)
    cached = {"read": read_teams, "write": write_teams}
    setattr(user, _CACHE_ATTR, cached)
    return cached


def is_admin(user) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.role == Role.ADMIN or user.is_superuser))


def scope_q(user, *, prefix: str = "", owner_field: str = "owner", team_field: str = "team", write: bool = False) -> Q:
    """A Q object selecting the records `user` may read (or write, with ``write=True``).

    ``prefix`` reaches the owner/team through a relation, e.g. ``"account__"`` for contacts.
    """
    if not (user and user.is_authenticated and user.is_active):
        return Q(pk__in=[])
    if is_admin(user):
        return Q()
    if write and user.role == Role.VIEWER:
        return Q(pk__in=[])
    teams = _scope(user)["write" if write else "read"]
    q = Q(pk__in=[]) if user.role == Role.VIEWER else Q(**{f"{prefix}{owner_field}": user})
    if teams:
        q |= Q(**{f"{prefix}{team_field}__in": sorted(teams)})
    return q


def scope_key(q):
    """A hashable key equal for equal scope conditions (model instances by primary key), or None."""
    if isinstance(q, Q):
        parts = [scope_key(child) for child in q.children]
        if any(part is None for part in parts):
            return None
        return (q.connector, q.negated, tuple(parts))
    name, value = q
    if isinstance(value, Model):
        value = (value._meta.label, value.pk)
    elif isinstance(value, (list, tuple, set, frozenset)):
        if not all(isinstance(v, (int, str)) for v in value):
            return None
        value = tuple(sorted(value))
    elif not isinstance(value, (int, str, bool, type(None))):
        return None
    return (name, value)


SCOPE_PARTS_MAX = 8  # teams; beyond, a statement per team costs more than filtering one ordered scan


def scope_parts(user, *, owner_field: str = "owner", team_field: str = "team") -> list[Q] | None:
    """The read scope of a user who sees their own records and some teams' (a manager, an SDR, a viewer) as
    disjoint conditions — one per team (`team = t`), then their own records outside those teams — whose
    union is exactly scope_q(user). A page that needs the newest N records can then read N per part from
    the (team, …) and (owner, …) indexes and merge them, instead of walking one index past every other
    team's records. None when the scope is not of that form (everything, only their own records, none) or
    spans more than SCOPE_PARTS_MAX teams."""
    if not (user and user.is_authenticated and user.is_active) or is_admin(user):
        return None
    teams = sorted(_scope(user)["read"])
    if not teams or len(teams) > SCOPE_PARTS_MAX:
        return None
    parts = [Q(**{f"{team_field}_id": team_id}) for team_id in teams]
    if user.role != Role.VIEWER:
        parts.append(Q(**{owner_field: user}) & ~Q(**{f"{team_field}_id__in": teams}))
    return parts


def can_write(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role != Role.VIEWER)


def forget_scope(user) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)
