from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "keyfit.leads"
    label = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        from keyfit.core.nav import NavItem, register_nav
        from keyfit.leads import routing_config

        routing_config.connect()
        register_nav(NavItem(key="leads", label=_("Leads"), url_name="leads:queue", order=20))
