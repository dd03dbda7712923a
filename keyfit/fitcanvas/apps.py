from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FitcanvasConfig(AppConfig):
    name = "keyfit.fitcanvas"
    label = "fitcanvas"
    verbose_name = _("Triple Fit Canvas")

    def ready(self) -> None:
        from keyfit.core.nav import NavItem, register_nav

        register_nav(NavItem(key="fitcanvas", label=_("Fit canvas"), url_name="fitcanvas:waves", order=60))
