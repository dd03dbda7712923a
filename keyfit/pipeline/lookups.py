"""The small tables the pipeline pages read on every request — stages, teams, lost reasons as plain rows
for the board, the list and the API, and the detail page's reference data (keyfit.pipeline.reference) —
kept in each process, checked against a version token in the shared cache.

They change rarely and are the same for everyone. A process reads them once and keeps them with the token
that was current; a request then reads only the token (one small cache read, no query) and reloads the
rows when it changed (once per request: the rows checked are kept for the rest of the request). Saving or deleting a stage, team, lost reason, discovery question, the
pipeline settings or a custom-field definition sets a new token (signals below,
again after the commit, so that a process that reloaded meanwhile cannot keep the old rows), and the
token expires after LOOKUPS_TTL seconds in any case (a bound for a missed signal, e.g. a queryset
.update() or a rolled-back transaction).
"""

import uuid
from dataclasses import dataclass

from asgiref.local import Local
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from keyfit.core.models import localized

LOOKUPS_VERSION_KEY = "pipeline:lookups:version"
LOOKUPS_TTL = 300  # seconds
_memo: tuple[str, dict] | None = None  # (token, rows) of this process
_request = Local()  # .rows: the rows this request checked; _UNCHECKED before; absent/None outside requests
_UNCHECKED = object()


@dataclass(frozen=True, slots=True)
class StageRow:
    """A stage as the pages show it (the same attributes as the model for reading)."""

    id: int
    code: str
    name_en: str
    name_zh_hans: str
    position: int
    active: bool
    kind: str
    default_probability: int
    forecast_category: str

    @property
    def pk(self) -> int:
        return self.id

    @property
    def name(self) -> str:
        return localized(self, "name")


STAGE_FIELDS = tuple(StageRow.__dataclass_fields__)


def _load() -> dict:
    from keyfit.pipeline.models import LostReason, Stage
    from keyfit.users.models import Team

    stages = [StageRow(*row) for row in Stage.objects.order_by("position", "id").values_list(*STAGE_FIELDS)]
    return {
        "stages": stages,
        "stage_by_id": {s.id: s for s in stages},
        "stage_by_code": {s.code: s for s in stages},
        "teams": list(Team.objects.order_by("name").values_list("id", "name")),
        "lost_reasons": dict(LostReason.objects.values_list("id", "code")),
    }


def lookups() -> dict:
    """{"stages": [StageRow, …] in funnel order (all, active or not), "stage_by_id", "stage_by_code",
    "teams": [(id, name), …] by name, "lost_reasons": {id: code}} (and, once the detail page asked for it,
    "reference": keyfit.pipeline.reference.Lookups, kept under the same token) — shared by every request: read only."""
    global _memo
    checked = getattr(_request, "rows", None)
    if checked is not None and checked is not _UNCHECKED:
        return checked
    token = cache.get(LOOKUPS_VERSION_KEY)
    memo = _memo
    if token is not None and memo is not None and memo[0] == token:
        data = memo[1]
        if checked is _UNCHECKED:  # in a request: keep them for the rest of it
            _request.rows = data
        return data
    data = _load()
    if token is None:
        token = uuid.uuid4().hex
        # If another process set a token meanwhile (perhaps after a change these rows may not show), ours
        # does not match it and the next request loads again.
        cache.add(LOOKUPS_VERSION_KEY, token, LOOKUPS_TTL)
    _memo = (token, data)
    if checked is _UNCHECKED:
        _request.rows = data
    return data


def stages() -> list[StageRow]:
    return lookups()["stages"]


def stage_by_id() -> dict[int, StageRow]:
    return lookups()["stage_by_id"]


def stage_by_code(code: str) -> StageRow | None:
    return lookups()["stage_by_code"].get(code)


def _request_started(**kwargs) -> None:
    _request.rows = _UNCHECKED


def _request_finished(**kwargs) -> None:
    _request.rows = None


def forget_lookups(**kwargs) -> None:
    """A new token: every process reloads the rows on its next request (this one at once)."""
    global _memo
    _memo = None
    if getattr(_request, "rows", None) is not None:
        _request.rows = _UNCHECKED
    cache.set(LOOKUPS_VERSION_KEY, uuid.uuid4().hex, LOOKUPS_TTL)
    transaction.on_commit(lambda: cache.set(LOOKUPS_VERSION_KEY, uuid.uuid4().hex, LOOKUPS_TTL), robust=True)


def connect() -> None:
    from keyfit.core.models import CustomFieldDefinition
    from keyfit.pipeline.models import LostReason, PipelineSettings, Question, Stage
    from keyfit.users.models import Team

    request_started.connect(_request_started, dispatch_uid="pipeline-lookups-request-started")
    request_finished.connect(_request_finished, dispatch_uid="pipeline-lookups-request-finished")
    for model in (Stage, Team, LostReason, Question, PipelineSettings, CustomFieldDefinition):
        uid = f"pipeline-lookups-{model.__name__}"
        post_save.connect(forget_lookups, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(forget_lookups, sender=model, dispatch_uid=f"{uid}-delete")
