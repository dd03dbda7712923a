"""The JSON API under /api/v1/: one NinjaAPI, one router per app, one error shape."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from keyfit.core.errors import DomainError, ValidationFailed


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        from keyfit.users.services import api_token_authenticate

        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


api = NinjaAPI(
    title="keyfit API",
    version="1",
    description="Leads, pipeline, value cases, Triple Fit Canvas and joint plans. "
    "Authenticate with `Authorization: Bearer <personal token>` or the web session (with CSRF).",
    auth=[BearerTokenAuth(), ActiveSessionAuth()],
    urls_namespace="api",
)


def _error(request, status: int, code: str, message: str, fields=None, extra=None):
    body = {"code": code, "message": message, "fields": fields or {}}
    body.update(extra or {})
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc: NinjaValidationError):
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [str(p) for p in error.get("loc", []) if p not in ("body", "query", "path", "payload", "form")]
        key = ".".join(loc) or "__all__"
        fields.setdefault(key, []).append(error.get("msg", "invalid"))
    return _error(request, 422, "validation_error", str(ValidationFailed.default_message), fields)


@api.exception_handler(DjangoValidationError)
def on_django_validation_error(request, exc: DjangoValidationError):
    failed = ValidationFailed.from_django(exc)
    return api.create_response(request, failed.as_dict(), status=failed.status)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return _error(request, 401, "not_authenticated", "Authentication required: a bearer token or a session.")


@api.exception_handler(Http404)
def on_404(request, exc):
    return _error(request, 404, "not_found", "Not found.")


@api.exception_handler(ObjectDoesNotExist)
def on_does_not_exist(request, exc):
    return _error(request, 404, "not_found", "Not found.")


@api.exception_handler(DjangoPermissionDenied)
def on_permission_denied(request, exc):
    return _error(request, 403, "permission_denied", "You may not do this.")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return _error(request, exc.status_code, "http_error", str(exc))


def _mount() -> None:
    from keyfit.accounts.api import router as accounts_router
    from keyfit.analytics.api import router as analytics_router
    from keyfit.fitcanvas.api import router as fit_router
    from keyfit.imports.api import router as imports_router
    from keyfit.leads.api import router as leads_router
    from keyfit.pipeline.api import router as pipeline_router
    from keyfit.plans.api import router as plans_router
    from keyfit.scoring.api import router as scoring_router
    from keyfit.users.api import router as users_router
    from keyfit.valuecase.api import router as valuecase_router

    api.add_router("/", users_router)
    api.add_router("/", accounts_router)
    api.add_router("/", pipeline_router)
    api.add_router("/", leads_router)
    api.add_router("/", valuecase_router)
    api.add_router("/fit/", fit_router)
    api.add_router("/", plans_router)
    api.add_router("/", scoring_router)
    api.add_router("/", analytics_router)
    api.add_router("/", imports_router)


_mount()
