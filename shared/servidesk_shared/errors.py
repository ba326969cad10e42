"""One error shape for every API: ``{"message": str, "extra": {...}}``.

Validation failures add ``extra.fields``: ``{field: [message, ...]}``, nested fields
joined with dots. Everything else keeps ``extra`` for a machine-readable ``code``.

The handler only answers: it owns no transaction. A service function owns its own, so a
refusal raised inside it takes its writes back, and a write it must keep while refusing
(a counted failure) is committed by the service before it raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A domain rule refused the request; views let it through to the handler."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(
        self, message: str, *, extra: dict[str, Any] | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


class ConflictError(ApplicationError):
    status_code: int = status.HTTP_409_CONFLICT


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extra": extra}


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: every handled error in the one shape."""
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.message, **exc.extra), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, dict(context))
    if response is None or not isinstance(exc, exceptions.APIException):
        return response

    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_field_errors(response.data)
        response.data = error_body(_("The data sent is not valid."), fields=fields)
    else:
        detail: Any = exc.detail
        if isinstance(detail, dict):
            # simplejwt sends {"detail": ..., "code": ..., "messages": [...]}.
            message = str(detail.get("detail", exc.default_detail))
            code = str(detail.get("code", exc.default_code))
        else:
            message = str(detail)
            code = getattr(detail, "code", None) or exc.default_code
        response.data = error_body(message, code=code)
    return response


def flatten_field_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as ``{"a.b.0.c": [str, ...]}``."""
    if isinstance(data, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and prefix:
                name = prefix
            flat.update(flatten_field_errors(value, name))
        return flat
    if isinstance(data, list) and any(isinstance(item, (Mapping, list)) for item in data):
        flat = {}
        for index, item in enumerate(data):
            flat.update(flatten_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = [str(item) for item in data] if isinstance(data, list) else [str(data)]
    return {prefix or "non_field_errors": messages}


@csrf_exempt  # a bearer-token API: an unknown path is 404 for every method, never CSRF's 403
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """The last route under a service's prefix: an unknown path is a JSON 404."""
    extra: dict[str, Any] = {"code": "not_found"}
    if not request.path.endswith("/"):
        try:
            resolve(request.path + "/")
        except Resolver404:
            pass
        else:
            # Slashes are part of the contract and a redirect would drop a POST body.
            extra["hint"] = _("Did you mean %(path)s?") % {"path": request.path + "/"}
    return JsonResponse(
        error_body(_("No route matches %(path)s.") % {"path": request.path}, **extra),
        status=404,
    )


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(_("Bad request."), code="bad_request"), status=400)


def json_permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> JsonResponse:
    return JsonResponse(
        error_body(_("You do not have permission to do this."), code="permission_denied"),
        status=403,
    )


def json_page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return api_not_found(request)


def json_server_error(request: HttpRequest) -> JsonResponse:
    # No detail on purpose: the request id in the header leads to the logged traceback.
    return JsonResponse(
        error_body(_("Something went wrong on our side. Please try again."), code="server_error"),
        status=500,
    )


def database_unavailable_response() -> JsonResponse:
    response = JsonResponse(
        error_body(
            _("The service is temporarily unavailable. Please try again shortly."),
            code="service_unavailable",
        ),
        status=503,
    )
    response["Retry-After"] = "5"
    return response


class UnavailableDatabaseMiddleware:
    """A lost database answers 503 with ``Retry-After``, not a 500: it is transient."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.warning("database unavailable: %s", exception)
            return database_unavailable_response()
        return None
