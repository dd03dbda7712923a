"""Pipeline: stages and gates as data, opportunities, their append-only stage history, contracts,
activities and the discovery question bank (DESIGN §2)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyfit.accounts.choices import BuyingRole
from keyfit.core.models import TimeStampedModel, VersionedModel, Vocabulary, localized
from keyfit.pipeline.choices import (
    MNE,
    ActivityKind,
    Channel,
    ForecastCategory,
    Meddpicc,
    PreviousLink,
    RequirementWhen,
    StageKind,
)


class Stage(Vocabulary):
    """One step of the single S0–S5 sequence; `position` orders the whole funnel."""

    kind = models.CharField(_("kind"), max_length=16, choices=StageKind.choices)
    default_probability = models.PositiveSmallIntegerField(
        _("default probability (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    forecast_category = models.CharField(
        _("forecast category"), max_length=16, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )

    class Meta(Vocabulary.Meta):
        verbose_name = _("stage")
        verbose_name_plural = _("stages")

    @property
    def is_closed(self) -> bool:
        return self.kind in (StageKind.WON, StageKind.LOST)


class StageRequirement(models.Model):
    """A named gate requirement (see gates.py) demanded to enter or to leave a stage forward."""

    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.CASCADE, related_name="requirements")
    requirement = models.CharField(_("requirement"), max_length=64)
    when = models.CharField(_("when"), max_length=8, choices=RequirementWhen.choices)

    class Meta:
        verbose_name = _("stage requirement")
        verbose_name_plural = _("stage requirements")
        ordering = ["stage__position", "when", "id"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "requirement", "when"], name="stagerequirement_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.stage.code} {self.when} {self.requirement}"


class LostReason(Vocabulary):
    class Meta(Vocabulary.Meta):
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")


class PipelineSettings(models.Model):
    """One row of pipeline switches an admin edits."""

    meddpicc_enabled = models.BooleanField(_("MEDDPICC fields enabled"), default=False)

    class Meta:
        verbose_name = _("pipeline settings")
        verbose_name_plural = _("pipeline settings")

    @classmethod
    def current(cls) -> "PipelineSettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj

    def __str__(self) -> str:
        return str(_("Pipeline settings"))


class Opportunity(TimeStampedModel, VersionedModel):
    name = models.CharField(_("name"), max_length=200)
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="opportunities"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="opportunities"
    )
    team = models.ForeignKey(
        "users.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="opportunities")
    stage_entered_at = models.DateTimeField(_("in stage since"), default=timezone.now)
    amount = models.DecimalField(
        _("amount"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    computed_probability = models.PositiveSmallIntegerField(
        _("probability from stage (%)"), default=0, validators=[MaxValueValidator(100)]
    )
    manual_probability = models.PositiveSmallIntegerField(
        _("manual probability (%)"), null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    forecast_category = models.CharField(
        _("forecast category"), max_length=16, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )
    # Risk flags (DESIGN §2, S3): raised by the seller, confirmed when the customer's behaviour proves them.
    risk_only_method = models.BooleanField(_("risk: only seeking a method"), default=False)
    risk_only_method_confirmed = models.BooleanField(_("risk confirmed: only seeking a method"), default=False)
    risk_not_buying = models.BooleanField(_("risk: not buying from us"), default=False)
    risk_not_buying_confirmed = models.BooleanField(_("risk confirmed: not buying from us"), default=False)
    competitors = models.CharField(_("competitors"), max_length=500, blank=True, help_text=_("Comma-separated."))
    lost_reason = models.ForeignKey(
        LostReason, verbose_name=_("lost reason"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lost_note = models.TextField(_("lost note"), blank=True)
    won_on = models.DateField(_("won on"), null=True, blank=True)
    lost_on = models.DateField(_("lost on"), null=True, blank=True)
    previous = models.ForeignKey(
        "self",
        verbose_name=_("previous opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    previous_link = models.CharField(_("link to previous"), max_length=16, choices=PreviousLink.choices, blank=True)
    source_lead_id = models.IntegerField(_("source lead id"), null=True, blank=True, db_index=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    # Discovery: MNE profile of the deal.
    motivation = models.TextField(_("motivation"), blank=True)
    need = models.TextField(_("need"), blank=True)
    expectations = models.TextField(_("expectations"), blank=True)
    success_criteria = models.TextField(_("success criteria"), blank=True)
    decision_criteria = models.TextField(_("decision criteria"), blank=True)
    feasibility_confirmed = models.BooleanField(_("customer confirmed the approach is feasible"), default=False)
    # Optional MEDDPICC overlay (PipelineSettings.meddpicc_enabled).
    metrics = models.TextField(_("metrics"), blank=True)
    decision_process = models.TextField(_("decision process"), blank=True)
    paper_process = models.TextField(_("paper process"), blank=True)
    identified_pain = models.TextField(_("identified pain"), blank=True)
    champion = models.ForeignKey(
        "accounts.Contact",
        verbose_name=_("champion"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    contacts = models.ManyToManyField(
        "accounts.Contact",
        through="OpportunityContact",
        verbose_name=_("contacts"),
        related_name="opportunities",
        blank=True,
    )
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        indexes = [
            models.Index(fields=["stage", "-updated_at", "-id"], name="opp_stage_updated_idx"),
            models.Index(fields=["owner", "stage", "-updated_at", "-id"], name="opp_owner_stage_idx"),
            models.Index(fields=["team", "stage", "-updated_at", "-id"], name="opp_team_stage_idx"),
            models.Index(fields=["account", "-created_at"], name="opp_account_idx"),
            models.Index(fields=["-updated_at", "-id"], name="opp_updated_idx"),
            models.Index(fields=["expected_close_date", "id"], name="opp_close_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def probability(self) -> int:
        return self.manual_probability if self.manual_probability is not None else self.computed_probability

    @property
    def mne_complete(self) -> bool:
        return all(v.strip() for v in (self.motivation, self.need, self.expectations, self.success_criteria))


class BoardSummary(models.Model):
    """Pipeline per (stage, team, owner, currency, forecast category): how many deals and their amount.

    Kept by keyfit.pipeline.summary in the same transaction as every save or delete of an opportunity, so
    the board's column totals are read from a few hundred rows instead of a scan of every open deal.
    `rebuild_board_summary()` recomputes it (after bulk loads that bypass the model).
    """

    stage = models.ForeignKey(
        Stage, verbose_name=_("stage"), on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    team = models.ForeignKey(
        "users.Team",
        verbose_name=_("team"),
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    currency = models.CharField(_("currency"), max_length=3)
    forecast_category = models.CharField(
        _("forecast category"), max_length=16, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )
    count = models.BigIntegerField(_("deals"), default=0)
    priced = models.BigIntegerField(_("deals with an amount"), default=0)
    amount = models.DecimalField(_("amount"), max_digits=24, decimal_places=2, default=Decimal("0"))

    class Meta:
        verbose_name = _("board summary")
        verbose_name_plural = _("board summaries")
        indexes = [
            models.Index(
                fields=["stage", "team", "owner", "currency", "forecast_category"], name="board_summary_key_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.stage_id}/{self.team_id}/{self.owner_id}/{self.currency}/{self.forecast_category}"


class OpportunityContact(models.Model):
    """A contact's role in one deal, with their own MNE profile when they are a key contact."""

    opportunity = models.ForeignKey(
        Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE, related_name="deal_contacts"
    )
    contact = models.ForeignKey(
        "accounts.Contact", verbose_name=_("contact"), on_delete=models.CASCADE, related_name="deal_roles"
    )
    role = models.CharField(_("role in this deal"), max_length=24, choices=BuyingRole.choices, blank=True)
    is_key = models.BooleanField(_("key contact"), default=False)
    motivation = models.TextField(_("motivation"), blank=True)
    need = models.TextField(_("need"), blank=True)
    expectations = models.TextField(_("expectations"), blank=True)
    success_criteria = models.TextField(_("success criteria"), blank=True)

    class Meta:
        verbose_name = _("opportunity contact")
        verbose_name_plural = _("opportunity contacts")
        ordering = ["-is_key", "id"]
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "contact"], name="opportunitycontact_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} ({self.get_role_display()})"


class StageChange(models.Model):
    """Append-only stage history: one row per move, never updated."""

    opportunity = models.ForeignKey(
        Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.ForeignKey(
        Stage, verbose_name=_("from stage"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, verbose_name=_("to stage"), on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    seconds_in_previous = models.PositiveBigIntegerField(_("seconds in previous stage"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    override = models.BooleanField(_("gate overridden"), default=False)
    overridden = models.JSONField(_("overridden requirements"), default=list, blank=True)
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["opportunity", "at", "id"], name="stagechange_opp_idx"),
            models.Index(fields=["to_stage", "at"], name="stagechange_to_idx"),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Stage changes are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Stage changes are append-only.")

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"


class Contract(TimeStampedModel):
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="contracts"
    )
    opportunity = models.ForeignKey(
        Opportunity,
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contracts",
    )
    signed_on = models.DateField(_("signed on"), null=True, blank=True)
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"))
    annual_recurring_value = models.DecimalField(
        _("annual recurring value"), max_digits=18, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-start_date", "-id"]
        indexes = [models.Index(fields=["account", "-start_date"], name="contract_account_idx")]

    def __str__(self) -> str:
        return f"{self.account} {self.start_date}–{self.end_date}"


class Question(Vocabulary):
    """A discovery question; `name_en` / `name_zh_hans` hold its text."""

    category = models.CharField(_("MNE category"), max_length=16, choices=MNE.choices)
    meddpicc = models.CharField(_("MEDDPICC letter"), max_length=2, choices=Meddpicc.choices, blank=True)

    class Meta(Vocabulary.Meta):
        verbose_name = _("discovery question")
        verbose_name_plural = _("discovery questions")

    @property
    def text(self) -> str:
        return localized(self, "name")


class Activity(TimeStampedModel, VersionedModel):
    kind = models.CharField(_("type"), max_length=16, choices=ActivityKind.choices)
    subject = models.CharField(_("subject"), max_length=200)
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="activities"
    )
    opportunity = models.ForeignKey(
        Opportunity,
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="activities"
    )
    team = models.ForeignKey(
        "users.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.FIELD)
    outcome = models.TextField(_("outcome"), blank=True)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    next_step_date = models.DateField(_("next step date"), null=True, blank=True)
    done = models.BooleanField(_("done"), default=False)
    contacts = models.ManyToManyField(
        "accounts.Contact", verbose_name=_("contact participants"), related_name="activities", blank=True
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("colleague participants"), related_name="+", blank=True
    )
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [
            models.Index(fields=["opportunity", "-occurred_at", "-id"], name="activity_opp_time_idx"),
            models.Index(fields=["account", "-occurred_at"], name="activity_account_idx"),
            models.Index(fields=["owner", "done", "next_step_date"], name="activity_owner_next_idx"),
            models.Index(fields=["-occurred_at", "-id"], name="activity_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.subject


class ActivityQuestion(models.Model):
    """A question asked during an activity and the answer heard; may feed the MNE profile."""

    activity = models.ForeignKey(Activity, verbose_name=_("activity"), on_delete=models.CASCADE, related_name="asked")
    question = models.ForeignKey(Question, verbose_name=_("question"), on_delete=models.PROTECT, related_name="+")
    answer = models.TextField(_("answer heard"), blank=True)
    used_as = models.CharField(_("used as"), max_length=16, choices=MNE.choices, blank=True)

    class Meta:
        verbose_name = _("question asked")
        verbose_name_plural = _("questions asked")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["activity", "question"], name="activityquestion_unique")]

    def __str__(self) -> str:
        return str(self.question)
