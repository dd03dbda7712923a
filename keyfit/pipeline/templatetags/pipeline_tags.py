import functools
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

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


@functools.lru_cache(maxsize=256)
def _currency_format(currency: str, locale: str):
    """(symbol, digits) when the locale writes this currency as symbol + #,##0.00, else None."""
    from babel import Locale
    from babel.numbers import get_currency_precision, get_currency_symbol

    parsed = Locale.parse(locale)
    pattern = parsed.currency_formats["standard"].pattern
    symbols = parsed.number_symbols.get("latn", parsed.number_symbols)
    if pattern not in ("¤#,##0.00", "¤#,##0.00;-¤#,##0.00") or (symbols["decimal"], symbols["group"]) != (".", ","):
        return None
    return get_currency_symbol(currency, locale=locale), get_currency_precision(currency)


@register.filter
def card_money(amount, currency=None):
    """The `money` filter's exact output, with the locale's currency format looked up once (cards and
    rows render hundreds of amounts per page)."""
    from keyfit.core.money import _babel_locale, default_currency, format_money

    if amount is None:
        return "—"
    currency = currency or default_currency()
    fmt = _currency_format(currency, _babel_locale())
    value = Decimal(str(amount))
    if fmt is None or value < 0:
        return format_money(value, currency)
    symbol, digits = fmt
    quantum = Decimal(1).scaleb(-digits)
    return f"{symbol}{value.quantize(quantum, rounding=ROUND_HALF_EVEN):,.{digits}f}"
