"""Google and Facebook sign-in and linking: django-allauth does the handshake, we do the rest.

Signing in, under ``/accounts/`` (outside the API prefix):

1. web's ``/login/social/<provider>/`` keeps a random nonce in web's session and sends the
   browser to ``/accounts/<provider>/login/?web_nonce=<nonce>``; the nonce is kept in
   accounts' own session (``servidesk_accounts_session``, apart from web's
   ``servidesk_session``). A start without a well-formed nonce goes back with ``failed``.
2. allauth redirects to the provider and handles its callback.
   ``SocialAccountAdapter.pre_social_login`` decides whose account it is: an account
   already connected to that provider login; else, only when the provider verified the
   email *and* the account confirmed it, and the account is not staff, the account with
   that email (``services.social_login_may_link``); else, with no account using the
   email, a new client. Any other account using that email ends the flow with
   ``email_in_use`` (its owner signs in and links from the profile, or takes the account
   back with a password reset). A missing email or an inactive account ends it too.
3. allauth logs the user into a short Django session and redirects to
   ``/accounts/social/complete/``, which ends that session, stores a single-use code
   (hashed, ``SOCIAL_LOGIN_CODE_TTL`` seconds, with a hash of the nonce) and redirects the
   browser to web's ``SOCIAL_LOGIN_COMPLETE_PATH?code=...&nonce=...``; no token ever
   appears in a URL.
4. web checks the nonce against its session and posts ``code`` and ``nonce`` to
   ``/api/accounts/auth/social/exchange/`` from its server; it gets the same
   ``{access, refresh}`` pair as a password login. A code meant for another browser (a
   login CSRF) fails there, since that browser's nonce is not the code's.

Any failure redirects to ``SOCIAL_LOGIN_COMPLETE_PATH?error=<reason>`` where reason is
one of ``cancelled``, ``failed``, ``email_required``, ``email_in_use``, ``inactive``,
``unavailable`` (the provider is not configured here).

Linking, from the profile of a signed-in user: ``POST /api/accounts/me/social/link/``
answers ``/accounts/social/link/?token=<single-use token>``; web adds
``&web_nonce=<nonce>`` (kept in web's session, as for a sign-in) and sends the browser
there. It starts the provider's flow (allauth's ``connect`` process) for that user,
without signing the browser into accounts. The provider's callback links nothing: it
keeps the provider login as a pending link (``services.social_link_pending_issue``) and
sends the browser to web's ``SOCIAL_LINK_COMPLETE_PATH?link_code=<code>``. Web, for its
signed-in user, confirms the code with ``POST /api/accounts/me/social/link/confirm/``
``{code, nonce}``: only the user who started the link, from the browser that started it,
gets the link (a link URL handed to a victim links the victim's provider login to no
one). Web then shows ``?linked=<provider>`` or ``?link_error=<reason>``. Reasons from
here: ``expired`` (the token), ``already_linked`` (that provider login belongs to
another user: it is never moved), ``cancelled``, ``failed``, ``inactive``,
``unavailable``. Linking copies nothing to the account (no phone, no notification
settings).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from allauth.socialaccount.providers.base import AuthError, AuthProcess
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

#: accounts' session keys: web's nonce of a sign-in; the user, provider and web's nonce
#: of a link.
NONCE_SESSION_KEY = "servidesk_web_nonce"
LINK_SESSION_KEY = "servidesk_social_link"
#: What web may send as ``web_nonce`` (``secrets.token_urlsafe`` gives 43 of these).
WEB_NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")
#: Seconds a started link may take at the provider.
LINK_FLOW_SECONDS = 15 * 60


def web_redirect(**params: str) -> HttpResponseRedirect:
    """A redirect to web's social-login page with ``params`` in the query string."""
    url = f"{settings.WEB_BASE_URL}{settings.SOCIAL_LOGIN_COMPLETE_PATH}"
    return HttpResponseRedirect(f"{url}?{urlencode(params)}")


def profile_redirect(**params: str) -> HttpResponseRedirect:
    """A redirect to web's profile, where a link started (``linked`` or ``link_error``)."""
    url = f"{settings.WEB_BASE_URL}{settings.SOCIAL_LINK_COMPLETE_PATH}"
    return HttpResponseRedirect(f"{url}?{urlencode(params)}")


def _link_in_progress(request: HttpRequest) -> dict[str, Any] | None:
    """The link this browser started (``{"user", "provider", "until"}``), if still on."""
    link = request.session.get(LINK_SESSION_KEY)
    if not isinstance(link, dict) or link.get("until", 0) < time.time():
        return None
    return link


def end_flow(request: HttpRequest, error: str) -> HttpResponseRedirect:
    """Leave a failed flow: a link goes back to the profile, a sign-in to web's login."""
    linking = _link_in_progress(request) is not None
    logout(request)  # also forgets the nonce and the link
    if linking:
        return profile_redirect(link_error=error)
    return web_redirect(error=error)


def _link_user(request: HttpRequest) -> User | None:
    link = _link_in_progress(request)
    if link is None:
        return None
    user = User.objects.filter(pk=link["user"], is_active=True).first()
    return user


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """allauth's account side: every successful handshake ends at our completion view."""

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("social-complete")

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        return reverse("social-complete")

    def respond_user_inactive(self, request: HttpRequest, user: Any) -> HttpResponse:
        return end_flow(request, "inactive")

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return True


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        # Where the flow ends is ours to decide, not a ``next`` parameter's.
        sociallogin.state.pop("next", None)
        if sociallogin.state.get("process") == AuthProcess.CONNECT:
            self._pre_link(request, sociallogin)
            return
        if sociallogin.is_existing:
            if not sociallogin.user.is_active:
                raise ImmediateHttpResponse(end_flow(request, "inactive"))
            return
        emails = [
            (normalize_email(address.email), bool(address.verified))
            for address in sociallogin.email_addresses
            if address.email
        ]
        if not emails:
            raise ImmediateHttpResponse(end_flow(request, "email_required"))
        user, verified = services.social_login_user_for(emails)
        if user is None:
            return  # a new client, created by save_user
        if not user.is_active:
            raise ImmediateHttpResponse(end_flow(request, "inactive"))
        if not services.social_login_may_link(user=user, provider_verified=verified):
            raise ImmediateHttpResponse(end_flow(request, "email_in_use"))
        with transaction.atomic():  # allauth writes the user, the provider login, its token
            sociallogin.connect(request, user)

    def _pre_link(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """A link from the profile: the provider login waits for web to confirm it as
        the user who started the link, from the browser that started it (it is never
        linked here: whoever opened the link URL may not be that user). A provider login
        that already belongs to someone else is refused at once (it is never moved)."""
        user = _link_user(request)
        nonce = (_link_in_progress(request) or {}).get("nonce")
        if user is None or request.user != user or not isinstance(nonce, str) or not nonce:
            raise ImmediateHttpResponse(end_flow(request, "failed"))
        if sociallogin.is_existing and sociallogin.user.pk != user.pk:
            raise ImmediateHttpResponse(end_flow(request, "already_linked"))
        code = services.social_link_pending_issue(
            user=user,
            provider=sociallogin.account.provider,
            uid=sociallogin.account.uid,
            extra_data=sociallogin.account.extra_data or {},
            nonce=nonce,
        )
        logout(request)
        raise ImmediateHttpResponse(profile_redirect(link_code=code))

    def get_connect_redirect_url(self, request: HttpRequest, socialaccount: Any) -> str:
        return reverse("social-link-complete")

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
        raise ImmediateHttpResponse(end_flow(request, reason))


@never_cache
@require_GET
def social_complete(request: HttpRequest) -> HttpResponse:
    """The end of a successful handshake: trade the Django session for a one-time code
    that only the nonce web started the flow with can exchange."""
    user = request.user
    nonce = request.session.get(NONCE_SESSION_KEY, "")
    if not user.is_authenticated or not user.is_active or not nonce:
        return end_flow(request, "failed")
    code = services.social_login_code_issue(user=user, nonce=nonce)
    logout(request)
    return web_redirect(code=code, nonce=nonce)


@never_cache
@require_GET
def social_link(request: HttpRequest) -> HttpResponse:
    """Open a link URL from ``me/social/link/`` (with web's ``web_nonce``): start the
    provider's flow for its user.

    The browser is not signed into accounts: the session only remembers which user and
    provider this link is for, and web's nonce, for ``LINK_FLOW_SECONDS``. Without a
    well-formed nonce the token is not spent and the browser goes back (``failed``).
    """
    token = request.GET.get("token", "")
    nonce = request.GET.get("web_nonce", "")
    logout(request)  # whatever this browser was doing here before
    if not WEB_NONCE.fullmatch(nonce):
        return profile_redirect(link_error="failed")
    entry = services.social_link_begin(token=token) if 0 < len(token) <= 128 else None
    if entry is None:
        return profile_redirect(link_error="expired")
    request.session[LINK_SESSION_KEY] = {
        "user": entry.user_id,
        "provider": entry.provider,
        "nonce": nonce,
        "until": time.time() + LINK_FLOW_SECONDS,
    }
    request.session.set_expiry(LINK_FLOW_SECONDS)
    start = reverse(f"{entry.provider}_login")
    return HttpResponseRedirect(f"{start}?{urlencode({'process': AuthProcess.CONNECT})}")


def start_bound_to_browser(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """allauth's provider login view, for the two ways we start it.

    A sign-in must bring web's ``web_nonce`` (kept in this session for the code); a link
    (``process=connect``) must be the one this session's link URL started.
    """

    @wraps(view)
    def start(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        process = request.GET.get("process", AuthProcess.LOGIN)
        if process == AuthProcess.CONNECT:
            user = _link_user(request)
            if user is None:
                return end_flow(request, "failed")
            return view(request, *args, **kwargs)
        nonce = request.GET.get("web_nonce", "")
        if process != AuthProcess.LOGIN or not WEB_NONCE.fullmatch(nonce):
            return end_flow(request, "failed")
        logout(request)  # a fresh session: no earlier user, link or nonce
        request.session[NONCE_SESSION_KEY] = nonce
        return view(request, *args, **kwargs)

    return start


def callback_as_link_user(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """allauth's provider callback; during a link, ``request.user`` is the linking user
    (allauth's connect needs one) without the browser being signed in."""

    @wraps(view)
    def callback(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = _link_user(request)
        if user is not None:
            request.user = user
        return view(request, *args, **kwargs)

    return callback


def unavailable_when_unconfigured(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A provider without ``<PROVIDER>_CLIENT_ID`` sends the browser back, it does not 500."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except SocialApp.DoesNotExist:
            return end_flow(request, "unavailable")

    return guarded


def to_web(error: str) -> Any:
    """A view standing in for one of allauth's pages: it sends the browser back to web."""

    @never_cache
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return end_flow(request, error)

    return view
