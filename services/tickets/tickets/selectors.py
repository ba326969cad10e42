"""Every read of the tickets domain. Role scoping comes first, before any filter or lookup.

NetBox-style: ``tickets_visible_to`` is the only way to a ticket queryset, so a ticket
the caller may not see is simply not found (404), whatever else the request says.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

from django.db.models import CharField, Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import Http404
from django_filters.utils import translate_validation

from servidesk_shared.auth import UserDirectory
from tickets import tags
from tickets.actors import Actor
from tickets.filters import TicketFilter
from tickets.models import (
    Attachment,
    Comment,
    DirectoryUser,
    HistoryEntry,
    Role,
    Status,
    Ticket,
)


def tickets_visible_to(actor: Actor, *, names: bool = False) -> QuerySet[Ticket]:
    """Clients see their own tickets; technicians and admins see all; anyone else none.

    ``names`` adds the directory names of client and assignee. (The category's slug
    comes from ``tickets.categories``, not from a join.)
    """
    tickets = _tickets_with_names().all() if names else _tickets()
    if actor.is_staff:
        return tickets
    if actor.is_client:
        return tickets.filter(client_id=actor.id)
    return tickets.none()


def display_name(field: str) -> Subquery:
    """The directory's name for the user id in ``field``: full name, else username."""
    names = DirectoryUser.objects.filter(pk=OuterRef(field)).annotate(
        display=Coalesce(NullIf("full_name", Value("")), "username", output_field=CharField())
    )
    return Subquery(names.values("display")[:1], output_field=CharField())


def with_names(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    # Subqueries, not a second query: one round trip per page, whatever its size.
    return tickets.annotate(
        client_name=display_name("client_id"), assignee_name=display_name("assignee_id")
    )


def _tickets() -> QuerySet[Ticket]:
    # The search document is for the WHERE clause only: never worth carrying back.
    return Ticket.objects.defer("search_vector")


@functools.cache
def _tickets_with_names() -> QuerySet[Ticket]:
    """``_tickets()`` with the names, built once per process: resolving the two name
    subqueries is a visible share of a list request's CPU, and they never change. Use a
    clone (``.all()``), never this queryset itself, so that it keeps no rows."""
    return with_names(_tickets())


def ticket_list(*, actor: Actor, filters: Mapping[str, Any]) -> QuerySet[Ticket]:
    """The tickets ``actor`` may see, narrowed by ``filters`` (400 on an invalid one)."""
    return ticket_filtered(actor=actor, filters=filters, names=True)


def ticket_filtered(
    *, actor: Actor, filters: Mapping[str, Any], names: bool = False
) -> QuerySet[Ticket]:
    """``ticket_list``'s rows without the tags (and without the names unless ``names``):
    for counting them (``status_counts``, ``tickets.saved_views``)."""
    tickets = tickets_visible_to(actor, names=names)
    if not any(name in filters for name in TicketFilter.base_filters):
        return tickets  # the plain first page: no form to build
    filterset = TicketFilter(filters, queryset=tickets, actor=actor)
    if not filterset.is_valid():
        raise translate_validation(filterset.errors)
    visible: QuerySet[Ticket] = filterset.qs
    return visible


#: Counts stop here: "1,000+" is all a queue tab or a saved view needs to say (reports
#: has the exact figures). Counting a million rows exactly costs a few hundred
#: milliseconds on every page view; up to 1,000 a few (docs/benchmarks.md).
COUNT_CAP: Final = 1_000


def capped_count(tickets: QuerySet[Ticket]) -> tuple[int, bool]:
    """``(count, capped)``: how many tickets, exactly up to ``COUNT_CAP``, else
    ``(COUNT_CAP, True)`` ("at least that many"). One query, reading at most
    ``COUNT_CAP + 1`` index entries however many match."""
    found = tickets.order_by()[: COUNT_CAP + 1].count()
    return min(found, COUNT_CAP), found > COUNT_CAP


def status_counts(*, actor: Actor, filters: Mapping[str, Any]) -> dict[str, Any]:
    """How many of the tickets ``ticket_list`` would give are in each status, and in
    all (the status tabs of the queue), with ``capped``: the keys whose figure is a lower
    bound ("1,000+").

    Up to ``COUNT_CAP`` tickets, exact: a capped count to size the set, then one
    ``GROUP BY status`` over it. Beyond, a capped count per status, so a queue of a
    million tickets costs what one of ``COUNT_CAP`` does.
    """
    tickets = ticket_filtered(actor=actor, filters=filters)
    counts = dict.fromkeys(Status.values, 0)
    capped: list[str] = []
    _total, over = capped_count(tickets)
    if not over:
        # COUNT(*), not COUNT(id): an index holding the filtered columns and the status
        # answers it alone (``ticket_team_status``, ``ticket_status``).
        rows = tickets.order_by().values_list("status").annotate(count=Count("*"))
        counts.update(dict(rows))
    else:
        for status in Status.values:
            counts[status], status_over = capped_count(tickets.filter(status=status))
            if status_over:
                capped.append(status)
        capped.append("total")
    return {**counts, "total": sum(counts.values()), "capped": capped}


def with_tag_names(tickets: list[Ticket], *, actor: Actor) -> list[Ticket]:
    """Set each ticket's ``tag_names`` (what the serializer renders) for staff, in one
    query of (ticket id, tag name) pairs: a page of tickets is cheaper this way than with
    ``prefetch_related``, which builds a model instance for every tag it reads. A single
    ticket reads its own when rendered (``tags.tag_names``)."""
    if not actor.is_staff or not tickets:
        return tickets
    names = tags.names_by_ticket([ticket.pk for ticket in tickets])
    for ticket in tickets:
        ticket.tag_names = names[ticket.pk]  # type: ignore[attr-defined]
    return tickets


def ticket_get(*, actor: Actor, ticket_id: int, for_update: bool = False) -> Ticket:
    """One ticket ``actor`` may see, with its names, else ``Http404``.

    ``for_update`` locks its row (only its row: ``of=("self",)``). The names come in the
    same query either way, so a write that does not change who the client or the
    assignee is can answer with this very instance instead of reading the ticket again.
    """
    tickets = tickets_visible_to(actor, names=True)
    if for_update:
        tickets = tickets.select_for_update(of=("self",))
    try:
        return tickets.get(pk=ticket_id)
    except Ticket.DoesNotExist:
        raise Http404 from None


def ticket_refresh_names(*, ticket: Ticket) -> Ticket:
    """Set ``ticket``'s client and assignee names from the directory, after a write that
    set or changed them (one small query instead of reading the whole ticket again)."""
    user_ids = [user_id for user_id in (ticket.client_id, ticket.assignee_id) if user_id]
    users = DirectoryUser.objects.filter(pk__in=user_ids).only("id", "username", "full_name")
    names = {user.pk: user.display_name for user in users}
    ticket.client_name = names.get(ticket.client_id)  # type: ignore[attr-defined]
    ticket.assignee_name = names.get(ticket.assignee_id or "")  # type: ignore[attr-defined]
    return ticket


def comment_list(*, actor: Actor, ticket: Ticket) -> QuerySet[Comment]:
    """The conversation of a ticket ``actor`` can see; clients never get internal notes."""
    comments = Comment.objects.filter(ticket=ticket)
    if not actor.is_staff:
        comments = comments.filter(internal=False)
    return _comment_names(comments)


def _comment_names(comments: QuerySet[Comment]) -> QuerySet[Comment]:
    """The author's name, and the number of the ticket a merged comment came from (a
    join in the same query)."""
    return comments.annotate(
        author_name=display_name("author_id"), merged_from_number=F("merged_from__number")
    )


def comment_with_names(*, comment: Comment) -> Comment:
    return _comment_names(Comment.objects.all()).get(pk=comment.pk)


#: The history a client gets of their own ticket: changes to what the ticket shows them.
#: Anything else (reassignments between technicians, and any field added later until it
#: is listed here) is the staff's working record, as internal notes are.
CLIENT_HISTORY_FIELDS: Final = (
    "status",
    "title",
    "description",
    "priority",
    "category",
    # A file added on its own to the ticket or a public comment (services.attachment_add).
    "attachment",
)


def history_list(*, actor: Actor, ticket: Ticket) -> QuerySet[HistoryEntry]:
    """The changes of a ticket ``actor`` can see (``ticket`` comes from ``ticket_get``)."""
    entries = HistoryEntry.objects.filter(ticket=ticket)
    if not actor.is_staff:
        entries = entries.filter(field__in=CLIENT_HISTORY_FIELDS)
    return entries


#: ``directory_entry(user_id=...)``: ``(is_active, role)`` of a user in the directory, or
#: ``None``. ``SERVIDESK_USER_DIRECTORY`` names it: every request's caller is checked here.
directory_entry: Final = UserDirectory(DirectoryUser, key="id")


def assignee_list() -> QuerySet[DirectoryUser]:
    """Who a ticket can be assigned to: active technicians and admins, by name."""
    return DirectoryUser.objects.filter(
        is_active=True, role__in=(Role.TECHNICIAN, Role.ADMIN)
    ).order_by("full_name", "username", "id")


#: At most this many clients answer a directory search: it feeds a picker, not a list.
CLIENT_SEARCH_LIMIT: Final = 20


def client_search(*, query: str) -> list[DirectoryUser]:
    """Active clients whose username, full name or email contains ``query`` (any case),
    by name; the first of them only (a blank query: the first clients by name)."""
    clients = DirectoryUser.objects.filter(is_active=True, role=Role.CLIENT)
    if query:
        clients = clients.filter(
            Q(username__icontains=query) | Q(full_name__icontains=query) | Q(email__icontains=query)
        )
    return list(clients.order_by("full_name", "username", "id")[:CLIENT_SEARCH_LIMIT])


#: Files a client may see: the ticket's own and those of public comments (a file of an
#: internal note is as hidden as the note).
PUBLIC_ATTACHMENTS: Final = Q(comment__isnull=True) | Q(comment__internal=False)


def attachment_list(*, actor: Actor, ticket: Ticket) -> QuerySet[Attachment]:
    """The files of a ticket ``actor`` can see (``ticket`` comes from ``ticket_get``)."""
    attachments = Attachment.objects.filter(ticket=ticket)
    if not actor.is_staff:
        attachments = attachments.filter(PUBLIC_ATTACHMENTS)
    return attachments


def attachment_get(*, actor: Actor, ticket_id: int, attachment_id: int) -> Attachment:
    """One file of a ticket, if ``actor`` may see both, else ``Http404`` (one query)."""
    attachments = Attachment.objects.filter(
        pk=attachment_id, ticket_id=ticket_id, ticket__in=tickets_visible_to(actor)
    )
    if not actor.is_staff:
        attachments = attachments.filter(PUBLIC_ATTACHMENTS)
    try:
        return attachments.get()
    except Attachment.DoesNotExist:
        raise Http404 from None
