from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ValuecaseConfig(AppConfig):
    name = "keyfit.valuecase"
    label = "valuecase"
    verbose_name = _("Value cases")

    def ready(self) -> None:
        from keyfit.core.nav import NavItem, register_nav
        from keyfit.pipeline.gates import register_requirement
        from keyfit.valuecase.services import gate_value_case_acknowledged

        register_requirement(
            "value_case_acknowledged", _("Value case acknowledged by the customer"), gate_value_case_acknowledged
        )
        register_nav(NavItem(key="valuecase", label=_("Value cases"), url_name="valuecase:list", order=40))
