from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MANAGER = "manager", _("Sales manager")
    SDR = "sdr", _("SDR")
    ACCOUNT_EXECUTIVE = "ae", _("Account executive")
    KEY_ACCOUNT_MANAGER = "kam", _("Key account manager")
    VIEWER = "viewer", _("Viewer")
