"""Value cases (DESIGN §4): one versioned case per opportunity, its drivers, costs, ratings and items.

A version is editable only while it is a draft; once sent it is immutable (a new draft copies it). The
computed figures are derived from the lines by ``keyfit.valuecase.calc``; the few stored copies
(``net_value``, ``customer_value``) exist for SQL filters and aggregates only and are refreshed by the
services on every change.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from keyfit.core.models import TimeStampedModel, VersionedModel
from keyfit.valuecase.choices import (
    BasisKind,
    CaseState,
    Confidence,
    Contributor,
    CostKind,
    MentalKind,
    ValueChainActivity,
)

MONEY = {"max_digits": 18, "decimal_places": 2}
NON_NEGATIVE = [MinValueValidator(Decimal("0"))]


class ValueCase(TimeStampedModel, VersionedModel):
    opportunity = models.ForeignKey(
        "pipeline.Opportunity", verbose_name=_("opportunity"), on_delete=models.CASCADE, related_name="value_cases"
    )
    number = models.PositiveIntegerField(_("version number"))
    state = models.CharField(_("state"), max_length=16, choices=CaseState.choices, default=CaseState.DRAFT)
    currency = models.CharField(_("currency"), max_length=3)
    summary = models.TextField(_("summary for the customer"), blank=True)
    internal_notes = models.TextField(_("internal notes"), blank=True)
    weight_product = models.DecimalField(
        _("weight of product"), max_digits=6, decimal_places=2, default=Decimal("1"), validators=NON_NEGATIVE
    )
    weight_kpi = models.DecimalField(
        _("weight of personal-KPI fit"), max_digits=6, decimal_places=2, default=Decimal("1"), validators=NON_NEGATIVE
    )
    weight_service = models.DecimalField(
        _("weight of service"), max_digits=6, decimal_places=2, default=Decimal("1"), validators=NON_NEGATIVE
    )
    perception_override = models.DecimalField(
        _("perception override"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1.5"))],
    )
    perception_override_reason = models.TextField(_("reason for the override"), blank=True)
    horizon_months = models.PositiveSmallIntegerField(
        _("benefit horizon (months)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    compliance_flag = models.BooleanField(_("compliance flag"), default=False, db_index=True)
    customer_value = models.DecimalField(_("customer value"), **MONEY, default=Decimal("0"))
    net_value = models.DecimalField(_("net value"), **MONEY, default=Decimal("0"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_to = models.ForeignKey(
        "accounts.Contact",
        verbose_name=_("sent to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("at close since"), null=True, blank=True)
    realised_at = models.DateTimeField(_("realised on"), null=True, blank=True)

    class Meta:
        verbose_name = _("value case")
        verbose_name_plural = _("value cases")
        ordering = ["opportunity_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "number"], name="valuecase_unique_number"),
        ]
        indexes = [models.Index(fields=["opportunity", "state"], name="valuecase_opp_state_idx")]

    def __str__(self) -> str:
        return f"{self.opportunity} · v{self.number}"

    @property
    def is_draft(self) -> bool:
        return self.state == CaseState.DRAFT


class Line(models.Model):
    case = models.ForeignKey(ValueCase, verbose_name=_("value case"), on_delete=models.CASCADE)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        abstract = True
        ordering = ["position", "id"]


class Driver(Line):
    case = models.ForeignKey(ValueCase, verbose_name=_("value case"), on_delete=models.CASCADE, related_name="drivers")
    contributor = models.CharField(_("contributor"), max_length=8, choices=Contributor.choices)
    description = models.CharField(_("description"), max_length=300)
    activity = models.CharField(_("value-chain activity"), max_length=24, choices=ValueChainActivity.choices)
    quantity = models.DecimalField(
        _("quantity"), max_digits=18, decimal_places=4, null=True, blank=True, validators=NON_NEGATIVE
    )
    unit_value = models.DecimalField(
        _("unit value"), max_digits=18, decimal_places=4, null=True, blank=True, validators=NON_NEGATIVE
    )
    amount = models.DecimalField(_("amount"), max_digits=24, decimal_places=8, validators=NON_NEGATIVE)
    basis_kind = models.CharField(_("basis"), max_length=12, choices=BasisKind.choices)
    basis = models.TextField(_("formula or assumption"))
    confidence = models.CharField(_("confidence"), max_length=8, choices=Confidence.choices, default=Confidence.MEDIUM)

    class Meta(Line.Meta):
        verbose_name = _("value driver")
        verbose_name_plural = _("value drivers")

    def __str__(self) -> str:
        return self.description


class CostItem(Line):
    case = models.ForeignKey(ValueCase, verbose_name=_("value case"), on_delete=models.CASCADE, related_name="costs")
    kind = models.CharField(_("kind"), max_length=16, choices=CostKind.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY, validators=NON_NEGATIVE)
    basis_kind = models.CharField(_("basis"), max_length=12, choices=BasisKind.choices)
    basis = models.TextField(_("formula or assumption"))

    class Meta(Line.Meta):
        verbose_name = _("cost item")
        verbose_name_plural = _("cost items")

    def __str__(self) -> str:
        return self.description or self.get_kind_display()


class Rating(Line):
    """Perception ratings 1–5 of one key stakeholder, or overall when no contact is given."""

    case = models.ForeignKey(ValueCase, verbose_name=_("value case"), on_delete=models.CASCADE, related_name="ratings")
    contact = models.ForeignKey(
        "accounts.Contact",
        verbose_name=_("stakeholder"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    product = models.PositiveSmallIntegerField(_("product"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    kpi = models.PositiveSmallIntegerField(
        _("personal-KPI fit"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    service = models.PositiveSmallIntegerField(_("service"), validators=[MinValueValidator(1), MaxValueValidator(5)])

    class Meta(Line.Meta):
        verbose_name = _("perception rating")
        verbose_name_plural = _("perception ratings")
        constraints = [
            models.UniqueConstraint(fields=["case", "contact"], name="valuecase_rating_unique_contact"),
            models.UniqueConstraint(
                fields=["case"], condition=Q(contact__isnull=True), name="valuecase_rating_unique_overall"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product}/{self.kpi}/{self.service}"


class MentalItem(Line):
    """A mental-accounting item: shown as perceived net value beside net value, never inside it."""

    case = models.ForeignKey(ValueCase, verbose_name=_("value case"), on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(_("kind"), max_length=20, choices=MentalKind.choices)
    description = models.CharField(_("description"), max_length=300)
    amount = models.DecimalField(_("amount (signed)"), **MONEY)

    class Meta(Line.Meta):
        verbose_name = _("mental-accounting item")
        verbose_name_plural = _("mental-accounting items")

    def __str__(self) -> str:
        return self.description


class Acknowledgement(models.Model):
    """The customer's acknowledgement of one case version (append-only)."""

    case = models.OneToOneField(
        ValueCase, verbose_name=_("value case"), on_delete=models.CASCADE, related_name="acknowledgement"
    )
    contact = models.ForeignKey(
        "accounts.Contact", verbose_name=_("acknowledged by"), on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("acknowledged at"), default=timezone.now)
    case_number = models.PositiveIntegerField(_("version number"))
    net_value = models.DecimalField(_("net value acknowledged"), **MONEY)

    class Meta:
        verbose_name = _("acknowledgement")
        verbose_name_plural = _("acknowledgements")

    def __str__(self) -> str:
        return f"{self.case} ✓ {self.contact}"


class CustomerComment(models.Model):
    case = models.ForeignKey(
        ValueCase, verbose_name=_("value case"), on_delete=models.CASCADE, related_name="customer_comments"
    )
    contact = models.ForeignKey(
        "accounts.Contact", verbose_name=_("contact"), on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField(_("comment"), max_length=4000)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("customer comment")
        verbose_name_plural = _("customer comments")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.body[:60]


class RealisationEntry(models.Model):
    """Value realised after the sale, against a driver of the case at close."""

    case = models.ForeignKey(
        ValueCase, verbose_name=_("value case"), on_delete=models.CASCADE, related_name="realisations"
    )
    driver = models.ForeignKey(
        Driver, verbose_name=_("value driver"), on_delete=models.PROTECT, related_name="realisations"
    )
    on = models.DateField(_("date"))
    amount = models.DecimalField(_("realised amount"), **MONEY, validators=NON_NEGATIVE)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("realised value entry")
        verbose_name_plural = _("realised value entries")
        ordering = ["on", "id"]
        indexes = [models.Index(fields=["case", "on"], name="valuecase_realised_idx")]

    def __str__(self) -> str:
        return f"{self.on} {self.amount}"
