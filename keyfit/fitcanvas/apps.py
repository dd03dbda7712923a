from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FitcanvasConfig(AppConfig):
    name = "keyfit.fitcanvas"
    label = "fitcanvas"
    verbose_name = _("Triple Fit Canvas")
