"""Google and Facebook sign-in: django-allauth does the handshake, we do the rest.

The browser flow, under ``/accounts/`` (outside the API prefix):

1. web links to ``/accounts/google/login/`` (or ``facebook``); allauth redirects to the
   provider and handles its callback.
2. ``SocialAccountAdapter.pre_social_login`` decides whose account it is: an account
   already connected to that provider login; else the account whose email the provider
   has *verified*; else a new client. An unverified email that matches an account, a
   missing email or an inactive account ends the flow with an error.
3. allauth logs the user into a short Django session and redirects to
   ``/accounts/social/complete/``, which ends that session, stores a single-use code
   (hashed, ``SOCIAL_LOGIN_CODE_TTL`` seconds) and redirects the browser to web's
   ``SOCIAL_LOGIN_COMPLETE_PATH?code=...``; no token ever appears in a URL.
4. web posts the code to ``/api/accounts/auth/social/exchange/`` from its server and gets
   the same ``{access, refresh}`` pair as a password login.

Any failure redirects to ``SOCIAL_LOGIN_COMPLETE_PATH?error=<reason>`` where reason is
one of ``cancelled``, ``failed``, ``email_required``, ``email_in_use``, ``inactive``,
``unavailable`` (the provider is not configured here).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from allauth.socialaccount.providers.base import AuthError
from django.conf import settings
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import get_language_from_request
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from users import events, services
from users.models import Language, Role, User, normalize_email


def web_redirect(**params: str) -> HttpResponseRedirect:
    """A redirect to web's social-login page with ``params`` in the query string."""
    url = f"{settings.WEB_BASE_URL}{settings.SOCIAL_LOGIN_COMPLETE_PATH}"
    return HttpResponseRedirect(f"{url}?{urlencode(params)}")


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """allauth's account side: every successful handshake ends at our completion view."""

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("social-complete")

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        return reverse("social-complete")

    def respond_user_inactive(self, request: HttpRequest, user: Any) -> HttpResponse:
        return web_redirect(error="inactive")

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return True


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        # Where the flow ends is ours to decide, not a ``next`` parameter's.
        sociallogin.state.pop("next", None)
        if sociallogin.is_existing:
            if not sociallogin.user.is_active:
                raise ImmediateHttpResponse(web_redirect(error="inactive"))
            return
        emails = [
            (normalize_email(address.email), bool(address.verified))
            for address in sociallogin.email_addresses
            if address.email
        ]
        if not emails:
            raise ImmediateHttpResponse(web_redirect(error="email_required"))
        user, verified = services.social_login_user_for(emails)
        if user is None:
            return  # a new client, created by save_user
        if not verified:
            raise ImmediateHttpResponse(web_redirect(error="email_in_use"))
        if not user.is_active:
            raise ImmediateHttpResponse(web_redirect(error="inactive"))
        services.social_login_connect(user=user)
        sociallogin.connect(request, user)

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: Any) -> User:
        user: User = super().populate_user(request, sociallogin, data)
        extra = sociallogin.account.extra_data or {}
        name = (
            data.get("name")
            or extra.get("name")
            or " ".join(part for part in (data.get("first_name"), data.get("last_name")) if part)
        )
        user.full_name = (name or "")[:150]
        user.email = normalize_email(user.email)
        user.role = Role.CLIENT
        language = get_language_from_request(request)
        user.language = language if language in Language.values else Language.SPANISH
        user.email_verified = any(
            address.verified and normalize_email(address.email) == user.email
            for address in sociallogin.email_addresses
        )
        return user

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> Any:
        """A new client from a social login, announced like any registration."""
        with transaction.atomic():
            user = super().save_user(request, sociallogin, form)
            events.user_registered(user)
        return user

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        reason = "cancelled" if error == AuthError.CANCELLED else "failed"
        raise ImmediateHttpResponse(web_redirect(error=reason))


@never_cache
@require_GET
def social_complete(request: HttpRequest) -> HttpResponse:
    """The end of a successful handshake: trade the Django session for a one-time code."""
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return web_redirect(error="failed")
    code = services.social_login_code_issue(user=user)
    logout(request)
    return web_redirect(code=code)


def unavailable_when_unconfigured(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A provider without ``<PROVIDER>_CLIENT_ID`` sends the browser back, it does not 500."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except SocialApp.DoesNotExist:
            return web_redirect(error="unavailable")

    return guarded


def to_web(error: str) -> Any:
    """A view standing in for one of allauth's pages: it sends the browser back to web."""

    @never_cache
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return web_redirect(error=error)

    return view
