"""Signing in and out, registering, social sign-in, password reset, the language switch."""

from __future__ import annotations

import contextlib
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import conf, forms, labels
from portal.api import ApiError, ServiceUnavailableError, SignInRequiredError, client_for
from portal.api.session import current_user, sign_in, sign_out, stored_pair, update_user
from portal.api.types import TokenPair
from portal.middleware import note_unavailable
from portal.views.common import remember_language, safe_next, unavailable_message

SOCIAL_PROVIDERS = {"google": "Google", "facebook": "Facebook"}
SOCIAL_NEXT_KEY = "servidesk.social_next"
#: The nonce of the social login this browser started; it must come back with the code
#: (login CSRF: a code from a flow another browser started is refused).
SOCIAL_NONCE_KEY = "servidesk.social_nonce"


def start_session(request: HttpRequest, pair: TokenPair, target: str) -> HttpResponse:
    """Sign in with ``pair`` and go to ``target`` in the language of the user's profile."""
    sign_in(request, pair)
    response = HttpResponseRedirect(target)
    try:
        profile = client_for(request).accounts.me()
    except ApiError:
        return response  # the profile can wait; the tokens are what matters
    update_user(request, name=profile.full_name, language=profile.language)
    remember_language(response, profile.language)
    return response


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    target = safe_next(request)
    if current_user(request) is not None:
        return redirect(target)
    form = forms.LoginForm(request.POST or None)
    throttled: ApiError | None = None
    if request.method == "POST" and form.is_valid():
        try:
            pair = client_for(request).accounts.login(
                form.cleaned_data["username"], form.cleaned_data["password"]
            )
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            form.add_error(None, unavailable_message(exc))
        except ApiError as exc:
            forms.show_api_errors(form, exc)
            if exc.status == 429:
                # Held back for a while (too many failures for this account or address);
                # the answer keeps the status and the wait, and points at the reset link.
                form.add_error(None, _("If you have forgotten your password, you can reset it."))
                throttled = exc
        else:
            return start_session(request, pair, target)
    context = {"form": form, "next": target, "providers": SOCIAL_PROVIDERS}
    status = 429 if throttled else 400 if form.errors else 200
    response = render(request, "portal/auth/login.html", context, status=status)
    if throttled and throttled.retry_after:
        response["Retry-After"] = str(throttled.retry_after)
    return response


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    pair = stored_pair(request)
    if pair is not None:
        # The session ends here anyway; an unrevoked refresh token expires on its own.
        with contextlib.suppress(ApiError):
            client_for(request).accounts.logout(pair.refresh)
    sign_out(request)
    messages.success(request, _("You have signed out."))
    return redirect("portal:home")


@never_cache
@require_GET
def social_start(request: HttpRequest, provider: str) -> HttpResponse:
    """Remember where to return and bind the flow to this browser with a nonce kept in its
    session, then hand the browser to accounts' social-login flow (which sends the nonce
    back with the code)."""
    if provider not in SOCIAL_PROVIDERS:
        raise Http404
    nonce = secrets.token_urlsafe(32)
    request.session[SOCIAL_NEXT_KEY] = safe_next(request)
    request.session[SOCIAL_NONCE_KEY] = nonce
    query = urlencode({"web_nonce": nonce})
    return HttpResponseRedirect(f"{conf.accounts_browser_url()}/accounts/{provider}/login/?{query}")


def started_here(request: HttpRequest, returned: str) -> bool:
    """Whether ``returned`` is the nonce of the social login this browser started. The
    stored nonce is used up either way (single use)."""
    expected = request.session.pop(SOCIAL_NONCE_KEY, None)
    return (
        isinstance(expected, str)
        and bool(expected)
        and bool(returned)
        and constant_time_compare(expected, returned)
    )


@never_cache
@require_GET
def social_complete(request: HttpRequest) -> HttpResponse:
    """Where accounts sends the browser back: trade the one-time code for a token pair,
    only when this browser started the flow (the nonce it was given comes back)."""
    target = str(request.session.pop(SOCIAL_NEXT_KEY, "") or reverse("portal:home"))
    code = request.GET.get("code", "")
    nonce = request.GET.get("nonce", "")
    error = request.GET.get("error", "")
    from_this_browser = started_here(request, nonce)
    if code and not error and not from_this_browser:
        messages.error(
            request,
            _(
                "This sign-in was not started in this browser, so it was refused. "
                "Please choose how to sign in again."
            ),
        )
    elif code and not error:
        try:
            pair = client_for(request).accounts.social_exchange(code[:128], nonce)
        except ServiceUnavailableError as exc:
            messages.error(request, unavailable_message(exc))
        except ApiError:
            messages.error(request, _("That sign-in link has expired. Please try again."))
        else:
            return start_session(request, pair, target)
    else:
        reason = labels.SOCIAL_ERRORS.get(error, labels.SOCIAL_ERRORS["failed"])
        messages.error(request, str(reason))
    return redirect("portal:login")


@never_cache
@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if current_user(request) is not None:
        return redirect("portal:home")
    form = forms.RegisterForm(request.POST or None, initial={"language": request.LANGUAGE_CODE})
    if request.method == "POST" and form.is_valid():
        accounts = client_for(request).accounts
        try:
            accounts.register(form.api_data())
            pair = accounts.login(form.cleaned_data["username"], form.cleaned_data["password"])
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            form.add_error(None, unavailable_message(exc))
        except ApiError as exc:
            forms.show_api_errors(form, exc)
        else:
            messages.success(request, _("Welcome to Servidesk! Your account is ready."))
            messages.info(
                request,
                _(
                    "We have sent a link to %(email)s: open it to confirm the address, so "
                    "that we can email you about your tickets."
                )
                % {"email": form.cleaned_data["email"]},
            )
            return start_session(request, pair, reverse("portal:ticket_list"))
    return render(
        request, "portal/auth/register.html", {"form": form}, status=400 if form.errors else 200
    )


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordResetRequestForm(request.POST or None)
    sent = ""
    if request.method == "POST" and form.is_valid():
        try:
            sent = client_for(request).accounts.password_reset(form.cleaned_data["email"]) or _(
                "If an account uses this email address, a link to choose a new password "
                "is on its way."
            )
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            form.add_error(None, unavailable_message(exc))
        except ApiError as exc:
            forms.show_api_errors(form, exc)
    return render(request, "portal/auth/password_reset.html", {"form": form, "sent": sent})


@never_cache
@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def password_reset_confirm(request: HttpRequest, uid: str, token: str) -> HttpResponse:
    form = forms.PasswordResetConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client_for(request).accounts.password_reset_confirm(
                uid, token, form.cleaned_data["password"]
            )
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            form.add_error(None, unavailable_message(exc))
        except ApiError as exc:
            if {"uid", "token"} & set(exc.fields):
                form.add_error(
                    None, _("This link is not valid any more. Please ask for a new one.")
                )
            else:
                forms.show_api_errors(form, exc, {"new_password": "password"})
        else:
            messages.success(request, _("Your password has been changed. You can sign in now."))
            return redirect("portal:login")
    return render(request, "portal/auth/password_reset_confirm.html", {"form": form})


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the UI's language; a signed-in user's profile keeps the choice."""
    language = request.POST.get("language", "")
    response = redirect(safe_next(request))
    if language not in dict(settings.LANGUAGES):
        return response
    remember_language(response, language)
    if current_user(request) is not None:
        try:
            client_for(request).accounts.update_me({"language": language})
        except (ApiError, SignInRequiredError):
            pass  # the cookie still switches this browser; the profile can be saved later
        else:
            update_user(request, language=language)
    return response
