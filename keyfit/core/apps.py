from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "keyfit.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from keyfit.core import customfields, jsonlookups, permissions

        jsonlookups.register()
        permissions.connect()
        customfields.connect()
