"""Merging a ticket into another: two requests about one problem become one conversation.

``ticket_merge`` merges ticket B (``ticket_id``) into ticket A (``into_id``), for staff;
B and A must have the same client unless the caller is an admin. In one transaction:

- B's comments (internal notes included) and files move to A, each comment marked
  ``merged_from`` = B; B's description arrives in A as a public comment by B's client,
  dated when B was opened and marked the same way, and B's own files (not of a comment)
  are attached to it;
- A gets a ``merged_from`` history entry, B a ``merged_into`` one (values: the other
  ticket's number, ``SD-1042``), and B moves to ``closed`` (a ``status`` entry) with
  ``merged_into`` = A; from then on every write to B answers 409 ``merged``
  (``services.locked``), while reading it still works and shows where it went;
- one ``ticket.merged`` event (``signals.ticket_merged``: aggregate B, ``into`` A). No
  other event: consumers tell B's client once, from this one (no resolution message).

Both rows are locked in id order, as ``tickets.bulk`` locks its tickets, so two merges of
the same pair in opposite directions cannot deadlock: the second finds the first done.
"""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from servidesk_shared.errors import ConflictError
from tickets import search, services, signals
from tickets.actors import Actor
from tickets.models import Attachment, Comment, HistoryEntry, Status, Ticket


def _lock_pair(*, actor: Actor, ticket_id: int, into_id: int) -> tuple[Ticket, Ticket]:
    """B and A, locked in id order; B unknown: 404; A unknown: 400 on ``into_id``."""
    tickets: dict[int, Ticket] = {}
    for pk in sorted((ticket_id, into_id)):
        try:
            tickets[pk] = services.locked(actor=actor, ticket_id=pk, merged_ok=True)
        except Http404:
            if pk == ticket_id:
                raise
            raise services.field_error("into_id", _("There is no ticket with this id.")) from None
    return tickets[ticket_id], tickets[into_id]


@transaction.atomic
def ticket_merge(*, actor: Actor, ticket_id: int, into_id: int) -> Ticket:
    """Merge ticket ``ticket_id`` into ticket ``into_id``; answers the latter, with its
    names. 403 for a client, or for a technician merging tickets of two clients; 409
    ``merged`` when either ticket is already merged, ``closed`` when either is closed."""
    if not actor.is_staff:
        raise services.forbidden(_("Only technicians and admins can merge tickets."))
    if ticket_id == into_id:
        raise services.field_error("into_id", _("A ticket cannot be merged into itself."))
    merged, into = _lock_pair(actor=actor, ticket_id=ticket_id, into_id=into_id)
    if merged.merged_into_id is not None:
        raise services.merged_error(merged)
    if into.merged_into_id is not None:
        raise ConflictError(
            _(
                "The ticket you are merging into was itself merged into another one; "
                "merge into that one."
            ),
            extra={"code": "merged", "merged_into_id": into.merged_into_id},
        )
    if Status.CLOSED in (merged.status, into.status):
        raise services.closed_error()
    if merged.client_id != into.client_id and not actor.is_admin:
        raise services.forbidden(_("Only an admin can merge tickets of different clients."))

    now = timezone.now()
    Comment.objects.filter(ticket=merged).update(ticket=into, merged_from=merged)
    description = Comment.objects.create(
        ticket=into,
        author_id=merged.client_id,
        body=merged.description,
        internal=False,
        created_at=merged.created_at,
        merged_from=merged,
    )
    Attachment.objects.filter(ticket=merged, comment__isnull=True).update(
        ticket=into, comment=description
    )
    Attachment.objects.filter(ticket=merged).update(ticket=into)

    into.updated_at = now
    into.version += 1
    into.save(update_fields=["updated_at", "version"])
    search.refresh_search_vector(into.pk)

    # Closed at once: final, its clocks stop (a merge is not a resolution: resolved_at
    # stays as it was), nothing is left for watch_sla.
    from_status = merged.status
    merged.status = Status.CLOSED
    merged.closed_at = now
    merged.next_check_at = None
    merged.merged_into = into
    merged.updated_at = now
    merged.version += 1
    merged.save(
        update_fields=[
            "status",
            "closed_at",
            "next_check_at",
            "merged_into",
            "updated_at",
            "version",
        ]
    )
    search.refresh_search_vector(merged.pk)

    def entry(ticket: Ticket, field: str, old: str | None, new: str) -> HistoryEntry:
        return HistoryEntry(
            ticket=ticket, actor_id=actor.id, field=field, from_value=old, to_value=new, at=now
        )

    entries = [
        entry(into, "merged_from", None, merged.reference),
        entry(merged, "merged_into", None, into.reference),
    ]
    entries.append(entry(merged, "status", from_status, Status.CLOSED))
    HistoryEntry.objects.bulk_create(entries)
    signals.ticket_merged.send(sender=Ticket, ticket=merged, actor=actor, into=into)
    return into
