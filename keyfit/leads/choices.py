from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    SOCIAL = "social", _("WeChat / social referral")
    EVENT = "event", _("Event")
    WHITE_PAPER = "white_paper", _("White paper")
    OUTBOUND = "outbound", _("Outbound list")
    PARTNER = "partner", _("Partner")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    MANUAL = "manual", _("Manual entry")


class Status(models.TextChoices):
    NEW = "new", _("New")
    SCREENING = "screening", _("Screening")
    QUALIFIED = "qualified", _("Qualified")
    CONVERTED = "converted", _("Converted")
    NURTURE = "nurture", _("Nurture")
    DISQUALIFIED = "disqualified", _("Disqualified")


OPEN_STATUSES = (Status.NEW, Status.SCREENING, Status.QUALIFIED)


class Intent(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    YES = "yes", _("Yes")
    NO = "no", _("No")


class ScreenResult(models.TextChoices):
    PENDING = "pending", _("Not screened")
    PASS = "pass", _("Passed")
    NURTURE = "nurture", _("Nurture")
    FAIL = "fail", _("Failed")


class SignalType(models.TextChoices):
    QUESTION = "question", _("Asked a question")
    PROPOSAL = "proposal", _("Requested a proposal")
    DEMO = "demo", _("Requested a demo")
    REPLY = "reply", _("Replied")
    PRICING_VISIT = "pricing_visit", _("Visited pricing")
    DOWNLOAD = "download", _("Downloaded content")
    MEETING = "meeting", _("Met us")
    OUTREACH = "outreach", _("Our outreach")
    OTHER = "other", _("Other")


class Originator(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    US = "us", _("Us")


class Operator(models.TextChoices):
    EQ = "eq", _("equals")
    NE = "ne", _("does not equal")
    IN = "in", _("is one of")
    CONTAINS = "contains", _("contains")
    GT = "gt", _("greater than")
    GTE = "gte", _("at least")
    LT = "lt", _("less than")
    LTE = "lte", _("at most")
    IS_SET = "is_set", _("is set")


class Strategy(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round robin")
    CAPACITY = "capacity", _("Capacity-capped")
    LEAST_LOADED = "least_loaded", _("Least loaded")


class DecisionKind(models.TextChoices):
    AUTO = "auto", _("Automatic routing")
    MANUAL = "manual", _("Manual re-assignment")
    SLA = "sla", _("Re-assigned after SLA breach")
    UNROUTED = "unrouted", _("Not routed")


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", _("Lead assigned to you")
    SLA_BREACH = "sla_breach", _("First-touch SLA breached")
