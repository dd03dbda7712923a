from decimal import Decimal

import pytest
from django.utils import translation

from keyfit.core.money import format_money
from keyfit.pipeline.templatetags.pipeline_tags import card_money, duration_days


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
@pytest.mark.parametrize("currency", ["CNY", "USD", "EUR", "JPY", "KRW", "GBP"])
def test_card_money_is_exactly_the_money_filter(lang, currency):
    with translation.override(lang):
        for amount in ["0", "0.005", "0.015", "999.5", "1234567.895", "250000.00"]:
            assert card_money(Decimal(amount), currency) == format_money(Decimal(amount), currency)
        assert card_money(None, currency) == "—"


def test_duration_days():
    assert duration_days(3 * 86400 + 4 * 3600) == "3.2"
    assert duration_days(None) == ""
