from django import template
from django.utils.translation import gettext as _

from keyfit.core.money import format_money

register = template.Library()


@register.filter
def money(amount, currency=None):
    return format_money(amount, currency)


@register.filter
def localized_name(obj, field="name"):
    from keyfit.core.models import localized

    return localized(obj, field)


@register.filter
def yesno_i18n(value):
    return _("Yes") if value else _("No")


@register.simple_tag
def audit_value(value):
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
