"""Helpers the views share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from portal.api import ApiError, ServiceUnavailableError, client_for
from portal.api.session import SessionUser, current_user
from portal.forms import show_api_errors
from portal.middleware import back_path, note_unavailable

T = TypeVar("T")


def attempt(request: HttpRequest, call: Callable[[], T], default: T) -> T:
    """``call()``, or ``default`` when its service is unavailable (the page says so)."""
    try:
        return call()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        return default


def optional(request: HttpRequest, call: Callable[[], T], default: T) -> T:
    """``call()`` for a part of a page that can go without it: ``default`` when its
    service is unavailable (the page says so) or refuses (the page shows the rest)."""
    try:
        return attempt(request, call, default)
    except ApiError:
        return default


def unavailable_message(error: ServiceUnavailableError) -> str:
    return _("%(service)s is not available right now. Please try again in a moment.") % {
        "service": error.label
    }


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
        secure=bool(settings.LANGUAGE_COOKIE_SECURE),
        httponly=bool(settings.LANGUAGE_COOKIE_HTTPONLY),
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]  # a str setting
    )


#: Category names change rarely; each process keeps them this many seconds.
CATEGORY_NAMES_TTL = 60


def _category_key(staff: bool) -> str:
    # Staff also see inactive categories; clients only the active ones.
    return f"servidesk:category-names:{'staff' if staff else 'client'}"


def category_names(request: HttpRequest) -> dict[str, str]:
    """Category names by slug (tickets name their category by slug), or {} if unavailable."""
    user = current_user(request)
    key = _category_key(bool(user and user.is_staff))
    names: dict[str, str] | None = cache.get(key)
    if names is None:
        try:
            categories = attempt(request, client_for(request).tickets.categories, None)
        except ApiError:
            categories = None
        if categories is None:
            return {}
        names = {category.slug: category.name for category in categories}
        cache.set(key, names, CATEGORY_NAMES_TTL)
    return names


def forget_category_names() -> None:
    cache.delete_many([_category_key(True), _category_key(False)])


_TEAMS_KEY = "servidesk:team-names"


def team_names(request: HttpRequest) -> dict[str, str] | None:
    """Team names by id (staff read them), kept for as long as category names; None when
    tickets cannot say (the page goes on without them)."""
    names: dict[str, str] | None = cache.get(_TEAMS_KEY)
    if names is None:
        teams = optional(request, client_for(request).tickets.teams, None)
        if teams is None:
            return None
        names = {str(team.id): team.name for team in teams}
        cache.set(_TEAMS_KEY, names, CATEGORY_NAMES_TTL)
    return names


def forget_team_names() -> None:
    cache.delete(_TEAMS_KEY)


def save_form(request: HttpRequest, form: Form, call: Callable[[], Any], done: str) -> bool:
    """Send a valid ``form`` with ``call``; its errors go next to its fields."""
    try:
        call()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        form.add_error(None, unavailable_message(exc))
        return False
    except ApiError as exc:
        show_api_errors(form, exc)
        return False
    messages.success(request, done)
    return True


def report_change(request: HttpRequest, call: Callable[[], Any], done: str) -> HttpResponse:
    """A one-button change: its outcome is a message on the page it came from."""
    try:
        call()
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    except ApiError as exc:
        detail = " ".join(m for msgs in exc.fields.values() for m in msgs)
        messages.error(request, f"{exc.message} {detail}".strip())
    else:
        messages.success(request, done)
    return redirect(back_path(request))
