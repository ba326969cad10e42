"""Administration: users (create technicians, change roles, deactivate), categories and
SLA targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from portal import forms
from portal.api import ApiError, ServiceUnavailableError, client_for
from portal.api.types import Page, Profile
from portal.decorators import admin_required
from portal.middleware import back_path, note_unavailable
from portal.views.auth import unavailable_message
from portal.views.common import forget_category_names, user_of
from servidesk_shared.vocabulary import Priority, Role


def _save(request: HttpRequest, form: Form, call: Callable[[], Any], done: str) -> bool:
    """Send a valid ``form`` with ``call``; its errors go next to its fields."""
    try:
        call()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        form.add_error(None, unavailable_message(exc))
        return False
    except ApiError as exc:
        forms.show_api_errors(form, exc)
        return False
    messages.success(request, done)
    return True


def _change(request: HttpRequest, call: Callable[[], Any], done: str) -> HttpResponse:
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


# --- Users ------------------------------------------------------------------------------


@admin_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def users(request: HttpRequest) -> HttpResponse:
    accounts = client_for(request).accounts
    create = forms.UserCreateForm(request.POST or None)
    if request.method == "POST" and create.is_valid():
        done = _("The account %(username)s is created.") % {
            "username": create.cleaned_data["username"]
        }
        if _save(request, create, lambda: accounts.create_user(create.api_data()), done):
            return redirect("portal:admin_users")
    filters = forms.UserFilterForm(request.GET)
    params = dict(filters.cleaned_data) if filters.is_valid() else {}
    params["cursor"] = request.GET.get("cursor", "")
    page: Page[Profile] = Page(results=[])
    status = 400 if create.errors else 200
    try:
        page = accounts.users(params)
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        status = 503
    context = {
        "create": create,
        "filters": filters,
        "page": page,
        "roles": Role.choices,
        "me": user_of(request),
    }
    return render(request, "portal/admin/users.html", context, status=status)


@admin_required
@require_POST
def user_role(request: HttpRequest, user_id: str) -> HttpResponse:
    form = forms.UserRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role."))
        return redirect(back_path(request))
    role = form.cleaned_data["role"]
    done = _("The role is now: %(role)s.") % {"role": Role(role).label}
    accounts = client_for(request).accounts
    return _change(request, lambda: accounts.update_user(user_id, {"role": role}), done)


@admin_required
@require_POST
def user_active(request: HttpRequest, user_id: str) -> HttpResponse:
    active = request.POST.get("is_active") == "true"
    done = _("The account is reactivated.") if active else _("The account is deactivated.")
    accounts = client_for(request).accounts
    return _change(request, lambda: accounts.update_user(user_id, {"is_active": active}), done)


# --- Categories and SLA targets ---------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def categories(request: HttpRequest) -> HttpResponse:
    tickets = client_for(request).tickets
    create = forms.CategoryCreateForm(request.POST or None)
    if request.method == "POST" and create.is_valid():
        done = _("The category %(name)s is created.") % {"name": create.cleaned_data["name"]}
        if _save(request, create, lambda: tickets.create_category(create.cleaned_data), done):
            forget_category_names()
            return redirect("portal:admin_categories")
    status = 400 if create.errors else 200
    try:
        found = tickets.categories()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        found, status = [], 503
    rows = [
        (
            category,
            forms.CategoryEditForm(
                initial={
                    "name": category.name,
                    "description": category.description,
                    "is_active": category.is_active,
                },
                prefix=category.slug,
            ),
        )
        for category in found
    ]
    context = {"create": create, "rows": rows}
    return render(request, "portal/admin/categories.html", context, status=status)


@admin_required
@require_POST
def category_edit(request: HttpRequest, slug: str) -> HttpResponse:
    form = forms.CategoryEditForm(request.POST, prefix=slug)
    if not form.is_valid():
        messages.error(request, _("A category needs a name."))
        return redirect("portal:admin_categories")
    tickets = client_for(request).tickets
    done = _("The category %(name)s is saved.") % {"name": form.cleaned_data["name"]}
    forget_category_names()
    return _change(request, lambda: tickets.update_category(slug, form.cleaned_data), done)


@admin_required
@require_http_methods(["GET", "POST"])
def sla_targets(request: HttpRequest) -> HttpResponse:
    tickets = client_for(request).tickets
    posted = request.POST.get("priority", "") if request.method == "POST" else ""
    status = 200
    if posted in Priority.values:
        form = forms.SlaTargetForm(request.POST, prefix=posted)
        if form.is_valid():
            done = _("The targets for %(priority)s priority are saved.") % {
                "priority": Priority(posted).label
            }
            call = lambda: tickets.set_sla_target(  # noqa: E731
                posted,
                form.cleaned_data["first_response_hours"],
                form.cleaned_data["resolution_hours"],
            )
            if _save(request, form, call, done):
                return redirect("portal:admin_sla")
        status = 400
    try:
        targets = tickets.sla_targets()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        targets, status = [], 503
    rows = []
    for target in targets:
        if target.priority == posted and status == 400:
            rows.append((target, form))
            continue
        initial = {
            "first_response_hours": target.first_response_hours,
            "resolution_hours": target.resolution_hours,
        }
        rows.append((target, forms.SlaTargetForm(initial=initial, prefix=target.priority)))
    return render(request, "portal/admin/sla.html", {"rows": rows}, status=status)
