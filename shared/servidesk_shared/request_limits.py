"""Limits every API applies on its own, behind nginx or not: body size and write rates.

nginx refuses bodies over 10 MB and rate-limits per address at the edge; these hold when a
service is reached directly (the internal network, a misrouted proxy) and per user.

* ``RequestBodyLimitMiddleware`` answers 413 in the APIs' error shape for a declared body
  over ``DATA_UPLOAD_MAX_MEMORY_SIZE``. Django checks that limit only when something reads
  ``request.body`` or ``request.POST``; DRF's parsers read the raw stream instead, so
  without this a JSON body of any size would be read into memory and parsed.
* ``WriteUserRateThrottle`` and ``WriteAnonRateThrottle`` count only unsafe methods (POST,
  PUT, PATCH, DELETE): per user when signed in, per client address otherwise. Reads are
  left to nginx's zones. Rates come from ``SERVIDESK_THROTTLE_RATES`` (scopes
  ``write_user`` and ``write_anon``), not from DRF's ``DEFAULT_THROTTLE_RATES``, so a
  service that sets its own DRF rates (accounts) keeps working without listing these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:
    # Not at run time: DRF imports the throttle classes while it builds APIView.
    from rest_framework.request import Request
    from rest_framework.views import APIView

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def declared_length(request: HttpRequest) -> int | None:
    """The request's ``Content-Length``, or ``None`` when absent or not a number."""
    raw = request.META.get("CONTENT_LENGTH") or ""
    try:
        length = int(raw)
    except ValueError:
        return None
    return length if length >= 0 else None


def body_too_large_response(limit: int) -> JsonResponse:
    # Imported here: errors imports rest_framework.views, which imports this module's
    # throttles while it builds APIView.
    from servidesk_shared.errors import error_body  # noqa: PLC0415

    return JsonResponse(
        error_body(
            _("The request body is too large (at most %(limit)s bytes).") % {"limit": limit},
            code="request_too_large",
            limit=limit,
        ),
        status=413,
    )


class RequestBodyLimitMiddleware:
    """413 in the APIs' shape, before anything reads a body over the limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = declared_length(request)
        if limit is not None and length is not None and length > limit:
            return body_too_large_response(limit)
        return self.get_response(request)


class _WriteRateThrottle(SimpleRateThrottle):
    """A throttle that lets reads through and takes its rate from SERVIDESK_THROTTLE_RATES."""

    def get_rate(self) -> str | None:
        rates: dict[str, str | None] = getattr(settings, "SERVIDESK_THROTTLE_RATES", {})
        return rates.get(str(self.scope))

    def allow_request(self, request: Request, view: APIView) -> bool:
        # DRF makes a throttle per request, so the rate is read from settings each time.
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class WriteUserRateThrottle(_WriteRateThrottle):
    """Writes per signed-in user (the token's user id), on every service."""

    scope = "write_user"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        user: Any = request.user
        if not (user and user.is_authenticated):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


class WriteAnonRateThrottle(_WriteRateThrottle):
    """Anonymous writes per client address (X-Forwarded-For as nginx sets it)."""

    scope = "write_anon"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        user: Any = request.user
        if user and user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
