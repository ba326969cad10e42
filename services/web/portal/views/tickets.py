"""Tickets: the list (a client's own, the staff's queue), opening one, the ticket page
with its conversation, replies and internal notes, status changes and assignment."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from portal import forms, labels, uploads
from portal.api import ApiError, ServiceUnavailableError, client_for
from portal.api.client import Tickets
from portal.api.types import (
    Attachment,
    Category,
    Comment,
    HistoryEntry,
    Page,
    Person,
    Ticket,
)
from portal.decorators import signed_in, staff_required
from portal.middleware import note_unavailable
from portal.views.auth import unavailable_message
from portal.views.common import attempt, category_names, user_of
from servidesk_shared.vocabulary import Status


def ticket_url(ticket_id: str, anchor: str = "") -> str:
    url = reverse("portal:ticket_detail", args=[ticket_id])
    return f"{url}#{anchor}" if anchor else url


@signed_in
def ticket_list(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    tickets = client_for(request).tickets
    # The queue's category filter: names kept for a minute, not fetched on every page.
    categories = (
        [Category(slug, name) for slug, name in category_names(request).items()]
        if user.is_staff
        else []
    )
    form = forms.TicketFilterForm(request.GET, categories=categories)
    params: dict[str, Any] = form.api_params(user.id)
    params["cursor"] = request.GET.get("cursor", "")
    page: Page[Ticket] = Page(results=[])
    status = 200
    try:
        page = tickets.search(params)
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        status = 503
    except ApiError as exc:
        forms.show_api_errors(form, exc)
        status = 400
    context = {
        "form": form,
        "page": page,
        "status_tabs": [("", _("All")), *Status.choices],
        "current_status": form.cleaned_data.get("status", "") if form.is_valid() else "",
        "filtered": any(v for k, v in params.items() if k != "cursor"),
        "more_filters": any(
            request.GET.get(name)
            for name in ("priority", "category", "assigned", "breached", "ordering")
        ),
    }
    return render(request, "portal/tickets/list.html", context, status=status)


@signed_in
@require_http_methods(["GET", "POST"])
def ticket_create(request: HttpRequest) -> HttpResponse:
    """A client opens a ticket; staff open one for a client they look up first."""
    user = user_of(request)
    tickets = client_for(request).tickets
    offered: list[Category] = attempt(request, tickets.categories, [])
    categories = [category for category in offered if category.is_active]
    search = forms.ClientSearchForm(request.POST if request.method == "POST" else request.GET)
    clients = _clients_matching(request, tickets, search) if user.is_staff else None
    form = forms.TicketCreateForm(
        request.POST or None,
        request.FILES or None,
        categories=categories,
        clients=clients,
        refused=uploads.refusals(request) if request.method == "POST" else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            ticket = tickets.create(form.api_data(), form.uploads())
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            form.add_error(
                None,
                _("Your ticket was not sent: %(reason)s") % {"reason": unavailable_message(exc)},
            )
        except ApiError as exc:
            form.show_upload_error(exc)
        else:
            messages.success(
                request,
                _("Ticket %(number)s is open. We will answer soon.") % {"number": ticket.number},
            )
            return redirect(ticket_url(ticket.id))
    form.ask_for_files_again()
    context = {"form": form, "search": search if user.is_staff else None, "clients": clients}
    return render(request, "portal/tickets/new.html", context, status=400 if form.errors else 200)


def _clients_matching(
    request: HttpRequest, tickets: Tickets, search: forms.ClientSearchForm
) -> list[Person]:
    """The clients the staff's search names (none before they search)."""
    query = search.cleaned_data.get("client_q", "") if search.is_valid() else ""
    if not query:
        return []
    try:
        return attempt(request, lambda: tickets.clients(query), [])
    except ApiError as exc:
        forms.show_api_errors(search, exc, {"q": "client_q"})
        return []


@staff_required
@require_http_methods(["GET", "POST"])
def ticket_edit(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """Staff edit title, description, priority and category. The form carries the version
    it was read at: if someone changed the ticket since, nothing is overwritten; the page
    shows what the ticket says now next to what the user typed, which they may send again."""
    tickets = client_for(request).tickets
    try:
        ticket = tickets.get_ticket(ticket_id)
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        return render(request, "portal/tickets/edit.html", {"ticket": None}, status=503)
    offered: list[Category] = attempt(request, tickets.categories, [])
    categories = [c for c in offered if c.is_active or c.slug == ticket.category]
    if request.method != "POST":
        form = forms.TicketEditForm(
            initial=forms.TicketEditForm.initial_of(ticket), categories=categories
        )
        return render(request, "portal/tickets/edit.html", {"ticket": ticket, "form": form})
    form = forms.TicketEditForm(request.POST, categories=categories)
    conflict: Ticket | None = None
    if form.is_valid():
        try:
            tickets.update(ticket_id, form.api_changes(), form.cleaned_data["version"])
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            form.add_error(
                None, _("Nothing was changed: %(reason)s") % {"reason": unavailable_message(exc)}
            )
        except ApiError as exc:
            if exc.status == 404:
                raise
            if exc.code == "stale_version":
                conflict = attempt(request, lambda: tickets.get_ticket(ticket_id), ticket)
                form = _typed_again(request, conflict, categories)
            else:
                forms.show_api_errors(form, exc)
        else:
            messages.success(request, _("The ticket is updated."))
            return redirect(ticket_url(ticket_id))
    context = {
        "ticket": conflict or ticket,
        "form": form,
        "conflict": conflict,
        "category_names": {c.slug: c.name for c in offered},
    }
    return render(request, "portal/tickets/edit.html", context, status=409 if conflict else 400)


def _typed_again(
    request: HttpRequest, current: Ticket, categories: list[Category]
) -> forms.TicketEditForm:
    """What the user typed, now against the ticket's current version: sending it again
    is a deliberate choice to replace what the other person wrote."""
    data = request.POST.copy()
    data["version"] = str(current.version or "")
    form = forms.TicketEditForm(data, categories=categories)
    form.is_valid()
    form.add_error(
        None,
        _(
            "Someone changed this ticket while you were editing it. Nothing was saved: "
            "compare what it says now with what you typed, then send your version again "
            "or cancel."
        ),
    )
    return form


@signed_in
@require_http_methods(["GET", "POST"])
def ticket_detail(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """The ticket and its conversation; a POST adds a reply (or, for staff, a note)."""
    user = user_of(request)
    tickets = client_for(request).tickets
    reply = forms.ReplyForm(
        request.POST or None,
        request.FILES or None,
        refused=uploads.refusals(request) if request.method == "POST" else None,
    )
    status = 200
    if request.method == "POST" and reply.is_valid():
        internal = user.is_staff and "internal" in request.POST
        try:
            tickets.add_comment(
                ticket_id, reply.cleaned_data["body"], internal=internal, files=reply.uploads()
            )
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
            reply.add_error(
                None,
                _("Your message was not sent: %(reason)s") % {"reason": unavailable_message(exc)},
            )
        except ApiError as exc:
            if exc.status == 404:
                raise
            reply.show_upload_error(exc)
        else:
            messages.success(
                request, _("Internal note added.") if internal else _("Your reply was sent.")
            )
            return redirect(ticket_url(ticket_id, "conversation"))
    reply.ask_for_files_again()
    if reply.errors:
        status = 400
    try:
        ticket: Ticket | None = tickets.get_ticket(ticket_id)
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        ticket, status = None, 503
    context: dict[str, Any] = {"ticket": ticket, "reply": reply}
    if ticket is not None:
        history: list[HistoryEntry] = attempt(request, lambda: tickets.history(ticket_id), [])
        if not user.is_staff:
            history = [entry for entry in history if entry.field == "status"]
        comments = attempt(request, lambda: tickets.comments(ticket_id), list[Comment]())
        ticket_files, files_of = _attachments(request, tickets, ticket_id, comments)
        context |= {
            "conversation": [(comment, files_of.get(comment.id, [])) for comment in comments],
            "ticket_files": ticket_files,
            "history": history,
            "moves": [(m, labels.MOVE_ACTIONS[m]) for m in ticket.moves],
            "assigned_to_me": ticket.assignee_id == user.id,
            "category_names": category_names(request) if ticket.category else {},
        }
        if user.is_staff:
            people: list[Person] = attempt(request, tickets.assignees, [])
            context["people"] = {p.id: p.name for p in people}
            if user.is_admin:
                context["assign_form"] = forms.AssignForm(
                    initial={"assignee_id": ticket.assignee_id or ""}, people=people
                )
    return render(request, "portal/tickets/detail.html", context, status=status)


def _attachments(
    request: HttpRequest, tickets: Tickets, ticket_id: str, comments: list[Comment]
) -> tuple[list[Attachment], dict[str, list[Attachment]]]:
    """The ticket's own files, and the files of each comment shown, by comment id. A file
    of a comment that is not shown (an internal note, for a client) is never shown either,
    whatever the API lists."""
    try:
        found: list[Attachment] = attempt(request, lambda: tickets.attachments(ticket_id), [])
    except ApiError:
        found = []  # the ticket itself was readable: the page goes on without its files
    shown = {comment.id for comment in comments}
    own: list[Attachment] = []
    of_comment: dict[str, list[Attachment]] = {}
    for attachment in found:
        if attachment.comment_id is None:
            own.append(attachment)
        elif attachment.comment_id in shown:
            of_comment.setdefault(attachment.comment_id, []).append(attachment)
    return own, of_comment


def _version(request: HttpRequest) -> int | None:
    value = request.POST.get("version", "")
    return int(value) if value.isdigit() else None


def _act(request: HttpRequest, ticket_id: str, action: Any, done: str) -> HttpResponse:
    """Run a change of the ticket; its outcome is a message on the ticket page."""
    try:
        action()
    except ServiceUnavailableError as exc:
        messages.error(
            request, _("Nothing was changed: %(reason)s") % {"reason": unavailable_message(exc)}
        )
    except ApiError as exc:
        if exc.status == 404:
            raise
        if exc.code == "stale_version":
            messages.error(
                request,
                _("Someone changed this ticket meanwhile. Review it and try again."),
            )
        else:
            messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect(ticket_url(ticket_id))


@signed_in
@require_POST
def ticket_status(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """Staff move a ticket along the workflow; a client may reopen their resolved ticket."""
    target = request.POST.get("status", "")
    if target not in Status.values:
        messages.error(request, _("Choose a status."))
        return redirect(ticket_url(ticket_id))
    tickets = client_for(request).tickets
    done = _("The ticket is now: %(status)s.") % {"status": Status(target).label}
    return _act(
        request,
        ticket_id,
        lambda: tickets.change_status(ticket_id, target, _version(request)),
        done,
    )


@staff_required
@require_POST
def ticket_assign(request: HttpRequest, ticket_id: str) -> HttpResponse:
    user = user_of(request)
    chosen = request.POST.get("assignee_id", "")
    assignee = user.id if chosen == "me" else (chosen or None)
    tickets = client_for(request).tickets
    if assignee is None:
        done = _("The ticket is unassigned.")
    elif assignee == user.id:
        done = _("The ticket is assigned to you.")
    else:
        done = _("The ticket is reassigned.")
    return _act(
        request, ticket_id, lambda: tickets.assign(ticket_id, assignee, _version(request)), done
    )
