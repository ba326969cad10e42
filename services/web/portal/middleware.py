"""What happens when an API call fails unhandled, and the timing header."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from portal.api import ApiError, ServiceUnavailableError, SignInRequiredError
from portal.api.session import current_user, sign_out

logger = logging.getLogger(__name__)

_UNAVAILABLE_ATTR = "_servidesk_unavailable"


def note_unavailable(request: HttpRequest, error: ServiceUnavailableError) -> None:
    """Remember that a part of the page could not be loaded (the page says so)."""
    found: dict[str, str] = getattr(request, _UNAVAILABLE_ATTR, {})
    found[error.service] = error.label
    setattr(request, _UNAVAILABLE_ATTR, found)


def unavailable(request: HttpRequest) -> list[str]:
    return list(getattr(request, _UNAVAILABLE_ATTR, {}).values())


def back_path(request: HttpRequest) -> str:
    """Where a POST came from (its Referer, when it is ours), for a redirect after it."""
    referer = str(request.META.get("HTTP_REFERER", ""))
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return reverse("portal:home")


def login_redirect(request: HttpRequest, *, expired: bool = False) -> HttpResponseRedirect:
    """To the sign-in page, coming back to this page afterwards."""
    target = request.get_full_path() if request.method == "GET" else back_path(request)
    if expired or current_user(request) is not None:
        sign_out(request)
        messages.info(request, _("Your session has ended. Please sign in again."))
    return HttpResponseRedirect(f"{reverse('portal:login')}?{urlencode({'next': target})}")


class ApiMiddleware:
    """Turns an API failure no view handled into a page, never a 500:

    * sign-in required (no session, or its refresh token expired) → the sign-in page, with
      the page the user wanted kept in ``next``;
    * a service unavailable → a 503 page naming it;
    * another API error (404, 403, ...) → an error page with the API's message.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, SignInRequiredError):
            return login_redirect(request, expired=exception.expired)
        if isinstance(exception, ServiceUnavailableError):
            note_unavailable(request, exception)
            return render(request, "portal/unavailable.html", {"error": exception}, status=503)
        if isinstance(exception, ApiError):
            status = exception.status if exception.status in (403, 404, 409, 410) else 400
            if exception.status == 404:
                message = _("This page does not exist, or you do not have access to it.")
            else:
                message = exception.message
            return render(
                request, "portal/error.html", {"message": message, "status": status}, status=status
            )
        return None


class ServerTimingMiddleware:
    """``Server-Timing: app;dur=<ms>`` on every answer: the time spent in this process."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f"app;dur={elapsed:.1f}"
        return response
