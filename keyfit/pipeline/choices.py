from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class StageKind(models.TextChoices):
    LEAD = "lead", _("Lead")
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    SUCCESS = "success", _("Customer success")


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", _("Pipeline")
    BEST_CASE = "best_case", _("Best case")
    COMMIT = "commit", _("Commit")
    CLOSED = "closed", _("Closed")
    OMITTED = "omitted", _("Omitted")


class RequirementWhen(models.TextChoices):
    ENTER = "enter", _("to enter")
    LEAVE = "leave", _("to leave forward")


class PreviousLink(models.TextChoices):
    RENEWAL = "renewal", _("Renewal")
    EXPANSION = "expansion", _("Expansion")


class ActivityKind(models.TextChoices):
    VISIT = "visit", _("Visit")
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    DEMO = "demo", _("Demo")
    EMAIL = "email", pgettext_lazy("activity kind", "E-mail")
    PROPOSAL = "proposal", _("Proposal")
    NOTE = "note", _("Note")


class Channel(models.TextChoices):
    ONLINE = "online", _("Online")
    FIELD = "field", pgettext_lazy("activity channel", "Field")


class MNE(models.TextChoices):
    MOTIVATION = "motivation", _("Motivation")
    NEED = "need", _("Need")
    EXPECTATIONS = "expectations", _("Expectations")


class Meddpicc(models.TextChoices):
    METRICS = "M", _("Metrics")
    ECONOMIC_BUYER = "E", _("Economic buyer")
    DECISION_CRITERIA = "D1", _("Decision criteria")
    DECISION_PROCESS = "D2", _("Decision process")
    PAPER_PROCESS = "P", _("Paper process")
    IDENTIFY_PAIN = "I", _("Identify pain")
    CHAMPION = "C1", _("Champion")
    COMPETITION = "C2", _("Competition")
