from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyfit.core.models import EqualityIndex, TimeStampedModel, VersionedModel, Vocabulary
from keyfit.leads.choices import (
    DecisionKind,
    Intent,
    NotificationKind,
    Operator,
    Originator,
    ScreenResult,
    SignalType,
    Source,
    Status,
    Strategy,
)


def _validated(check, field: str | None = None) -> None:
    """Run a condition validator and turn its ValidationFailed into Django's ValidationError."""
    from django.core.exceptions import ValidationError

    from keyfit.core.errors import ValidationFailed

    try:
        check()
    except ValidationFailed as exc:
        raise ValidationError({field or key.split(".")[-1]: msgs for key, msgs in exc.fields.items()}) from exc


class DisqualifyReason(Vocabulary):
    """Why a lead left the funnel (no need, no intent, poor fit, duplicate…); seeded, admin-editable."""

    class Meta(Vocabulary.Meta):
        verbose_name = _("disqualification reason")
        verbose_name_plural = _("disqualification reasons")


class Lead(TimeStampedModel, VersionedModel):
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    campaign = models.CharField(_("campaign"), max_length=120, blank=True)
    web_form = models.ForeignKey(
        "leads.WebForm",
        verbose_name=_("web form"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # company
    company_name = models.CharField(_("company"), max_length=200, blank=True)
    company_domain = models.CharField(_("company domain"), max_length=253, blank=True)
    industry = models.CharField(_("industry"), max_length=32, blank=True)
    company_size = models.CharField(_("company size"), max_length=16, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    # contact
    contact_name = models.CharField(_("contact name"), max_length=150, blank=True)
    contact_title = models.CharField(_("contact title"), max_length=150, blank=True)
    email = models.CharField(_("e-mail"), max_length=254, blank=True)
    email_normalized = models.CharField(_("normalised e-mail"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    phone_normalized = models.CharField(_("normalised phone"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans")
    # process
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    disqualify_reason = models.ForeignKey(
        DisqualifyReason,
        verbose_name=_("disqualification reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        db_index=False,
    )
    status_note = models.CharField(_("status note"), max_length=500, blank=True)
    screen1_result = models.CharField(
        _("screen 1 result"), max_length=8, choices=ScreenResult.choices, default=ScreenResult.PENDING
    )
    fit_score = models.PositiveSmallIntegerField(_("fit score"), null=True, blank=True)
    fit_breakdown = models.JSONField(_("fit breakdown"), default=list, blank=True)
    screen1_reasons = models.JSONField(_("screen 1 reasons"), default=list, blank=True)
    screen1_at = models.DateTimeField(_("screen 1 at"), null=True, blank=True)
    screen2_result = models.CharField(
        _("screen 2 result"), max_length=8, choices=ScreenResult.choices, default=ScreenResult.PENDING
    )
    screen2_unmet = models.JSONField(_("screen 2 unmet conditions"), default=list, blank=True)
    screen2_at = models.DateTimeField(_("screen 2 at"), null=True, blank=True)
    need_confirmed = models.BooleanField(_("need to solve confirmed"), default=False)
    purchase_intent = models.CharField(
        _("purchase intent"), max_length=8, choices=Intent.choices, default=Intent.UNKNOWN
    )
    estimated_value = models.DecimalField(
        _("estimated co-created value"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    bant_budget = models.CharField(_("budget (BANT)"), max_length=200, blank=True)
    bant_authority = models.CharField(_("authority (BANT)"), max_length=200, blank=True)
    bant_need = models.CharField(_("need (BANT)"), max_length=200, blank=True)
    bant_timeline = models.CharField(_("timeline (BANT)"), max_length=200, blank=True)
    # ownership and routing
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        db_index=False,  # lead_queue_idx starts with owner
    )
    team = models.ForeignKey(
        "users.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        db_index=False,  # lead_team_idx starts with team
    )
    priority = models.SmallIntegerField(
        _("priority"), default=50, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    route_requested = models.BooleanField(_("waiting to be routed"), default=False)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    first_touch_at = models.DateTimeField(_("first touch at"), null=True, blank=True)
    sla_due_at = models.DateTimeField(_("first-touch SLA due"), null=True, blank=True)
    sla_breached_at = models.DateTimeField(_("SLA breached at"), null=True, blank=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True)
    # outcome of imported history (used by scoring)
    known_converted = models.BooleanField(_("converted (history)"), null=True, blank=True)
    known_closed_at = models.DateTimeField(_("closed at (history)"), null=True, blank=True)
    # merge and conversion
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged",
        db_index=False,
    )
    converted_at = models.DateTimeField(_("converted at"), null=True, blank=True)
    converted_account = models.ForeignKey(
        "accounts.Account",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    converted_contact = models.ForeignKey(
        "accounts.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    converted_opportunity_ref = models.PositiveBigIntegerField(_("opportunity"), null=True, blank=True)

    # Every index here is paid on each routing UPDATE: FK indexes that a composite or partial index
    # already covers are switched off.
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=models.Q(external_id__isnull=False), name="lead_external_id_unique"
            )
        ]
        indexes = [
            # duplicate lookup: equality only, so hash indexes on PostgreSQL (b-trees elsewhere), paid on
            # every insert and routing UPDATE (db_index=True would add a varchar_pattern_ops index too)
            EqualityIndex(fields=["company_domain"], name="lead_domain_idx"),
            EqualityIndex(fields=["email_normalized"], name="lead_email_idx"),
            EqualityIndex(fields=["phone_normalized"], name="lead_phone_idx"),
            models.Index(
                fields=["merged_into"], name="lead_merged_into_idx", condition=models.Q(merged_into__isnull=False)
            ),
            models.Index(
                fields=["converted_account"],
                name="lead_conv_account_idx",
                condition=models.Q(converted_account__isnull=False),
            ),
            models.Index(
                fields=["converted_contact"],
                name="lead_conv_contact_idx",
                condition=models.Q(converted_contact__isnull=False),
            ),
            models.Index(
                fields=["disqualify_reason"],
                name="lead_dq_reason_idx",
                condition=models.Q(disqualify_reason__isnull=False),
            ),
            models.Index(fields=["owner", "status", "-priority", "sla_due_at", "id"], name="lead_queue_idx"),
            models.Index(fields=["team", "status", "-priority", "id"], name="lead_team_idx"),
            models.Index(fields=["-created_at", "-id"], name="lead_created_idx"),
            # the list filtered by a status that is rare among recent leads; "new" leads are the recent
            # ones, found by walking lead_created_idx, so they are left out: taking in a lead or routing
            # it (an UPDATE that is never HOT) writes one index entry fewer
            models.Index(
                fields=["status", "-created_at", "-id"],
                name="lead_status_idx",
                condition=~models.Q(status=Status.NEW),
            ),
            models.Index(
                fields=["-priority", "created_at", "id"],
                name="lead_unassigned_idx",
                condition=models.Q(owner__isnull=True, merged_into__isnull=True),
            ),
            # online routing picks the leads waiting to be routed; tiny, and never touched by the
            # bulk routing UPDATE (its rows are not waiting, so the predicate is false before and after)
            models.Index(
                fields=["-priority", "created_at", "id"],
                name="lead_pending_idx",
                condition=models.Q(route_requested=True, owner__isnull=True, merged_into__isnull=True),
            ),
            models.Index(
                fields=["sla_due_at"],
                name="lead_sla_open_idx",
                condition=models.Q(first_touch_at__isnull=True, sla_breached_at__isnull=True, owner__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        who = self.contact_name or self.email or self.phone
        if self.company_name:
            return f"{who} · {self.company_name}" if who else self.company_name
        return who or f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in (Status.NEW, Status.SCREENING, Status.QUALIFIED)


class LeadSignal(models.Model):
    """Something that happened between the lead and us; the customer-originated ones open screen 2."""

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="signals")
    signal_type = models.CharField(_("type"), max_length=16, choices=SignalType.choices)
    originator = models.CharField(_("originator"), max_length=10, choices=Originator.choices)
    occurred_at = models.DateTimeField(_("time"), default=timezone.now)
    note = models.CharField(_("note"), max_length=1000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("customer signal")
        verbose_name_plural = _("customer signals")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "-occurred_at"], name="leadsignal_lead_idx")]

    def __str__(self) -> str:
        return f"{self.get_signal_type_display()} ({self.get_originator_display()})"


class ScreeningPolicy(models.Model):
    """Thresholds of screen 1 and screen 2 (one row)."""

    fit_pass_threshold = models.PositiveSmallIntegerField(_("fit score to pass screen 1"), default=60)
    fit_nurture_threshold = models.PositiveSmallIntegerField(_("fit score to nurture"), default=30)
    min_value = models.DecimalField(_("minimum co-created value"), max_digits=18, decimal_places=2, default=100000)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")

    class Meta:
        verbose_name = _("screening policy")
        verbose_name_plural = _("screening policies")

    def __str__(self) -> str:
        return str(_("Screening policy"))


class ValueThreshold(models.Model):
    """The minimum estimated value of a segment (company size band), overriding the default."""

    segment = models.CharField(_("segment (company size)"), max_length=16, unique=True)
    min_value = models.DecimalField(_("minimum co-created value"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")

    class Meta:
        verbose_name = _("value threshold")
        verbose_name_plural = _("value thresholds")
        ordering = ["segment"]

    def __str__(self) -> str:
        return f"{self.segment}: {self.min_value} {self.currency}"


class FitRule(models.Model):
    """An ICP fit rule: when the condition holds, the lead earns `points` (may be negative)."""

    name = models.CharField(_("name"), max_length=120)
    field = models.CharField(_("field"), max_length=80, help_text=_("A lead field, or cf.<key> for a custom field."))
    operator = models.CharField(_("operator"), max_length=10, choices=Operator.choices)
    value = models.JSONField(_("value"), null=True, blank=True)
    points = models.SmallIntegerField(_("points"))
    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    def clean(self) -> None:
        from keyfit.leads.conditions import validate_condition

        _validated(lambda: validate_condition({"field": self.field, "operator": self.operator, "value": self.value}))

    class Meta:
        verbose_name = _("ICP fit rule")
        verbose_name_plural = _("ICP fit rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class WorkingCalendar(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    weekdays = models.JSONField(_("working weekdays"), default=list, help_text=_("0 = Monday … 6 = Sunday"))
    day_start = models.TimeField(_("working day starts"))
    day_end = models.TimeField(_("working day ends"))

    class Meta:
        verbose_name = _("working-hours calendar")
        verbose_name_plural = _("working-hours calendars")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CalendarException(models.Model):
    """A holiday (not worked) or a make-up working day on a weekend."""

    calendar = models.ForeignKey(
        WorkingCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="exceptions"
    )
    date = models.DateField(_("date"))
    working = models.BooleanField(_("working day"), default=False)
    name = models.CharField(_("name"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="calendarexception_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class RoutingTeam(models.Model):
    """How a sales team receives leads: its strategy, members and first-touch SLA."""

    team = models.OneToOneField(
        "users.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="lead_routing"
    )
    strategy = models.CharField(_("strategy"), max_length=16, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    sla_minutes = models.PositiveIntegerField(_("first-touch SLA (working minutes)"), default=240)
    calendar = models.ForeignKey(
        WorkingCalendar, verbose_name=_("calendar"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reassign_on_breach = models.BooleanField(_("re-assign on SLA breach"), default=False)
    rr_position = models.IntegerField(_("round-robin position"), default=-1, editable=False)
    # Raised on every team at once whenever the routing configuration changes (keyfit.leads.routing_config):
    # routing reads it with the team locks and reloads the configuration it keeps when it moved.
    config_version = models.PositiveBigIntegerField(_("configuration version"), default=0, editable=False)

    class Meta:
        verbose_name = _("routing team")
        verbose_name_plural = _("routing teams")

    def __str__(self) -> str:
        return str(self.team)


class RoutingMember(models.Model):
    routing_team = models.ForeignKey(
        RoutingTeam, verbose_name=_("routing team"), on_delete=models.CASCADE, related_name="members"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="routing_memberships"
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    max_per_30_days = models.PositiveIntegerField(_("maximum leads per 30 days"), null=True, blank=True)
    paused = models.BooleanField(_("paused"), default=False)
    preferred_filters = models.JSONField(
        _("preferred filters"), default=list, blank=True, help_text=_('[{"field": …, "operator": …, "value": …}]')
    )

    def clean(self) -> None:
        from keyfit.leads.conditions import validate_conditions

        _validated(lambda: validate_conditions(self.preferred_filters), "preferred_filters")

    class Meta:
        verbose_name = _("routing member")
        verbose_name_plural = _("routing members")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["routing_team", "user"], name="routingmember_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.routing_team}"


class MemberLoad(models.Model):
    """How many leads routing gave a member on one day (the quota counter)."""

    member = models.ForeignKey(RoutingMember, verbose_name=_("member"), on_delete=models.CASCADE, related_name="loads")
    day = models.DateField(_("day"))
    assigned = models.PositiveIntegerField(_("leads assigned"), default=0)

    class Meta:
        verbose_name = _("member load")
        verbose_name_plural = _("member loads")
        constraints = [models.UniqueConstraint(fields=["member", "day"], name="memberload_unique")]

    def __str__(self) -> str:
        return f"{self.member} {self.day}: {self.assigned}"


class OwnerLoad(models.Model):
    """The open leads (new, screening, qualified; not merged) a user owns, kept by the database.

    Triggers on the lead table maintain it on every insert, update, delete and truncate (migration
    0006), so least-loaded routing reads one row per member instead of counting leads. Derived data:
    no foreign-key constraint (a statement routing 100,000 leads updates each owner's row once).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        primary_key=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="+",
    )
    open_leads = models.IntegerField(_("open leads"), default=0)

    class Meta:
        verbose_name = _("open leads of an owner")
        verbose_name_plural = _("open leads of owners")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.open_leads}"


class RoutingRule(models.Model):
    """Ordered rules: the first whose conditions all hold sends the lead to its team."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=0)
    conditions = models.JSONField(_("conditions"), default=list, blank=True)
    routing_team = models.ForeignKey(
        RoutingTeam, verbose_name=_("routing team"), on_delete=models.CASCADE, related_name="rules"
    )
    active = models.BooleanField(_("active"), default=True)

    def clean(self) -> None:
        from keyfit.leads.conditions import validate_conditions

        _validated(lambda: validate_conditions(self.conditions), "conditions")

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class RoutingDecision(models.Model):
    """One routing decision with its inputs and a readable reason (append-only).

    Only the lead is a foreign-key constraint. The rule, team and users a decision names are history
    (set to NULL by Django when one of them is deleted): a database constraint on each would cost four
    checks per decision at commit — most of the commit of a routing batch, which logs one decision per lead.
    """

    # no index of its own: routingdecision_lead_idx (lead, -at) starts with it
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="decisions", db_index=False
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=10, choices=DecisionKind.choices)
    rule = models.ForeignKey(
        RoutingRule,
        verbose_name=_("rule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    team = models.ForeignKey(
        "users.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("previous owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("new owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    reason = models.CharField(_("reason"), max_length=500)
    inputs = models.JSONField(_("inputs"), default=dict, blank=True)
    seed = models.BigIntegerField(_("seed"), default=0)
    batch = models.CharField(_("batch"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("routing decision")
        verbose_name_plural = _("routing decisions")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "-at"], name="routingdecision_lead_idx")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Routing decisions are append-only.")
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.reason


class WebForm(models.Model):
    """A public, embeddable lead form for one source or campaign."""

    slug = models.SlugField(_("address"), max_length=64, unique=True)
    title_en = models.CharField(_("title (English)"), max_length=200)
    title_zh_hans = models.CharField(_("title (Simplified Chinese)"), max_length=200)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.WEB_FORM)
    campaign = models.CharField(_("campaign"), max_length=120, blank=True)
    route_on_submit = models.BooleanField(_("route on submit"), default=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("web form")
        verbose_name_plural = _("web forms")
        ordering = ["slug"]

    @property
    def title(self) -> str:
        from keyfit.core.models import localized

        return localized(self, "title")

    def __str__(self) -> str:
        return self.slug


class Notification(models.Model):
    """An in-app notice (also e-mailed): a lead assigned to you, an SLA breached."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="lead_notifications"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=NotificationKind.choices)
    lead = models.ForeignKey(Lead, verbose_name=_("lead"), null=True, on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(_("number of leads"), default=1)
    message = models.CharField(_("message"), max_length=500)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"], name="leadnotification_user_idx")]

    @property
    def text(self) -> str:
        """The notice in the active language (`message` keeps the English original)."""
        from django.utils.translation import gettext

        if self.kind == NotificationKind.SLA_BREACH:
            return gettext("First-touch SLA breached on lead %(lead)s.") % {"lead": self.lead_id}
        if self.count > 1:
            return gettext("%(count)s leads were assigned to you.") % {"count": self.count}
        return gettext("Lead %(lead)s was assigned to you.") % {"lead": self.lead_id}

    def __str__(self) -> str:
        return self.message
