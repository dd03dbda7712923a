from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ValuecaseConfig(AppConfig):
    name = "keyfit.valuecase"
    label = "valuecase"
    verbose_name = _("Value cases")
