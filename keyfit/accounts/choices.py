from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class SizeBand(models.TextChoices):
    MICRO = "1-9", _("1–9 employees")
    SMALL = "10-49", _("10–49 employees")
    MEDIUM = "50-249", _("50–249 employees")
    LARGE = "250-999", _("250–999 employees")
    ENTERPRISE = "1000+", _("1,000+ employees")


class Tier(models.TextChoices):
    STRATEGIC = "strategic", _("Strategic")
    KEY = "key", _("Key")
    STANDARD = "standard", _("Standard")


class Lifecycle(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    CUSTOMER = "customer", pgettext_lazy("account type", "Customer")
    CHURNED = "churned", _("Churned")


class Industry(models.TextChoices):
    SAAS = "saas", _("Software / SaaS")
    MANUFACTURING = "manufacturing", _("Manufacturing")
    RETAIL = "retail", _("Retail and consumer goods")
    FINANCE = "finance", _("Financial services")
    HEALTHCARE = "healthcare", _("Healthcare and life sciences")
    LOGISTICS = "logistics", _("Logistics and transport")
    EDUCATION = "education", _("Education")
    ENERGY = "energy", _("Energy and utilities")
    AUTOMOTIVE = "automotive", _("Automotive")
    PROFESSIONAL = "professional", _("Professional services")
    GOVERNMENT = "government", _("Public sector")
    OTHER = "other", _("Other")


class Seniority(models.TextChoices):
    EXECUTIVE = "executive", _("Executive")
    MANAGEMENT = "management", _("Management")
    OPERATIONAL = "operational", _("Operational")


class BuyingRole(models.TextChoices):
    ECONOMIC_BUYER = "economic_buyer", _("Economic buyer")
    DECISION_MAKER = "decision_maker", _("Decision maker")
    CHAMPION = "champion", _("Champion")
    INFLUENCER = "influencer", _("Influencer")
    USER = "user", _("User")
    GATEKEEPER = "gatekeeper", _("Gatekeeper")
    BLOCKER = "blocker", _("Blocker")
