from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from keyfit.core.models import TimeStampedModel, VersionedModel, localized
from keyfit.fitcanvas.choices import Element, Horizon, Side, WaveStatus, level_of


class QuestionnaireTemplate(TimeStampedModel):
    """A versioned questionnaire. Once a wave uses a version it is frozen; admins edit a copy."""

    family = models.SlugField(_("family"), max_length=64, help_text=_("Versions of one questionnaire share it."))
    version_number = models.PositiveIntegerField(_("version"), default=1)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh_hans = models.CharField(_("name (Simplified Chinese)"), max_length=200)
    copied_from = models.ForeignKey(
        "self", verbose_name=_("copied from"), null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    is_default = models.BooleanField(_("default for new waves"), default=False)

    class Meta:
        verbose_name = _("questionnaire template")
        verbose_name_plural = _("questionnaire templates")
        ordering = ["family", "-version_number"]
        constraints = [
            models.UniqueConstraint(fields=["family", "version_number"], name="fit_template_unique_version"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="fit_template_one_default"
            ),
        ]

    @property
    def name(self) -> str:
        return localized(self, "name")

    def __str__(self) -> str:
        return f"{self.name} v{self.version_number}"


class Statement(models.Model):
    """One item of a template: a supplier and a customer phrasing, each in English and Chinese."""

    template = models.ForeignKey(
        QuestionnaireTemplate, verbose_name=_("template"), on_delete=models.CASCADE, related_name="statements"
    )
    code = models.CharField(_("code"), max_length=16, help_text=_("Stable item id, e.g. ST1."))
    element = models.CharField(_("element"), max_length=32, choices=Element.choices)
    position = models.PositiveIntegerField(_("position"), default=0)
    supplier_en = models.TextField(_("supplier phrasing (English)"))
    supplier_zh_hans = models.TextField(_("supplier phrasing (Simplified Chinese)"))
    customer_en = models.TextField(_("customer phrasing (English)"))
    customer_zh_hans = models.TextField(_("customer phrasing (Simplified Chinese)"))
    retired = models.BooleanField(_("retired"), default=False)

    class Meta:
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        ordering = ["template", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["template", "code"], name="fit_statement_unique_code")]

    @property
    def level(self) -> str:
        return level_of(self.element)

    def text(self, side: str) -> str:
        return localized(self, side)

    def __str__(self) -> str:
        return self.code


class Wave(TimeStampedModel, VersionedModel):
    """One assessment of a key account: raters on both sides answer the same template version."""

    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="fit_waves"
    )
    template = models.ForeignKey(
        QuestionnaireTemplate, verbose_name=_("template version"), on_delete=models.PROTECT, related_name="waves"
    )
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(_("status"), max_length=16, choices=WaveStatus.choices, default=WaveStatus.DRAFT)
    due_date = models.DateField(_("due date"))
    notes = models.TextField(_("internal notes"), blank=True)
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    results = models.JSONField(_("results snapshot"), null=True, blank=True)
    shared_items = models.JSONField(_("aggregates shared with the customer"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("assessment wave")
        verbose_name_plural = _("assessment waves")
        ordering = ["-due_date", "-id"]
        indexes = [
            models.Index(fields=["account", "-due_date", "-id"], name="fit_wave_account_idx"),
            models.Index(fields=["-due_date", "-id"], name="fit_wave_due_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Rater(models.Model):
    """A person invited to a wave: a supplier user or a customer contact."""

    wave = models.ForeignKey(Wave, verbose_name=_("wave"), on_delete=models.CASCADE, related_name="raters")
    side = models.CharField(_("side"), max_length=16, choices=Side.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="fit_raters",
    )
    contact = models.ForeignKey(
        "accounts.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="fit_raters",
    )
    role_label = models.CharField(_("role in the relationship"), max_length=100, blank=True)
    horizon = models.CharField(_("horizon view"), max_length=8, choices=Horizon.choices, blank=True)
    invited_at = models.DateTimeField(_("invited at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    last_saved_at = models.DateTimeField(_("last saved at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rater")
        verbose_name_plural = _("raters")
        ordering = ["wave", "side", "id"]
        constraints = [
            models.UniqueConstraint(fields=["wave", "user"], name="fit_rater_unique_user"),
            models.UniqueConstraint(fields=["wave", "contact"], name="fit_rater_unique_contact"),
            models.CheckConstraint(
                condition=(Q(side="supplier", user__isnull=False, contact__isnull=True))
                | Q(side="customer", contact__isnull=False, user__isnull=True),
                name="fit_rater_side_person",
            ),
        ]

    @property
    def person(self):
        return self.user if self.side == Side.SUPPLIER else self.contact

    @property
    def display_name(self) -> str:
        person = self.person
        return getattr(person, "display_name", None) or str(person)

    @property
    def language(self) -> str:
        return getattr(self.person, "language", "") or settings.LANGUAGE_CODE

    def __str__(self) -> str:
        return f"{self.display_name} ({self.get_side_display()})"


class Answer(models.Model):
    """A rater's answer to one statement: 1–5, or 0 for "don't know". One row per rater and statement."""

    rater = models.ForeignKey(Rater, verbose_name=_("rater"), on_delete=models.CASCADE, related_name="answers")
    statement = models.ForeignKey(Statement, verbose_name=_("statement"), on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField(
        _("score"), validators=[MinValueValidator(0), MaxValueValidator(5)], help_text=_("0 = don't know")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(fields=["rater", "statement"], name="fit_answer_unique"),
            models.CheckConstraint(condition=Q(score__lte=5), name="fit_answer_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.rater_id}/{self.statement_id}={self.score}"
