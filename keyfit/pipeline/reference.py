"""Reference data the opportunity page reads on every request — stages, lost reasons, the discovery
question bank, the pipeline settings and the opportunity custom-field definitions — kept in process
memory instead of five queries per page.

Validity: a generation token in Django's shared cache (Redis, or the database cache table). Every save or
delete of one of those models replaces the token (at once, and again after the transaction commits, so a
process that reloaded in between reloads once more), and each process reloads its copy when it sees a
token it did not load with. A copy is also reloaded after MAX_AGE seconds, for writes that bypass the
models (``queryset.update()``, SQL). Reading costs one cache get per page.

The objects are shared between requests: read them, never change them.
"""

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

GENERATION_KEY = "pipeline:reference:generation"
MAX_AGE = 300.0


@dataclass(frozen=True)
class Lookups:
    generation: str
    loaded_at: float
    stages: dict[int, Any]  # every stage by id
    ordered_stages: list[Any]  # by position
    lost_reasons: list[Any]  # active, in order
    all_lost_reasons: dict[int, Any]  # every lost reason by id
    questions: dict[int, Any]  # every question by id (old answers may cite retired ones)
    meddpicc_enabled: bool
    custom_fields: list[Any]  # active opportunity custom-field definitions, in order
    extra: dict[str, Any] = field(default_factory=dict)

    def move_stages(self, current_stage_id: int) -> list[Any]:
        """The stages the move form offers: active, not a lead stage, not the current one."""
        return [s for s in self.ordered_stages if s.active and s.kind != "lead" and s.pk != current_stage_id]


_lock = threading.Lock()
_current: Lookups | None = None


def _load(generation: str) -> Lookups:
    from keyfit.core.customfields import custom_field_definitions
    from keyfit.pipeline.models import LostReason, PipelineSettings, Question, Stage

    stages = list(Stage.objects.order_by("position", "id"))
    reasons = list(LostReason.objects.order_by("position", "id"))
    settings_row = PipelineSettings.objects.filter(pk=1).first()
    return Lookups(
        generation=generation,
        loaded_at=time.monotonic(),
        stages={s.pk: s for s in stages},
        ordered_stages=stages,
        lost_reasons=[r for r in reasons if r.active],
        all_lost_reasons={r.pk: r for r in reasons},
        questions={q.pk: q for q in Question.objects.all()},
        meddpicc_enabled=bool(settings_row and settings_row.meddpicc_enabled),
        custom_fields=custom_field_definitions("opportunity"),
    )


def _generation() -> str:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, uuid.uuid4().hex, None)
        generation = cache.get(GENERATION_KEY) or ""
    return generation


def current() -> Lookups:
    """This process's copy, reloaded when another process (or this one) changed the data."""
    global _current
    generation = _generation()
    copy = _current
    if copy is not None and copy.generation == generation and time.monotonic() - copy.loaded_at < MAX_AGE:
        return copy
    with _lock:
        copy = _load(generation)
        _current = copy
    return copy


def invalidate(**_kwargs) -> None:
    """Forget every process's copy (connected to the saves and deletes of the models read here)."""

    def bump() -> None:
        global _current
        cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
        _current = None

    bump()
    transaction.on_commit(bump)


def connect() -> None:
    from keyfit.core.models import CustomFieldDefinition
    from keyfit.pipeline.models import LostReason, PipelineSettings, Question, Stage

    for model in (Stage, LostReason, Question, PipelineSettings, CustomFieldDefinition):
        post_save.connect(invalidate, sender=model, dispatch_uid=f"pipeline-reference-save-{model.__name__}")
        post_delete.connect(invalidate, sender=model, dispatch_uid=f"pipeline-reference-delete-{model.__name__}")
