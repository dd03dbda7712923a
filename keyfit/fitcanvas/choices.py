"""Fixed vocabulary of the Triple Fit Canvas: levels and elements have stable codes (DESIGN §5)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    PLANNING = "PLAN", _("Planning")
    EXECUTION = "EXEC", _("Execution")
    RESOURCES = "RES", _("Resources")


class Element(models.TextChoices):
    PLAN_STRATEGY = "PLAN_STRATEGY", _("Strategy")
    PLAN_RELATIONSHIPS = "PLAN_RELATIONSHIPS", _("Relationships")
    PLAN_COMMUNICATION = "PLAN_COMMUNICATION", _("Communication")
    EXEC_SOLUTIONS = "EXEC_SOLUTIONS", _("Solutions")
    EXEC_PROCESSES = "EXEC_PROCESSES", _("Processes")
    EXEC_SYSTEMS = "EXEC_SYSTEMS", _("Systems (IT, financial, legal)")
    RES_TALENT = "RES_TALENT", _("Talent")
    RES_STRUCTURE = "RES_STRUCTURE", _("Structure")
    RES_KNOWLEDGE = "RES_KNOWLEDGE", _("Knowledge")


ELEMENT_CODES: list[str] = [e.value for e in Element]
LEVEL_CODES: list[str] = [lv.value for lv in Level]


def level_of(element_code: str) -> str:
    return element_code.split("_", 1)[0]


class Side(models.TextChoices):
    SUPPLIER = "supplier", _("Supplier")
    CUSTOMER = "customer", _("Customer")


class WaveStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Horizon(models.TextChoices):
    SHORT = "short", _("Short-term fit")
    LONG = "long", _("Long-term fit")


class ShareItem(models.TextChoices):
    """Aggregates a KAM may share back with the customer raters (customer-side figures only)."""

    OVERALL = "overall", _("Overall fit and maturity band")
    LEVELS = "levels", _("Fit per level")
    ELEMENTS = "elements", _("Fit per element")
    STRENGTHS = "strengths", _("Strengths")
    IMPROVEMENT_AREAS = "improvement_areas", _("Improvement areas")
    PARTICIPATION = "participation", _("Number of customer respondents")


SCALE = [
    (1, _("Strongly disagree")),
    (2, _("Disagree")),
    (3, _("Partly")),
    (4, _("Agree")),
    (5, _("Strongly agree")),
]
DONT_KNOW = 0  # stored score of a "don't know" answer; excluded from means, counted in the don't-know rate
