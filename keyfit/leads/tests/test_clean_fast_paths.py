"""The fast paths of the lead validation agree with the rules they shortcut."""

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from keyfit.leads.choices import Intent, Source, Status
from keyfit.leads.normalize import normalize_domain
from keyfit.leads.services import _CHOICE_VALUES, _PLAIN_EMAIL, _email_valid


def django_accepts(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "value",
    [
        "user1@company1.cn",
        "first.last+tag@sub.example.com",
        "a@b.co",
        "x@localhost",
        "x@[127.0.0.1]",
        '"quoted name"@example.com',
        "dots..twice@example.com",
        ".lead@example.com",
        "trail.@example.com",
        "user@-bad.com",
        "user@bad-.com",
        "user@example.c0m",
        "user@example.c",
        "user@xn--fiqs8s.xn--fiqs8s",
        "用户@例子.中国",
        "user@例子.中国",
        "kelvin\u212a@example.com",
        "user@example.com\n",
        "no-at-sign",
        "a@b@c.com",
        "x" * 64 + "@" + "y" * 250 + ".com",
    ],
)
def test_plain_email_shortcut_never_accepts_what_django_refuses(value):
    assert _email_valid(value) == django_accepts(value)
    if _PLAIN_EMAIL.fullmatch(value):
        assert django_accepts(value)


def test_choice_tables_are_the_choices():
    assert dict(_CHOICE_VALUES) == {
        "source": frozenset(Source.values),
        "purchase_intent": frozenset(Intent.values),
        "status": frozenset(Status.values),
    }


def test_memoised_domain_normaliser_gives_the_same_answers():
    assert normalize_domain("https://www.Example.com/x") == "example.com"
    assert normalize_domain("https://www.Example.com/x") == "example.com"
    assert normalize_domain("qq.com") == ""
    assert normalize_domain(None) == ""
