"""Tickets: the list (a client's own, the staff's queue), opening one, the ticket page
with its conversation, replies and internal notes, status changes and assignment."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
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
    Macro,
    Page,
    Person,
    SavedView,
    StatusCounts,
    Ticket,
)
from portal.decorators import signed_in, staff_required
from portal.middleware import note_unavailable
from portal.views.common import (
    attempt,
    category_names,
    optional,
    team_names,
    unavailable_message,
    user_of,
)
from servidesk_shared.vocabulary import FINAL_STATUSES, PRIORITY_LABELS, STATUS_LABELS, Status


def ticket_url(ticket_id: str, anchor: str = "") -> str:
    url = reverse("portal:ticket_detail", args=[ticket_id])
    return f"{url}#{anchor}" if anchor else url


#: Where the outcome of a bulk action waits for the queue page that shows it.
BULK_OUTCOME_KEY = "servidesk_bulk_outcome"


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
    teams = (team_names(request) or {}) if user.is_staff else {}
    form = forms.TicketFilterForm(request.GET, categories=categories, teams=teams)
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
    current_status = str(params.get("status") or "")
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "current_sla": str(params.get("sla") or ""),
        "current_ordering": str(params.get("ordering") or ""),
        "status_tabs": [("", _("All")), *Status.choices],
        "current_status": current_status,
        "filtered": any(v for k, v in params.items() if k != "cursor"),
        "more_filters": any(
            request.GET.get(name)
            for name in ("priority", "category", "assigned", "breached", "sla", "ordering", "team")
        )
        or bool(request.GET.get("tags") or request.GET.getlist("tag")),
    }
    if user.is_staff:
        context |= _queue_tools(request, tickets, params, status == 200)
    counted: StatusCounts = context.get("counts") or StatusCounts(counts={})
    context["status_tabs"] = [
        (code, label, counted.counts.get(code or "total"), (code or "total") in counted.capped)
        for code, label in context["status_tabs"]
    ]
    return render(request, "portal/tickets/list.html", context, status=status)


def _queue_tools(
    request: HttpRequest, tickets: Tickets, params: dict[str, Any], listed: bool
) -> dict[str, Any]:
    """The staff's queue tools: counts on the status tabs, saved views, the bulk actions
    and the outcome of the last one."""
    user = user_of(request)
    counted = {k: v for k, v in params.items() if k not in ("status", "cursor", "ordering")}
    counts: StatusCounts | None = None
    views: list[SavedView] = []
    people: list[Person] = []
    if listed:  # the queue itself was listed: it goes on without what cannot be read
        counts = optional(request, lambda: tickets.status_counts(counted), None)
        views = optional(request, tickets.views, [])
        people = optional(request, tickets.assignees, [])
    query = request.GET.copy()
    query.pop("cursor", None)
    return {
        "counts": counts,
        "views": [
            (view, forms.filters_to_query(view.filters, user.id), view.owner_id == user.id)
            for view in views
        ],
        "view_form": forms.SavedViewForm(admin=user.is_admin),
        "current_query": query.urlencode(),
        "bulk_form": forms.BulkForm(people=people, teams=team_names(request) or {}, me=user.id),
        "bulk_outcome": request.session.pop(BULK_OUTCOME_KEY, None),
    }


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
    if clients is not None and "find_client" in request.POST:
        # The search of the form itself (without scripts): what was typed stays, and
        # nothing is checked or sent until the user sends the ticket.
        typed = forms.TicketCreateForm(
            initial=request.POST.dict(), categories=categories, clients=clients
        )
        if request.FILES:
            messages.info(
                request,
                _("Choose the files again: a form that comes back does not keep them."),
            )
        context = {"form": typed, "search": search, "clients": clients}
        return render(request, "portal/tickets/new.html", context)
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
    """Staff edit title, description, priority, category, team and tags. The form carries
    the version it was read at: if someone changed the ticket since, nothing is
    overwritten; the page shows what the ticket says now next to what the user typed,
    which they may send again."""
    tickets = client_for(request).tickets
    try:
        ticket = tickets.get_ticket(ticket_id)
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        return render(request, "portal/tickets/edit.html", {"ticket": None}, status=503)
    offered: list[Category] = attempt(request, tickets.categories, [])
    categories = [c for c in offered if c.is_active or c.slug == ticket.category]
    teams = team_names(request)
    context: dict[str, Any] = {
        "ticket": ticket,
        "category_names": {c.slug: c.name for c in offered},
        "team_names": teams or {},
    }
    if ticket.merged_into_id:
        context["merged_into_number"] = _number_of(request, tickets, ticket.merged_into_id)
    if request.method != "POST":
        form = forms.TicketEditForm(
            initial=forms.TicketEditForm.initial_of(ticket), categories=categories, teams=teams
        )
        return render(request, "portal/tickets/edit.html", context | {"form": form})
    form = forms.TicketEditForm(request.POST, categories=categories, teams=teams)
    conflict: Ticket | None = None
    if form.is_valid():
        try:
            tickets.update(ticket_id, form.api_changes(ticket), form.cleaned_data["version"])
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
                form = _typed_again(request, conflict, categories, teams)
            else:
                forms.show_api_errors(form, exc, {"team": "team_id"})
        else:
            messages.success(request, _("The ticket is updated."))
            return redirect(ticket_url(ticket_id))
    context |= {"ticket": conflict or ticket, "form": form, "conflict": conflict}
    return render(request, "portal/tickets/edit.html", context, status=409 if conflict else 400)


def _typed_again(
    request: HttpRequest,
    current: Ticket,
    categories: list[Category],
    teams: dict[str, str] | None,
) -> forms.TicketEditForm:
    """What the user typed, now against the ticket's current version: sending it again
    is a deliberate choice to replace what the other person wrote."""
    data = request.POST.copy()
    data["version"] = str(current.version or "")
    form = forms.TicketEditForm(data, categories=categories, teams=teams)
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
    if request.method == "POST" and reply.is_valid():
        sent = _send_reply(request, tickets, ticket_id, reply)
        if sent is not None:
            return sent
    status = 200
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
            "moves": [(m, labels.move_action(ticket.status, m)) for m in ticket.moves],
            "assigned_to_me": ticket.assignee_id == user.id,
            "category_names": category_names(request) if ticket.category else {},
        }
        if ticket.merged_into_id:
            context["merged_into_number"] = _number_of(request, tickets, ticket.merged_into_id)
        if ticket.follow_up_of_id:
            context["follow_up_of_number"] = _number_of(request, tickets, ticket.follow_up_of_id)
        if user.is_staff:
            context |= _staff_context(request, tickets, ticket)
    return render(request, "portal/tickets/detail.html", context, status=status)


def _send_reply(
    request: HttpRequest, tickets: Tickets, ticket_id: str, reply: forms.ReplyForm
) -> HttpResponse | None:
    """Post the reply (or, for staff, a note); the redirect after it, or None when the
    form comes back with the reason."""
    user = user_of(request)
    internal = user.is_staff and "internal" in request.POST
    try:
        comment = tickets.add_comment(
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
        if comment.ticket_id and comment.ticket_id != ticket_id:
            # A client's reply to their closed ticket opened a follow-up ticket.
            messages.success(
                request,
                _(
                    "The ticket was closed, so your message opened this new ticket, "
                    "which follows up on it. We will answer soon."
                ),
            )
            return redirect(ticket_url(comment.ticket_id, "conversation"))
        messages.success(
            request, _("Internal note added.") if internal else _("Your reply was sent.")
        )
        return redirect(ticket_url(ticket_id, "conversation"))
    return None


def _staff_context(request: HttpRequest, tickets: Tickets, ticket: Ticket) -> dict[str, Any]:
    """What the ticket page shows staff only: people and teams by name, and the forms
    that change the ticket (none once it is merged)."""
    user = user_of(request)
    people: list[Person] = attempt(request, tickets.assignees, [])
    context: dict[str, Any] = {
        "people": {p.id: p.name for p in people},
        "team_names": team_names(request) or {},
    }
    if user.is_admin:
        context["assign_form"] = forms.AssignForm(
            initial={"assignee_id": ticket.assignee_id or ""}, people=people
        )
    if not ticket.merged_into_id and not ticket.is_final:
        context["merge_form"] = forms.MergeForm()
        context["macro_form"] = _macro_form(request, tickets)
    return context


def _number_of(request: HttpRequest, tickets: Tickets, ticket_id: str) -> str | None:
    """The number of the ticket another was merged into (or follows up), when the user
    may see it."""
    # None: merged by an admin into another client's ticket, which the client cannot see.
    return optional(request, lambda: tickets.get_ticket(ticket_id).number, None)


def _macro_form(request: HttpRequest, tickets: Tickets) -> forms.ApplyMacroForm | None:
    """The canned-response picker of the reply box (None when there are none to offer)."""
    found: list[Macro] = optional(request, tickets.macros, [])
    return forms.ApplyMacroForm(macros=found) if found else None


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
    if target not in Status.values or target in FINAL_STATUSES:  # only the desk closes
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


@staff_required
@require_POST
def ticket_merge(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """Merge this ticket into another one, named by its number (SD-1042) or its id; the
    browser lands on the ticket merged into."""
    form = forms.MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the number of the ticket to merge this one into."))
        return redirect(ticket_url(ticket_id))
    tickets = client_for(request).tickets
    target = form.cleaned_data["into"]
    try:
        into_id = _ticket_id_of(tickets, target)
        if into_id is None:
            messages.error(request, _("There is no ticket %(number)s.") % {"number": target})
            return redirect(ticket_url(ticket_id))
        into = tickets.merge(ticket_id, into_id)
    except ServiceUnavailableError as exc:
        messages.error(
            request, _("Nothing was changed: %(reason)s") % {"reason": unavailable_message(exc)}
        )
    except ApiError as exc:
        if exc.status == 404 and not exc.fields:
            messages.error(request, _("There is no ticket %(number)s.") % {"number": target})
        else:
            detail = " ".join(m for msgs in exc.fields.values() for m in msgs)
            messages.error(request, f"{exc.message} {detail}".strip())
    else:
        messages.success(
            request,
            _("The ticket is merged into %(number)s: its conversation continues here.")
            % {"number": into.number},
        )
        return redirect(ticket_url(into.id))
    return redirect(ticket_url(ticket_id))


def _ticket_id_of(tickets: Tickets, target: str) -> str | None:
    """The id of the ticket ``target`` names: a number as shown (SD-1042, or 1042) first,
    else an id."""
    found = tickets.search({"q": target})
    digits = target.rsplit("-", maxsplit=1)[-1]
    for candidate in found.results:
        if candidate.number.upper() == target.upper() or (
            target.isdigit() and candidate.number.rsplit("-", maxsplit=1)[-1] == digits
        ):
            return candidate.id
    return target if target.isdigit() else None


@staff_required
@require_POST
def ticket_apply_macro(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """One click on a canned response: tickets posts its body (placeholders filled) and
    applies its actions, all or nothing."""
    macro_id = request.POST.get("macro_id", "")
    if not macro_id or len(macro_id) > 64:
        messages.error(request, _("Choose a canned response."))
        return redirect(ticket_url(ticket_id, "reply"))
    tickets = client_for(request).tickets
    try:
        ticket = tickets.apply_macro(ticket_id, macro_id, _version(request))
    except ServiceUnavailableError as exc:
        messages.error(
            request, _("Nothing was changed: %(reason)s") % {"reason": unavailable_message(exc)}
        )
    except ApiError as exc:
        if exc.code == "stale_version":
            messages.error(
                request, _("Someone changed this ticket meanwhile. Review it and try again.")
            )
        else:
            detail = " ".join(m for msgs in exc.fields.values() for m in msgs)
            messages.error(request, f"{exc.message} {detail}".strip())
    else:
        messages.success(
            request,
            _("Canned response applied. The ticket is now: %(status)s, %(priority)s priority.")
            % {
                "status": STATUS_LABELS.get(ticket.status, ticket.status),
                "priority": PRIORITY_LABELS.get(ticket.priority, ticket.priority),
            },
        )
        return redirect(ticket_url(ticket_id, "conversation"))
    return redirect(ticket_url(ticket_id, "reply"))


# --- Saved views and bulk actions (staff) -----------------------------------------------


def _queue_url(query: str) -> str:
    url = reverse("portal:ticket_list")
    return f"{url}?{query}" if query else url


def _filters_of(request: HttpRequest, query: str) -> dict[str, str | list[str]]:
    """The queue's filters in ``query`` (its query string) as the API's list parameters."""
    user = user_of(request)
    data = QueryDict(query)
    categories = [Category(slug, name) for slug, name in category_names(request).items()]
    form = forms.TicketFilterForm(data, categories=categories, teams=team_names(request) or {})
    return {name: value for name, value in form.api_params(user.id).items() if value}


@staff_required
@require_POST
def view_create(request: HttpRequest) -> HttpResponse:
    """Save the queue's current filters and ordering under a name."""
    user = user_of(request)
    form = forms.SavedViewForm(request.POST, admin=user.is_admin)
    query = forms.queue_query(request.POST.get("query", ""))
    if not form.is_valid():
        messages.error(request, forms.error_text(form))
        return redirect(_queue_url(query))
    data = {
        "name": form.cleaned_data["name"],
        "filters": _filters_of(request, query),
        "shared": bool(form.cleaned_data.get("shared")),
    }
    try:
        view = client_for(request).tickets.create_view(data)
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    except ApiError as exc:
        detail = " ".join(m for msgs in exc.fields.values() for m in msgs)
        messages.error(request, f"{exc.message} {detail}".strip())
    else:
        messages.success(request, _("The view “%(name)s” is saved.") % {"name": view.name})
    return redirect(_queue_url(query))


@staff_required
@require_POST
def view_delete(request: HttpRequest, view_id: str) -> HttpResponse:
    query = forms.queue_query(request.POST.get("query", ""))
    try:
        client_for(request).tickets.delete_view(view_id)
    except ServiceUnavailableError as exc:
        messages.error(request, unavailable_message(exc))
    except ApiError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The view is deleted."))
    return redirect(_queue_url(query))


@staff_required
@require_POST
def ticket_bulk(request: HttpRequest) -> HttpResponse:
    """One action on the tickets ticked in the queue; the queue then shows how many were
    changed and which were not, and why."""
    user = user_of(request)
    tickets = client_for(request).tickets
    query = forms.queue_query(request.POST.get("query", ""))
    people: list[Person] = optional(request, tickets.assignees, [])
    form = forms.BulkForm(request.POST, people=people, teams=team_names(request) or {}, me=user.id)
    if not form.is_valid():
        messages.error(request, forms.error_text(form))
        return redirect(_queue_url(query))
    action, value = form.action_and_value()
    ids: list[str] = form.cleaned_data["ids"]
    try:
        results = tickets.bulk(ids, action, value)
    except ServiceUnavailableError as exc:
        messages.error(
            request, _("Nothing was changed: %(reason)s") % {"reason": unavailable_message(exc)}
        )
        return redirect(_queue_url(query))
    except ApiError as exc:
        detail = " ".join(m for msgs in exc.fields.values() for m in msgs)
        messages.error(request, f"{exc.message} {detail}".strip())
        return redirect(_queue_url(query))
    numbers = form.numbers()
    request.session[BULK_OUTCOME_KEY] = {
        "action": str(forms.BULK_ACTIONS[action]),
        "applied": sum(1 for result in results if result.ok),
        "failed": [
            [numbers.get(result.id, result.id), result.error or _("Not changed.")]
            for result in results
            if not result.ok
        ],
    }
    return redirect(_queue_url(query))
