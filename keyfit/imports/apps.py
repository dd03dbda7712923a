from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "keyfit.imports"
    label = "imports"
    verbose_name = _("Import and export")

    def ready(self) -> None:
        from keyfit.core.nav import NavItem, register_nav

        register_nav(NavItem("imports", _("Import"), "imports:index", order=800))
