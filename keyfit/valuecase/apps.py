from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ValuecaseConfig(AppConfig):
    name = "keyfit.valuecase"
    label = "valuecase"
    verbose_name = _("Value cases")

    def ready(self) -> None:
        from keyfit.accounts.timeline import register_account_panel
        from keyfit.core.nav import NavItem, register_nav
        from keyfit.pipeline.gates import register_requirement
        from keyfit.pipeline.panels import register_opportunity_panel
        from keyfit.valuecase.services import gate_value_case_acknowledged

        register_requirement(
            "value_case_acknowledged", _("Value case acknowledged by the customer"), gate_value_case_acknowledged
        )
        register_account_panel("valuecase.value", account_value_panel, order=40)
        register_opportunity_panel("valuecase.value", opportunity_value_panel, order=10)
        register_nav(NavItem(key="valuecase", label=_("Value cases"), url_name="valuecase:list", order=40))


def account_value_panel(request, account):
    """The account page's value panel: value at close, realised, realisation rate, latest cases."""
    from keyfit.valuecase.selectors import account_value_summary

    value = account_value_summary(request.user, account)
    if not value["rows"] and not value["recent"]:
        return None
    return {"title": _("Value cases"), "template": "valuecase/_account_panel.html", "context": {"value": value}}


def opportunity_value_panel(request, opportunity):
    """The opportunity page's value panel: the latest case version and its net value, or a start link."""
    from keyfit.valuecase.selectors import opportunity_value_summary

    return {
        "template": "valuecase/_opportunity_panel.html",
        "context": {"value": opportunity_value_summary(request.user, opportunity)},
    }
