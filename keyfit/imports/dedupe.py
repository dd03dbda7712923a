"""The dedupe normalisers of leads, with a local fallback until the leads app lands in this branch."""

try:  # the one rule set lives in keyfit.leads
    from keyfit.leads.normalize import email_domain, normalize_domain, normalize_email, normalize_phone
except ImportError:  # pragma: no cover - only before the leads app is merged
    import re

    _NON_DIGITS = re.compile(r"[^\d]")

    def normalize_email(value):
        return (value or "").strip().lower()

    def normalize_domain(value):
        text = (value or "").strip().lower()
        if "@" in text:
            text = text.rsplit("@", 1)[1]
        for prefix in ("https://", "http://"):
            if text.startswith(prefix):
                text = text[len(prefix) :]
        text = text.split("/", 1)[0].strip(".")
        return text[4:] if text.startswith("www.") else text

    def email_domain(email):
        email = normalize_email(email)
        return normalize_domain(email) if "@" in email else ""

    def normalize_phone(value):
        digits = _NON_DIGITS.sub("", value or "")
        return ("+" + digits) if (value or "").strip().startswith("+") else digits


__all__ = ["email_domain", "normalize_domain", "normalize_email", "normalize_phone"]
