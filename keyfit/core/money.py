"""Money: an amount (Decimal) always travels with its ISO 4217 currency."""

from decimal import Decimal

from babel.numbers import format_currency, get_currency_name, list_currencies
from django.conf import settings
from django.utils.translation import get_language, to_locale

# Currencies in use today (babel lists historical ones too).
_COMMON = [
    "CNY",
    "USD",
    "EUR",
    "HKD",
    "JPY",
    "GBP",
    "SGD",
    "KRW",
    "TWD",
    "AUD",
    "CAD",
    "CHF",
    "INR",
    "MYR",
    "THB",
]
CURRENCY_CODES = sorted(c for c in list_currencies() if len(c) == 3 and c.isalpha() and c.isupper())


def currency_choices() -> list[tuple[str, str]]:
    locale = _babel_locale()
    rest = [c for c in CURRENCY_CODES if c not in _COMMON]
    return [(c, f"{c} — {get_currency_name(c, locale=locale)}") for c in [*_COMMON, *rest]]


def default_currency() -> str:
    return getattr(settings, "DEFAULT_CURRENCY", "CNY")


def is_currency(code: str) -> bool:
    return code in CURRENCY_CODES


def _babel_locale() -> str:
    lang = get_language() or "en"
    return "zh_Hans_CN" if lang.lower().startswith("zh") else to_locale(lang)


def format_money(amount: Decimal | int | float | None, currency: str | None) -> str:
    if amount is None:
        return "—"
    return format_currency(Decimal(str(amount)), currency or default_currency(), locale=_babel_locale())
