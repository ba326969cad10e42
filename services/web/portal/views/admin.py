"""Administration: users (create technicians, change roles, deactivate), categories, SLA
targets, business calendars and teams."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from portal import forms, labels
from portal.api import ApiError, ServiceUnavailableError, client_for
from portal.api.types import WEEKDAYS, Calendar, Category, Page, Person, Profile, SlaTarget, Team
from portal.decorators import admin_required
from portal.middleware import back_path, note_unavailable
from portal.views.common import (
    forget_category_names,
    forget_team_names,
    optional,
    report_change,
    save_form,
    unavailable_message,
    user_of,
)
from servidesk_shared.vocabulary import Priority, Role

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
        if save_form(request, create, lambda: accounts.create_user(create.api_data()), done):
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
    return report_change(request, lambda: accounts.update_user(user_id, {"role": role}), done)


@admin_required
@require_POST
def user_active(request: HttpRequest, user_id: str) -> HttpResponse:
    active = request.POST.get("is_active") == "true"
    done = _("The account is reactivated.") if active else _("The account is deactivated.")
    accounts = client_for(request).accounts
    return report_change(
        request, lambda: accounts.update_user(user_id, {"is_active": active}), done
    )


# --- Categories and SLA targets ---------------------------------------------------------


@admin_required
@require_http_methods(["GET", "POST"])
def categories(request: HttpRequest) -> HttpResponse:
    tickets = client_for(request).tickets
    create = forms.CategoryCreateForm(request.POST or None)
    if request.method == "POST" and create.is_valid():
        done = _("The category %(name)s is created.") % {"name": create.cleaned_data["name"]}
        if save_form(request, create, lambda: tickets.create_category(create.cleaned_data), done):
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
    return report_change(request, lambda: tickets.update_category(slug, form.cleaned_data), done)


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
            if save_form(request, form, call, done):
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


# --- Teams ------------------------------------------------------------------------------


def _team_choices(request: HttpRequest) -> tuple[list[Person], list[Category]]:
    """Who may be a member (technicians and admins) and the categories to route."""
    tickets = client_for(request).tickets
    people: list[Person] = optional(request, tickets.assignees, [])
    categories: list[Category] = optional(request, tickets.categories, [])
    return people, categories


def _team_settings(request: HttpRequest) -> dict[str, Any]:
    """The team form's calendars (None when they cannot be read: the field is left out,
    so saving never changes a team's calendar by accident) and the default SLA targets
    (shown as the placeholders of the overrides)."""
    tickets = client_for(request).tickets
    calendars: list[Calendar] | None = optional(request, tickets.calendars, None)
    defaults: list[SlaTarget] = optional(request, tickets.sla_targets, [])
    return {"calendars": calendars, "defaults": defaults}


@admin_required
@require_http_methods(["GET", "POST"])
def teams(request: HttpRequest) -> HttpResponse:
    tickets = client_for(request).tickets
    people, categories = _team_choices(request)
    extra = _team_settings(request)
    create = forms.TeamForm(request.POST or None, people=people, categories=categories, **extra)
    if request.method == "POST" and create.is_valid():
        done = _("The team %(name)s is created.") % {"name": create.cleaned_data["name"]}
        if save_form(request, create, lambda: tickets.create_team(create.api_data()), done):
            forget_team_names()
            return redirect("portal:admin_teams")
    status = 400 if create.errors else 200
    try:
        found: list[Team] = tickets.teams()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        found, status = [], 503
    context = {
        "create": create,
        "teams": found,
        "people": {p.id: p.name for p in people},
        "category_names": {c.slug: c.name for c in categories},
        "rules": labels.ASSIGNMENT_RULES,
        "calendar_names": {c.id: c.name for c in extra["calendars"] or []},
    }
    return render(request, "portal/admin/teams.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, team_id: str) -> HttpResponse:
    tickets = client_for(request).tickets
    team = tickets.team(team_id)
    people, categories = _team_choices(request)
    # A member who is no longer staff stays listed, so that saving keeps them or drops them
    # by choice.
    known = {p.id for p in people}
    people += [Person(id=member) for member in team.member_ids if member not in known]
    extra = _team_settings(request)
    if request.method == "POST":
        form = forms.TeamForm(request.POST, people=people, categories=categories, **extra)
        if form.is_valid():
            done = _("The team %(name)s is saved.") % {"name": form.cleaned_data["name"]}
            call = lambda: tickets.update_team(team_id, form.api_data())  # noqa: E731
            if save_form(request, form, call, done):
                forget_team_names()
                return redirect("portal:admin_teams")
    else:
        form = forms.TeamForm(
            initial=forms.TeamForm.initial_of(team), people=people, categories=categories, **extra
        )
    status = 400 if form.errors else 200
    return render(
        request, "portal/admin/team_edit.html", {"team": team, "form": form}, status=status
    )


@admin_required
@require_POST
def team_delete(request: HttpRequest, team_id: str) -> HttpResponse:
    tickets = client_for(request).tickets
    forget_team_names()
    report_change(request, lambda: tickets.delete_team(team_id), _("The team is deleted."))
    return redirect("portal:admin_teams")


# --- Business calendars -----------------------------------------------------------------


def _week_summary(calendar: Calendar) -> list[tuple[Any, str]]:
    """Each weekday's openings in words (its times joined by en dashes), or closed."""
    closed = _("Closed")
    return [
        (
            forms.WEEKDAY_LABELS[day],
            ", ".join(f"{start}\u2013{end}" for start, end in calendar.week.get(day, [])) or closed,
        )
        for day in WEEKDAYS
    ]


@admin_required
@require_http_methods(["GET", "POST"])
def calendars(request: HttpRequest) -> HttpResponse:
    """The business calendars (their openings and holidays) and a form for a new one."""
    tickets = client_for(request).tickets
    create = forms.CalendarForm(request.POST or None)
    if request.method == "POST" and create.is_valid():
        done = _("The calendar %(name)s is created.") % {"name": create.cleaned_data["name"]}
        if _save_calendar(
            request, create, lambda: tickets.create_calendar(create.api_data()), done
        ):
            return redirect("portal:admin_calendars")
    status = 400 if create.errors else 200
    try:
        found: list[Calendar] = tickets.calendars()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        found, status = [], 503
    context = {
        "create": create,
        "calendars": [(calendar, _week_summary(calendar)) for calendar in found],
    }
    return render(request, "portal/admin/calendars.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def calendar_edit(request: HttpRequest, calendar_id: str) -> HttpResponse:
    tickets = client_for(request).tickets
    calendar = tickets.calendar(calendar_id)
    if request.method == "POST":
        form = forms.CalendarForm(request.POST)
        if form.is_valid():
            done = _("The calendar %(name)s is saved.") % {"name": form.cleaned_data["name"]}
            call = lambda: tickets.update_calendar(calendar_id, form.api_data())  # noqa: E731
            if _save_calendar(request, form, call, done):
                return redirect("portal:admin_calendars")
    else:
        form = forms.CalendarForm(initial=forms.CalendarForm.initial_of(calendar))
    status = 400 if form.errors else 200
    context = {"calendar": calendar, "form": form}
    return render(request, "portal/admin/calendar_edit.html", context, status=status)


def _save_calendar(request: HttpRequest, form: forms.CalendarForm, call: Any, done: str) -> bool:
    """``save_form`` for a calendar: a holiday's error names its line."""
    try:
        call()
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        form.add_error(None, unavailable_message(exc))
        return False
    except ApiError as exc:
        form.show_api_errors(exc)
        return False
    messages.success(request, done)
    return True


@admin_required
@require_POST
def calendar_delete(request: HttpRequest, calendar_id: str) -> HttpResponse:
    tickets = client_for(request).tickets
    report_change(
        request, lambda: tickets.delete_calendar(calendar_id), _("The calendar is deleted.")
    )
    return redirect("portal:admin_calendars")
