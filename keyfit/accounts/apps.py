from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "keyfit.accounts"
    label = "accounts"
    verbose_name = _("Accounts and contacts")

    def ready(self) -> None:
        from keyfit.accounts import signals
        from keyfit.core.nav import NavItem, register_nav

        signals.connect()

        register_nav(NavItem("accounts", _("Accounts"), "accounts:account_list", order=30))
        register_nav(NavItem("contacts", _("Contacts"), "accounts:contact_list", order=31))
