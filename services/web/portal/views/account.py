"""The home page, the user's profile (with the confirmation of its email address and
phone number, and staff's social-login links) and password, and the notification feed."""

from __future__ import annotations

import contextlib
import re
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import conf, forms, labels
from portal.api import ApiError, ServiceUnavailableError, client_for
from portal.api.session import current_user, store_pair, update_user
from portal.api.types import Notification, Page, Profile
from portal.decorators import signed_in, staff_required
from portal.middleware import note_unavailable
from portal.views.auth import SOCIAL_PROVIDERS
from portal.views.common import attempt, optional, remember_language, unavailable_message, user_of
from portal.views.tickets import ticket_url

#: A confirmation token is a signed value; anything longer is not one of ours.
EMAIL_TOKEN_MAX = 512
_FLOW_PATH = re.compile(r"^/accounts/[A-Za-z0-9_./-]*$")
_PROVIDER_HOSTS = {"google": "accounts.google.com", "facebook": "www.facebook.com"}
#: The nonce of the social link this browser started; it goes to accounts as
#: ``web_nonce`` and with the confirmation (a link finished in another browser is refused).
SOCIAL_LINK_NONCE_KEY = "servidesk.social_link_nonce"
#: accounts' codes are ``secrets.token_urlsafe(32)``; anything longer is not one.
LINK_CODE_MAX = 128


def api_problem(error: ApiError) -> str:
    """What an API's refusal says, for a page with no form field to put it next to: the
    first field error (the specific words), else the message."""
    for problems in error.fields.values():
        if problems:
            return problems[0]
    return error.message


def home(request: HttpRequest) -> HttpResponse:
    if current_user(request) is not None:
        return redirect("portal:ticket_list")
    return render(request, "portal/home.html")


def profile_form(request: HttpRequest, me: Profile, data: Any = None) -> forms.ProfileForm:
    initial = {
        "full_name": me.full_name,
        "email": me.email,
        "phone": me.phone,
        "language": me.language or request.LANGUAGE_CODE,
        "notify_email": me.notify_email,
        "notify_sms": me.notify_sms,
    }
    return forms.ProfileForm(data, initial=initial)


def phone_code_form(data: Any = None) -> forms.PhoneCodeForm:
    return forms.PhoneCodeForm(data, prefix="sms")


def link_providers(request: HttpRequest) -> list[tuple[str, str]]:
    """The social logins a staff member may link from the profile: those configured at
    accounts (staff accounts are never linked automatically by email)."""
    if not user_of(request).is_staff:
        return []
    try:
        configured: list[str] = attempt(request, client_for(request).accounts.social_providers, [])
    except ApiError:
        configured = []
    return [(id, name) for id, name in SOCIAL_PROVIDERS.items() if id in configured]


def note_link_result(request: HttpRequest) -> None:
    """The answer of a provider link, as accounts sends the browser back to the profile."""
    linked = request.GET.get("linked", "")
    reason = request.GET.get("link_error", "")
    if linked in SOCIAL_PROVIDERS:
        messages.success(
            request,
            _("Your %(provider)s account is linked: you can use it to sign in.")
            % {"provider": SOCIAL_PROVIDERS[linked]},
        )
    elif reason:
        messages.error(request, str(labels.LINK_ERRORS.get(reason, labels.LINK_ERRORS["failed"])))


def profile_with(**params: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse('portal:profile')}?{urlencode(params)}")


def finish_link(request: HttpRequest, code: str) -> HttpResponse:
    """accounts sent the browser back with ``?link_code=``: the provider login waits to be
    linked. Confirm it as the signed-in user with this browser's nonce; accounts links it
    only to the user who started the link, from this browser (an attacker's link URL
    opened here links nothing), and uses the code up either way."""
    nonce = request.session.get(SOCIAL_LINK_NONCE_KEY, "")
    if not isinstance(nonce, str):
        nonce = ""
    if not code or len(code) > LINK_CODE_MAX:
        return profile_with(link_error="expired")
    try:
        provider = client_for(request).accounts.social_link_confirm(code, nonce)
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
        return redirect("portal:profile")
    except ApiError as exc:
        request.session.pop(SOCIAL_LINK_NONCE_KEY, None)
        reason = exc.code if exc.code in labels.LINK_ERRORS else "failed"
        return profile_with(link_error=reason)
    request.session.pop(SOCIAL_LINK_NONCE_KEY, None)
    if provider not in SOCIAL_PROVIDERS:
        return profile_with(link_error="failed")
    return profile_with(linked=provider)


def render_profile(
    request: HttpRequest,
    me: Profile,
    form: forms.ProfileForm,
    code_form: forms.PhoneCodeForm | None = None,
) -> HttpResponse:
    code_form = code_form or phone_code_form()
    context = {
        "form": form,
        "code_form": code_form,
        "me": me,
        "link_providers": link_providers(request),
        "availability": availability_form(request),
    }
    status = 400 if form.errors or code_form.errors else 200
    return render(request, "portal/account/profile.html", context, status=status)


@signed_in
@sensitive_post_parameters("current_password")
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and "link_code" in request.GET:
        return finish_link(request, request.GET["link_code"])
    accounts = client_for(request).accounts
    me = accounts.me()
    if request.method == "GET":
        note_link_result(request)
    form = profile_form(request, me, request.POST or None)
    if request.method == "POST" and form.is_valid():
        changes = form.api_data(current_email=me.email)
        try:
            saved = accounts.update_me(changes)
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            form.add_error(None, unavailable_message(exc))
        except ApiError as exc:
            forms.show_api_errors(form, exc)
        else:
            update_user(request, name=saved.full_name, language=saved.language)
            messages.success(request, _("Your profile is saved."))
            if "email" in changes:
                # The same words whether or not another account uses the address.
                messages.info(
                    request,
                    _(
                        "We have sent a link to %(email)s. Your email address changes once "
                        "you open it; until then we keep using the current one."
                    )
                    % {"email": changes["email"]},
                )
            if saved.phone and saved.phone != me.phone and not saved.phone_verified:
                messages.info(
                    request,
                    _("We have sent a code by SMS to %(phone)s. Enter it below to verify it.")
                    % {"phone": saved.phone},
                )
            response = redirect("portal:profile")
            remember_language(response, saved.language)
            return response
    return render_profile(request, me, form)


@never_cache
@signed_in
@require_GET
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the confirmation mail: confirms the address for the signed-in user (a
    signed-out visitor signs in first and comes back here)."""
    error = _("This link is not valid any more. You can ask for a new one from your profile.")
    status = 400
    if len(token) <= EMAIL_TOKEN_MAX:
        try:
            me = client_for(request).accounts.confirm_email(token)
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            error, status = unavailable_message(exc), 503
        except ApiError as exc:
            error = api_problem(exc)
        else:
            messages.success(
                request, _("Your email address %(email)s is confirmed.") % {"email": me.email}
            )
            return redirect("portal:profile")
    return render(request, "portal/account/email_confirm.html", {"error": error}, status=status)


@signed_in
@require_POST
def email_send_confirmation(request: HttpRequest) -> HttpResponse:
    try:
        client_for(request).accounts.send_email_confirmation()
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    except ApiError as exc:
        messages.error(request, api_problem(exc))
    else:
        messages.success(
            request, _("A new confirmation link is on its way. Check your inbox in a few minutes.")
        )
    return redirect("portal:profile")


@signed_in
@require_POST
def phone_send_code(request: HttpRequest) -> HttpResponse:
    try:
        client_for(request).accounts.send_phone_code()
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    except ApiError as exc:
        messages.error(request, api_problem(exc))
    else:
        messages.success(request, _("A new code is on its way by SMS."))
    return redirect("portal:profile")


@signed_in
@require_POST
def phone_verify(request: HttpRequest) -> HttpResponse:
    accounts = client_for(request).accounts
    code_form = phone_code_form(request.POST)
    if code_form.is_valid():
        try:
            accounts.verify_phone(code_form.cleaned_data["code"])
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            code_form.add_error(None, unavailable_message(exc))
        except ApiError as exc:
            forms.show_api_errors(code_form, exc)
        else:
            messages.success(request, _("Your mobile phone number is verified."))
            return redirect("portal:profile")
    me = accounts.me()
    return render_profile(request, me, profile_form(request, me), code_form)


@staff_required
@require_POST
def social_link(request: HttpRequest, provider: str) -> HttpResponse:
    """Link a social login to the signed-in staff account: accounts answers where the
    browser goes to do it, and sends it back to the profile afterwards (``finish_link``).
    The flow is bound to this browser like a social sign-in: a nonce kept in the session
    goes to accounts as ``web_nonce`` and comes back with the confirmation."""
    if provider not in SOCIAL_PROVIDERS:
        raise Http404
    try:
        url = client_for(request).accounts.social_link(provider)
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    except ApiError as exc:
        messages.error(request, api_problem(exc))
    else:
        nonce = secrets.token_urlsafe(32)
        target = accounts_flow_url(url, provider, nonce=nonce)
        if target:
            request.session[SOCIAL_LINK_NONCE_KEY] = nonce
            return HttpResponseRedirect(target)
        messages.error(request, str(labels.LINK_ERRORS["failed"]))
    return redirect("portal:profile")


def accounts_flow_url(url: str, provider: str, *, nonce: str) -> str:
    """Where to send the browser for a link, or "" when ``url`` is not a place it should
    go: a path of accounts' browser flow (at ``ACCOUNTS_BROWSER_URL``, whatever host
    accounts named, with ``web_nonce=<nonce>`` added) or the provider's own sign-in page
    over https."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc == _PROVIDER_HOSTS.get(provider):
        return url
    if parts.scheme not in ("", "http", "https") or not _FLOW_PATH.match(parts.path):
        return ""
    if ".." in parts.path.split("/"):
        return ""
    query = "&".join(part for part in (parts.query, urlencode({"web_nonce": nonce})) if part)
    return f"{conf.accounts_browser_url()}{parts.path}?{query}"


@signed_in
@sensitive_post_parameters("current_password", "password", "password_again")
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pair = client_for(request).accounts.change_password(
                form.cleaned_data["current_password"], form.cleaned_data["password"]
            )
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            form.add_error(None, unavailable_message(exc))
        except ApiError as exc:
            forms.show_api_errors(form, exc, {"new_password": "password"})
        else:
            store_pair(request, pair)
            messages.success(
                request, _("Your password is changed. Other devices have been signed out.")
            )
            return redirect("portal:profile")
    status = 400 if form.errors else 200
    return render(request, "portal/account/password.html", {"form": form}, status=status)


@signed_in
def notifications(request: HttpRequest) -> HttpResponse:
    only_unread = request.GET.get("unread") == "1"
    params = {"cursor": request.GET.get("cursor", ""), "unread": "true" if only_unread else ""}
    page: Page[Notification] = Page(results=[])
    status = 200
    try:
        page = client_for(request).notifier.feed(params)
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        status = 503
    context = {"page": page, "only_unread": only_unread}
    return render(request, "portal/account/notifications.html", context, status=status)


@signed_in
@require_POST
def notification_open(request: HttpRequest, notification_id: str) -> HttpResponse:
    """Mark one notification read and go to its ticket."""
    with contextlib.suppress(ApiError):  # opening the ticket matters more than the mark
        client_for(request).notifier.mark_read(notification_id)
    ticket_id = request.POST.get("ticket_id", "")
    if ticket_id.isalnum():
        return redirect(ticket_url(ticket_id))
    return redirect("portal:notifications")


@signed_in
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    try:
        client_for(request).notifier.mark_all_read()
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    else:
        messages.success(request, _("All notifications are marked as read."))
    return redirect("portal:notifications")


def availability_form(request: HttpRequest) -> forms.AvailabilityForm | None:
    """Staff's switch for automatic assignment, as tickets has it now (None for clients,
    or when tickets cannot say)."""
    user = user_of(request)
    if not user.is_staff:
        return None
    people = optional(request, client_for(request).tickets.assignees, None)
    me = next((person for person in people or [] if person.id == user.id), None)
    if me is None:
        return None
    return forms.AvailabilityForm(initial={"available": me.available})


@staff_required
@require_POST
def availability(request: HttpRequest) -> HttpResponse:
    """Turn automatic assignment on or off for oneself."""
    form = forms.AvailabilityForm(request.POST)
    form.is_valid()
    available = bool(form.cleaned_data.get("available"))
    try:
        client_for(request).tickets.set_available(available)
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    except ApiError as exc:
        messages.error(request, api_problem(exc))
    else:
        messages.success(
            request,
            _("You are available for automatic assignment.")
            if available
            else _("Automatic assignment skips you until you turn it back on."),
        )
    return redirect("portal:profile")
