from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent to the customer")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged by the customer")
    AT_CLOSE = "at_close", _("At close")
    REALISED = "realised", _("Realised")


class Contributor(models.TextChoices):
    PRODUCT = "product", _("Product")
    SELLER = "seller", _("Seller")


class ValueChainActivity(models.TextChoices):
    INBOUND_LOGISTICS = "inbound_logistics", _("Inbound logistics")
    OPERATIONS = "operations", _("Operations")
    OUTBOUND_LOGISTICS = "outbound_logistics", _("Outbound logistics")
    MARKETING_SALES = "marketing_sales", _("Marketing & sales")
    SERVICE = "service", _("Service")
    PROCUREMENT = "procurement", _("Procurement")
    HR = "hr", _("Human resources")
    TECHNOLOGY = "technology", _("Technology")
    INFRASTRUCTURE = "infrastructure", _("Infrastructure")


class BasisKind(models.TextChoices):
    FORMULA = "formula", _("Formula")
    ASSUMPTION = "assumption", _("Assumption")


class Confidence(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class CostKind(models.TextChoices):
    PRICE = "price", _("Price")
    IMPLEMENTATION = "implementation", _("Implementation")
    INTERNAL_TIME = "internal_time", _("Internal time")
    SWITCHING = "switching", _("Switching / migration")
    RISK = "risk", _("Risk allowance")


class MentalKind(models.TextChoices):
    PEER_COMPARISON = "peer_comparison", _("Peer comparison")
    REFERENCE_PRICE = "reference_price", _("Reference price")
    BUY_BACK = "buy_back", _("Buy-back")
    HOSPITALITY_GIFT = "hospitality_gift", _("Hospitality / gift")
    OTHER = "other", _("Other")
