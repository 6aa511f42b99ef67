"""The one place that maps DomainError to API responses, and the API's authentication.

Every error body has the same shape::

    {"error": "invalid", "message": "email: enter a valid address",
     "errors": [{"field": "email", "reason": "enter a valid address"}]}
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.db.models import ProtectedError, RestrictedError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, SessionAuth

from ailab.common.errors import DomainError


def error_body(code: str, errors: list[dict[str, Any]]) -> dict[str, Any]:
    first = errors[0] if errors else {"field": None, "reason": code}
    message = f"{first['field']}: {first['reason']}" if first.get("field") else first["reason"]
    return {"error": code, "message": message, "errors": errors}


def _field_of(loc: list[Any]) -> str:
    # ninja locations look like ["body", "payload", "email"]; users know the last parts.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form", "payload")]
    return ".".join(parts) or "body"


OUT_OF_RANGE = "number out of range (at most 9223372036854775807)"
INT64_MAX = 2**63 - 1


def _too_big_param(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    candidates = list((match.kwargs if match else {}).items()) + list(request.GET.items())
    for name, value in candidates:
        text = str(value).lstrip("-")
        if text.isdigit() and int(text) > INT64_MAX:
            return str(name)
    return None


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return api.create_response(request, error_body(exc.code, exc.errors), status=exc.status)

    @api.exception_handler(NinjaValidationError)
    def validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors = [
            {"field": _field_of(list(e.get("loc", []))), "reason": e.get("msg", "invalid")}
            for e in exc.errors
        ]
        return api.create_response(request, error_body("invalid", errors), status=422)

    @api.exception_handler(AuthenticationError)
    def auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        body = error_body(
            "not_authenticated",
            [
                {
                    "field": None,
                    "reason": "authentication required: send 'Authorization: Bearer <token>'",
                }
            ],
        )
        return api.create_response(request, body, status=401)

    @api.exception_handler(RequestDataTooBig)
    def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        from django.conf import settings

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = error_body("too_large", [{"field": "body", "reason": f"at most {limit} bytes"}])
        return api.create_response(request, body, status=413)

    @api.exception_handler(ProtectedError)
    def protected(request: HttpRequest, exc: ProtectedError) -> HttpResponse:
        # A delete that other records still refer to: name what holds it.
        kinds = sorted({str(type(obj)._meta.verbose_name) for obj in exc.protected_objects})
        reason = "still referred to by: " + (", ".join(str(k) for k in kinds) or "other records")
        body = error_body("conflict", [{"field": None, "reason": reason}])
        return api.create_response(request, body, status=409)

    api.exception_handler(RestrictedError)(protected)

    @api.exception_handler(OverflowError)
    def out_of_range(request: HttpRequest, exc: Exception) -> HttpResponse:
        # A number the database cannot hold (an id or offset past 2**63): name the parameter.
        body = error_body("invalid", [{"field": _too_big_param(request), "reason": OUT_OF_RANGE}])
        return api.create_response(request, body, status=422)

    api.exception_handler(DataError)(out_of_range)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        body = error_body("error", [{"field": None, "reason": str(exc)}])
        return api.create_response(request, body, status=exc.status_code)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from ailab.accounts.services import token_authenticate

        user = token_authenticate(raw=token)
        if user is not None:
            request.user = user
        return user


class Session(SessionAuth):
    """The web pages' session, so the browser (and HTMX) can use the same API.

    A request without a signed-in session is simply unauthenticated (401), not a CSRF
    failure: the CSRF check only guards requests that a session would authorise."""

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)


AUTH = [BearerToken(), Session()]
