from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from keyfit.accounts.choices import BuyingRole, Industry, Lifecycle, Seniority, SizeBand, Tier
from keyfit.core.models import TimeStampedModel, VersionedModel


class Account(TimeStampedModel, VersionedModel):
    """A customer organisation."""

    name = models.CharField(_("name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=300, blank=True)
    website = models.URLField(_("website"), max_length=300, blank=True)
    domain = models.CharField(_("domain"), max_length=253, blank=True, db_index=True)
    industry = models.CharField(_("industry"), max_length=32, choices=Industry.choices, blank=True)
    size_band = models.CharField(_("size band"), max_length=16, choices=SizeBand.choices, blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    annual_revenue = models.DecimalField(
        _("annual revenue"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166 code, e.g. CN"))
    region = models.CharField(_("region / province"), max_length=100, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    tier = models.CharField(_("tier"), max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    lifecycle = models.CharField(_("lifecycle"), max_length=16, choices=Lifecycle.choices, default=Lifecycle.PROSPECT)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="accounts"
    )
    team = models.ForeignKey(
        "users.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accounts",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subsidiaries",
    )
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True, unique=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        indexes = [
            models.Index(fields=["name", "id"], name="account_name_idx"),
            models.Index(fields=["tier", "name", "id"], name="account_tier_name_idx"),
            models.Index(fields=["lifecycle", "name", "id"], name="account_lifecycle_name_idx"),
            models.Index(fields=["owner", "name", "id"], name="account_owner_name_idx"),
            models.Index(fields=["team", "name", "id"], name="account_team_name_idx"),
            models.Index(fields=["-updated_at", "-id"], name="account_updated_idx"),
            models.Index(Lower("name"), name="account_lower_name_idx"),
            models.Index(fields=["country", "name", "id"], name="account_country_name_idx"),
            models.Index(fields=["industry", "name", "id"], name="account_industry_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(TimeStampedModel, VersionedModel):
    """A person at a customer organisation, with their role in buying."""

    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("name"), max_length=150)
    title = models.CharField(_("title"), max_length=150, blank=True)
    department = models.CharField(_("department"), max_length=150, blank=True)
    email = models.EmailField(_("e-mail"), blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    wechat_id = models.CharField(_("WeChat id"), max_length=64, blank=True)
    seniority = models.CharField(_("seniority"), max_length=16, choices=Seniority.choices, blank=True)
    buying_role = models.CharField(_("buying role"), max_length=24, choices=BuyingRole.choices, blank=True)
    relationship_strength = models.PositiveSmallIntegerField(
        _("relationship strength"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=_("1 = no relationship … 5 = trusted advisor"),
    )
    motivations = models.TextField(_("motivations"), blank=True)
    personal_kpis = models.TextField(_("personal KPIs"), blank=True)
    reports_to = models.ForeignKey(
        "self",
        verbose_name=_("reports to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans")
    external_id = models.CharField(_("external id"), max_length=100, null=True, blank=True, unique=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [
            models.Index(fields=["name", "id"], name="contact_name_idx"),
            models.Index(fields=["account", "name", "id"], name="contact_account_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name
