from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UsersConfig(AppConfig):
    name = "keyfit.users"
    label = "users"
    verbose_name = _("Users and teams")

    def ready(self) -> None:
        from keyfit.core.nav import NavItem, register_nav
        from keyfit.core.roles import Role

        register_nav(NavItem("team", _("Team"), "users:team_list", order=900, roles=(Role.ADMIN, Role.MANAGER)))
