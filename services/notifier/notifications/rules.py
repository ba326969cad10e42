"""Who hears about a ticket event, and why: the notification rules of issue 6.

- ``ticket.created``: a receipt to the client (even when the client opened it: that is
  what a receipt is), an alert to the assignee if there is one and it is not the actor;
- ``ticket.status_changed``: to the client and to the assignee, except the actor;
- ``ticket.assigned``: to the newly assigned technician, unless they assigned themselves;
- ``ticket.commented``: a public comment to the other side (client and assignee, minus
  the author); an internal note to the assignee only, unless they wrote it.

Nobody is told about what they did themselves, except the creation receipt. Clients never
hear of internal notes: the only recipient of one is the assignee, and ``services``
drops it again should the directory say that person is a client.

A message lists the files sent with what it is about, never others: a new ticket's own
files (no comment), a comment's own files (that comment's id). So the files of an
internal note travel only with the note, to whom the note goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from notifications.messages import Kind
from servidesk_shared.events.schemas import (
    AttachmentSnapshot,
    EventData,
    TicketAssigned,
    TicketCommented,
    TicketCreated,
    TicketEvent,
    TicketStatusChanged,
)


@dataclass(frozen=True)
class Recipient:
    user_id: str
    kind: str


def _id(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def recipients_for(data: EventData) -> list[Recipient]:
    """The people to tell about ``data``, each once, in rule order."""
    if not isinstance(data, TicketEvent):
        return []
    ticket = data.ticket
    client, assignee, actor = _id(ticket.client_id), _id(ticket.assignee_id), _id(data.actor_id)
    found: list[Recipient] = []

    def add(user_id: str | None, kind: str, *, besides: set[str | None]) -> None:
        if user_id is not None and user_id not in besides:
            found.append(Recipient(user_id, kind))

    if isinstance(data, TicketCreated):
        add(client, Kind.CREATED_RECEIPT, besides=set())
        add(assignee, Kind.CREATED_ALERT, besides={actor})
    elif isinstance(data, TicketStatusChanged):
        add(client, Kind.STATUS_CHANGED, besides={actor})
        add(assignee, Kind.STATUS_CHANGED, besides={actor})
    elif isinstance(data, TicketAssigned):
        add(_id(data.to_assignee), Kind.ASSIGNED, besides={actor})
    elif isinstance(data, TicketCommented):
        writers = {actor, _id(data.comment.author_id)}
        if data.comment.internal:
            add(assignee, Kind.INTERNAL_NOTE, besides={*writers, client})
        else:
            add(client, Kind.COMMENTED, besides=writers)
            add(assignee, Kind.COMMENTED, besides=writers)

    unique: dict[str, Recipient] = {}
    for recipient in found:
        unique.setdefault(recipient.user_id, recipient)
    return list(unique.values())


def _storable(text: str) -> str:
    """``text`` without NUL, which PostgreSQL cannot store (the context is JSON there)."""
    return text.replace("\x00", "")


def context_for(data: TicketEvent, kind: str) -> dict[str, Any]:
    """What a message about ``data`` needs, JSON-ready, stored with each delivery."""
    ticket = data.ticket
    context: dict[str, Any] = {
        "kind": kind,
        "ticket": {
            "id": str(ticket.id),
            "number": _storable(ticket.number),
            "title": _storable(ticket.title),
            "status": ticket.status,
            "priority": ticket.priority,
        },
        "actor_id": _id(data.actor_id),
    }
    if isinstance(data, TicketStatusChanged):
        context["from_status"] = data.from_status
        context["to_status"] = data.to_status
    if isinstance(data, TicketCommented):
        context["comment"] = {
            "id": str(data.comment.id),
            "body": _storable(data.comment.body),
            "internal": data.comment.internal,
        }
    files = files_of(data)
    if files:
        context["attachments"] = [
            {
                "id": str(item.id),
                "filename": _storable(item.filename),
                "size": item.size,
                "content_type": item.content_type,
            }
            for item in files
        ]
    return context


def files_of(data: TicketEvent) -> list[AttachmentSnapshot]:
    """The files sent with what ``data`` is about: the new ticket's (``comment_id`` empty),
    or the comment's (its id); whatever else an event carries is not listed."""
    if isinstance(data, TicketCreated):
        return [item for item in data.attachments if _id(item.comment_id) is None]
    if isinstance(data, TicketCommented):
        comment = str(data.comment.id)
        return [item for item in data.attachments if _id(item.comment_id) == comment]
    return []
