import pytest

from keyfit.leads.normalize import normalize_domain, normalize_email, normalize_phone


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        "+86 138 0013 8000",
        "+86-13800138000",
        "0086 13800138000",
        "8613800138000",
    ],
)
def test_china_mobile_numbers_normalise_to_one_key(raw):
    assert normalize_phone(raw) == "+8613800138000"


def test_other_phones():
    assert normalize_phone("021-6123 4567") == "+862161234567"
    assert normalize_phone("+49 30 1234567") == "+49301234567"
    assert normalize_phone("") == ""
    assert normalize_phone("n/a") == ""


def test_email_and_domain():
    assert normalize_email("  Li.Wei@Example.COM ") == "li.wei@example.com"
    assert normalize_domain("https://www.Example.com/about") == "example.com"
    assert normalize_domain("li@corp.example.cn") == "corp.example.cn"
    for free in (
        "qq.com",
        "163.com",
        "126.com",
        "gmail.com",
        "outlook.com",
        "hotmail.com",
        "sina.com",
        "foxmail.com",
        "yahoo.com",
        "icloud.com",
    ):
        assert normalize_domain(f"someone@{free}") == ""
    assert normalize_domain("localhost") == ""
