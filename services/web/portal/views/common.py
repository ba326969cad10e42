"""Helpers the views share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from portal.api import ServiceUnavailableError
from portal.api.session import SessionUser, current_user
from portal.middleware import note_unavailable

T = TypeVar("T")


def attempt(request: HttpRequest, call: Callable[[], T], default: T) -> T:
    """``call()``, or ``default`` when its service is unavailable (the page says so)."""
    try:
        return call()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        return default


def user_of(request: HttpRequest) -> SessionUser:
    """The signed-in user of a view behind ``signed_in`` (or a role check)."""
    user = current_user(request)
    assert user is not None  # noqa: S101 (the decorators guarantee it)
    return user


def safe_next(request: HttpRequest, default: str | None = None) -> str:
    """The ``next`` target of the request, if it is a path of this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and not target.startswith(reverse("portal:login"))
    ):
        return target
    return default or reverse("portal:home")


def remember_language(response: HttpResponse, language: str) -> None:
    """The UI's language for this browser (the profile keeps it for the account)."""
    if language not in dict(settings.LANGUAGES):
        return
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE or None,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY or None,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
