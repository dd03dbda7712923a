import functools
import html
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from django import template
from django.utils.safestring import mark_safe

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


_CARD = (
    '\n<li class="board-card" data-id="{pk}" data-version="{version}">\n'
    '  <a href="{prefix}{pk}/">{name}</a>\n'
    '  <div class="muted">{account}</div>\n'
    '  <div><span class="num">{amount}</span> · {probability}%</div>\n'
    '  <div class="muted">{owner}{close}</div>\n'
    "</li>\n"
)


@register.simple_tag
def board_cards_html(cards, detail_prefix):
    """The board cards as HTML in one pass (a column of cards through the template engine costs several
    times more); the same markup the card template wrote."""
    esc = html.escape
    prefix = esc(str(detail_prefix))
    parts = []
    for opp in cards:
        close = opp.expected_close_date
        parts.append(
            _CARD.format(
                pk=int(opp.pk),
                version=int(opp.version),
                prefix=prefix,
                name=esc(opp.name),
                account=esc(opp.account.name),
                amount=esc(card_money(opp.amount, opp.currency)),
                probability=int(opp.probability),
                owner=esc(opp.owner.display_name),
                close=f" · {close.isoformat()}" if close else "",
            )
        )
    return mark_safe("".join(parts))  # every value is escaped above


_ROW = (
    '\n<tr><td><a href="{prefix}{pk}/">{name}</a></td><td>{account}</td><td>{stage}</td>\n'
    '<td class="num">{amount}</td><td class="num">{probability}%</td><td>{close}</td><td>{owner}</td></tr>\n'
)


@register.simple_tag
def list_rows_html(opportunities, detail_prefix):
    """The opportunity list rows as HTML in one pass (the same markup the row template wrote)."""
    esc = html.escape
    prefix = esc(str(detail_prefix))
    parts = []
    for opp in opportunities:
        close = opp.expected_close_date
        parts.append(
            _ROW.format(
                prefix=prefix,
                pk=int(opp.pk),
                name=esc(opp.name),
                account=esc(opp.account.name),
                stage=esc(str(opp.stage.name)),
                amount=esc(card_money(opp.amount, opp.currency)),
                probability=int(opp.probability),
                close=close.isoformat() if close else "—",
                owner=esc(opp.owner.display_name),
            )
        )
    return mark_safe("".join(parts))  # every value is escaped above
