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


PHONES = [
    "13800138000",
    "138 0013 8000",
    "+86 138-0013-8000",
    "008613800138000",
    "8613800138000",
    "021-6123 4567",
    "1234",
    "",
    "  ",
    "１３８００１３８０００",
    "12345678901",
    "23800138000",
    "1380013800",
    "138001380001",
    "+1 415",
]


def test_column_normalisers_agree_with_the_per_value_ones():
    from keyfit.leads.normalize import email_domain, email_domains, normalize_phone, normalize_phones

    assert normalize_phones(PHONES) == [normalize_phone(p) for p in PHONES]
    emails = ["a@Example.com", "b@qq.com", "no-at", "", "x@ www.example.org", "x@y@corp.example.cn", "c@localhost"]
    assert email_domains(emails) == [email_domain(e) for e in emails]


@pytest.mark.django_db
def test_clean_many_gives_each_input_what_it_gets_alone():
    from decimal import Decimal
    from types import SimpleNamespace

    from keyfit.leads.services import clean_many

    value = Decimal("1000")  # one object for many rows, as the import engine hands them over
    inputs = [
        {"contact_name": "王伟", "email": "Wang.Wei@Example.CN", "phone": "13800138000", "estimated_value": value},
        {"contact_name": "李娜", "email": "not-an-email", "phone": "138", "estimated_value": value},
        {"contact_name": "", "email": "", "phone": "", "estimated_value": Decimal("-1")},
        {"contact_name": "x" * 151, "email": "a@b.co", "phone": "+86 138-0013-8000", "estimated_value": None},
        {"contact_name": "赵六", "email": "z@qq.com", "phone": "021-6123 4567", "estimated_value": "1,0"},
        {"company_name": "上海云启", "source": "event", "external_id": "  E1  ", "custom_fields": {}},
        {"company_name": "上海云启", "source": "tv", "external_id": "", "website": "https://www.yunqi.cn/x"},
        {"company_name": "A", "currency": "cny", "known_converted": 1, "priority": "7", "bogus": 1},
    ]
    olds = [None] * len(inputs)
    olds[4] = SimpleNamespace(custom_fields={"a": 1}, email="old@corp.example.cn")
    together = clean_many([dict(d) for d in inputs], existing=olds, definitions=[])
    alone = [clean_many([dict(d)], existing=[old], definitions=[])[0] for d, old in zip(inputs, olds, strict=True)]
    assert together == alone
    assert [errors is None for _values, errors in together] == [True, False, False, False, False, True, False, False]
    assert together[0][0]["phone_normalized"] == "+8613800138000"
    assert together[0][0]["company_domain"] == "example.cn"
    assert together[1][1] == {"email": ["Enter a valid e-mail address."], "phone": ["Enter a valid phone number."]}
    assert together[6][1] == {"source": ["Select a valid choice."]}
