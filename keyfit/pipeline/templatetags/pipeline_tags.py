from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()


@register.filter
def duration_days(seconds):
    """Seconds as days with one decimal (exact decimal rounding)."""
    if seconds is None:
        return ""
    return str((Decimal(int(seconds)) / Decimal(86400)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@register.simple_tag(takes_context=True)
def account_pipeline_timeline(context, account, limit=50):
    """`{% account_pipeline_timeline account as entries %}`: the account's stage changes and activities
    the signed-in user may see."""
    from keyfit.pipeline.selectors import account_pipeline_timeline as timeline

    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not user.is_authenticated:
        return []
    return timeline(user, account, limit=limit)
