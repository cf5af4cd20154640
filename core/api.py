"""REST plumbing shared by every app: the error envelope and small helpers for views."""

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import re_path
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .errors import ApplicationError
from .outage import (
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_CODE,
    database_unavailable_reason,
)
from .parsers import body_too_large


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error answers ``{"detail": ..., "code": ...}`` (plus ``errors`` per field).

    The database failing under the request (``core.outage``) answers 503
    ``database_unavailable`` with ``Retry-After``, never 500."""
    reason = database_unavailable_reason(exc)
    if reason is not None:
        set_rollback()
        unavailable = Response(
            {"detail": reason, "code": DATABASE_UNAVAILABLE_CODE},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        unavailable["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return unavailable
    if isinstance(exc, ApplicationError):
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code, **exc.extra}
        if exc.status_code == status.HTTP_409_CONFLICT:
            body.setdefault("success", False)
            body.setdefault("reason", exc.message)
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.messages)
    if isinstance(exc, RequestDataTooBig):
        exc = body_too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _first_message(exc.detail),
            "code": "invalid",
            "errors": exc.detail,
        }
    elif isinstance(exc, exceptions.APIException):
        detail, codes = exc.detail, exc.get_codes()
        if isinstance(detail, dict) and "detail" in detail:
            # simplejwt's shape: {"detail": ..., "code": ..., "messages": [...]}
            response.data = {
                "detail": str(detail["detail"]),
                "code": str(detail.get("code", "error")),
            }
        else:
            response.data = {
                "detail": _first_message(detail),
                "code": codes if isinstance(codes, str) else "error",
            }
    return response


def api_route(route: str, view: Any, name: str) -> Any:
    """A URL pattern whose trailing slash is optional (docs/api.md: REST)."""
    return re_path(rf"^{route}/?$", view, name=name)
