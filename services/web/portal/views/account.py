"""The home page, the user's profile and password, and the notification feed."""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from portal import forms
from portal.api import ApiError, ServiceUnavailableError
from portal.api.session import current_user, store_pair, update_user
from portal.api.types import Notification, Page
from portal.decorators import signed_in
from portal.middleware import api, note_unavailable
from portal.views.auth import unavailable_message
from portal.views.common import remember_language
from portal.views.tickets import ticket_url


def home(request: HttpRequest) -> HttpResponse:
    if current_user(request) is not None:
        return redirect("portal:ticket_list")
    return render(request, "portal/home.html")


@signed_in
@sensitive_post_parameters("current_password")
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    accounts = api(request).accounts
    me = accounts.me()
    initial = {
        "full_name": me.full_name,
        "email": me.email,
        "phone": me.phone,
        "language": me.language or request.LANGUAGE_CODE,
        "notify_email": me.notify_email,
        "notify_sms": me.notify_sms,
    }
    form = forms.ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            me = accounts.update_me(form.api_data())
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            form.add_error(None, unavailable_message(exc))
        except ApiError as exc:
            forms.show_api_errors(form, exc)
        else:
            update_user(request, name=me.full_name, language=me.language)
            messages.success(request, _("Your profile is saved."))
            response = redirect("portal:profile")
            remember_language(response, me.language)
            return response
    status = 400 if form.errors else 200
    return render(request, "portal/account/profile.html", {"form": form, "me": me}, status=status)


@signed_in
@sensitive_post_parameters("current_password", "password", "password_again")
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pair = api(request).accounts.change_password(
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
    page: Page[Notification] = Page.empty()
    status = 200
    try:
        page = api(request).notifier.feed(params)
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
        api(request).notifier.mark_read(notification_id)
    ticket_id = request.POST.get("ticket_id", "")
    if ticket_id.isalnum():
        return redirect(ticket_url(ticket_id))
    return redirect("portal:notifications")


@signed_in
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    try:
        api(request).notifier.mark_all_read()
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    else:
        messages.success(request, _("All notifications are marked as read."))
    return redirect("portal:notifications")
