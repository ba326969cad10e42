"""Canned responses: each staff member keeps their own; admins also keep the shared ones
every staff member is offered. tickets decides who may change which."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal import forms
from portal.api import ServiceUnavailableError, client_for
from portal.api.types import Macro
from portal.decorators import staff_required
from portal.middleware import note_unavailable
from portal.views.common import report_change, save_form, team_names, user_of


def _mine(macro: Macro, user_id: str, admin: bool) -> bool:
    """Whether the user may change ``macro``: their own, or a shared one for an admin."""
    return macro.owner_id == user_id or (admin and macro.shared)


@staff_required
@require_http_methods(["GET", "POST"])
def macro_list(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    tickets = client_for(request).tickets
    teams = team_names(request) or {}
    create = forms.MacroForm(request.POST or None, teams=teams, admin=user.is_admin)
    if request.method == "POST" and create.is_valid():
        done = _("The canned response “%(title)s” is saved.") % {
            "title": create.cleaned_data["title"]
        }
        if save_form(request, create, lambda: tickets.create_macro(create.api_data()), done):
            return redirect("portal:macros")
    status = 400 if create.errors else 200
    try:
        found = tickets.macros()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        found, status = [], 503
    rows = [(macro, _mine(macro, user.id, user.is_admin)) for macro in found]
    context = {"create": create, "rows": rows, "team_names": teams}
    return render(request, "portal/macros/list.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def macro_edit(request: HttpRequest, macro_id: str) -> HttpResponse:
    user = user_of(request)
    tickets = client_for(request).tickets
    macro = tickets.macro(macro_id)
    teams = team_names(request) or {}
    if request.method == "POST":
        form = forms.MacroForm(request.POST, teams=teams, admin=user.is_admin)
        if form.is_valid():
            done = _("The canned response “%(title)s” is saved.") % {
                "title": form.cleaned_data["title"]
            }
            call = lambda: tickets.update_macro(macro_id, form.api_data())  # noqa: E731
            if save_form(request, form, call, done):
                return redirect("portal:macros")
    else:
        form = forms.MacroForm(
            initial=forms.MacroForm.initial_of(macro), teams=teams, admin=user.is_admin
        )
    context = {"macro": macro, "form": form, "mine": _mine(macro, user.id, user.is_admin)}
    return render(request, "portal/macros/edit.html", context, status=400 if form.errors else 200)


@staff_required
@require_POST
def macro_delete(request: HttpRequest, macro_id: str) -> HttpResponse:
    tickets = client_for(request).tickets
    report_change(
        request, lambda: tickets.delete_macro(macro_id), _("The canned response is deleted.")
    )
    return redirect("portal:macros")
