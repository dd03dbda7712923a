"""Normalised keys for duplicate detection: e-mail, phone (E.164-like) and company domain."""

import re
from functools import lru_cache
from itertools import repeat

FREE_MAIL_DOMAINS = frozenset(
    {
        "qq.com",
        "vip.qq.com",
        "foxmail.com",
        "163.com",
        "126.com",
        "yeah.net",
        "vip.163.com",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "aliyun.com",
        "139.com",
        "189.cn",
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.com.cn",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "aol.com",
        "gmx.com",
        "mail.com",
        "yandex.com",
    }
)

_NON_DIGITS = re.compile(r"[^\d]")
_CHINA_MOBILE = re.compile(r"1[0-9]{10}")  # 11 ASCII digits from 1: `+86` in front, nothing else changes


def normalize_email(value: str | None) -> str:
    return (value or "").strip().lower()


@lru_cache(maxsize=65536)  # pure; imports meet the same company domains again and again
def normalize_domain(value: str | None) -> str:
    """`https://www.Example.com/x` → `example.com`; free-mail domains give ''."""
    text = (value or "").strip().lower()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].strip(".")
    if text.startswith("www."):
        text = text[4:]
    if not text or "." not in text or text in FREE_MAIL_DOMAINS:
        return ""
    return text


def email_domain(email: str | None) -> str:
    email = normalize_email(email)
    if "@" not in email:
        return ""
    # the part after the last "@" is all normalize_domain keeps, so its memo sees each domain once
    # (unless that part starts with a space, which normalize_domain would not strip from it)
    domain = email.rpartition("@")[2]
    return normalize_domain(email if domain[:1].isspace() else domain)


def normalize_phone(value: str | None) -> str:
    """China numbers to `+86…`; others keep their international prefix; '' when there is no number.

    `138 0013 8000`, `+86 138-0013-8000`, `0086 13800138000`, `8613800138000` → `+8613800138000`;
    a landline `021-6123 4567` → `+862161234567`.
    """
    text = (value or "").strip()
    if not text:
        return ""
    plus = text.startswith("+")
    digits = _NON_DIGITS.sub("", text)
    if not digits:
        return ""
    if plus:
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    if digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
        return "+" + digits
    if len(digits) == 11 and digits[0] == "1":
        return "+86" + digits
    if digits.startswith("0") and 10 <= len(digits) <= 12:
        return "+86" + digits[1:]
    return "+" + digits if len(digits) > 11 else digits


def email_domains(emails: list[str | None], *, normalized: bool = False) -> list[str]:
    """email_domain() of each e-mail address of a column (`normalized`: they are normalize_email()'s)."""
    values = emails if normalized else list(map(normalize_email, emails))
    return [
        (normalize_domain(email if domain[:1].isspace() else domain) if at else "")
        for email, (_local, at, domain) in zip(values, map(str.rpartition, values, repeat("@")), strict=True)
    ]


def normalize_phones(values: list[str | None]) -> list[str]:
    """normalize_phone() of each value of a column, with a fast path for plain China mobile numbers."""
    if set(map(type, values)) <= {str}:
        return [
            "+86" + value if mobile else normalize_phone(value)
            for value, mobile in zip(values, map(_CHINA_MOBILE.fullmatch, values), strict=True)
        ]
    return list(map(normalize_phone, values))
