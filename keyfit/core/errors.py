"""Domain errors with stable codes. One handler (config/api.py) maps them to HTTP and to form errors.

The error shape of the API is always ``{"code": str, "message": str, "fields": {name: [messages]}}``.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "error"
    status = 400
    default_message = _("The request could not be processed.")

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = str(message if message is not None else self.default_message)
        if code:
            self.code = code
        self.fields = {key: [str(m) for m in msgs] for key, msgs in (fields or {}).items()}
        self.extra = extra or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "fields": self.fields}
        body.update(self.extra)
        return body


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 422
    default_message = _("Some fields are not valid.")

    @classmethod
    def from_django(cls, error: DjangoValidationError, prefix: str = "") -> "ValidationFailed":
        if hasattr(error, "error_dict"):
            fields = {
                (f"{prefix}{key}" if key != "__all__" else "__all__"): [m for e in errs for m in e.messages]
                for key, errs in error.error_dict.items()
            }
        else:
            fields = {"__all__": list(error.messages)}
        return cls(fields=fields)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = _("Not found.")


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    default_message = _("You may read this record but not change it.")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_message = _("Someone else changed this record; reload and try again.")


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    default_message = _("Too many attempts. Please wait a few minutes and try again.")


def field_error(field: str, message: Any) -> ValidationFailed:
    return ValidationFailed(fields={field: [str(message)]})
