"""Reference data the opportunity page reads on every request — stages, lost reasons, the discovery
question bank, the pipeline settings and the opportunity custom-field definitions — as model objects,
kept with the board's rows of keyfit.pipeline.lookups under their version token
(one cache read per request; reloaded when a stage, team, lost reason, question, the settings or a
custom-field definition is saved or deleted, and after the token expires).

The objects are shared between requests: read them, never change them.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Lookups:
    stages: dict[int, Any]  # every stage by id
    ordered_stages: list[Any]  # by position
    lost_reasons: list[Any]  # active, in order
    all_lost_reasons: dict[int, Any]  # every lost reason by id
    questions: dict[int, Any]  # every question by id (old answers may cite retired ones)
    meddpicc_enabled: bool
    custom_fields: list[Any]  # active opportunity custom-field definitions, in order

    def move_stages(self, current_stage_id: int) -> list[Any]:
        """The stages the move form offers: active, not a lead stage, not the current one."""
        return [s for s in self.ordered_stages if s.active and s.kind != "lead" and s.pk != current_stage_id]


def load() -> Lookups:
    from keyfit.core.customfields import custom_field_definitions
    from keyfit.pipeline.models import LostReason, PipelineSettings, Question, Stage

    stages = list(Stage.objects.order_by("position", "id"))
    reasons = list(LostReason.objects.order_by("position", "id"))
    settings_row = PipelineSettings.objects.filter(pk=1).first()
    return Lookups(
        stages={s.pk: s for s in stages},
        ordered_stages=stages,
        lost_reasons=[r for r in reasons if r.active],
        all_lost_reasons={r.pk: r for r in reasons},
        questions={q.pk: q for q in Question.objects.all()},
        meddpicc_enabled=bool(settings_row and settings_row.meddpicc_enabled),
        custom_fields=custom_field_definitions("opportunity"),
    )


def current() -> Lookups:
    """This process's copy, loaded on first use and kept with the lookups' rows under their version token
    (a new token brings new rows without it, so the next call loads it again)."""
    from keyfit.pipeline import lookups

    rows = lookups.lookups()
    copy = rows.get("reference")
    if copy is None:
        copy = rows["reference"] = load()  # two requests may both load it: the same data, either is kept
    return copy
