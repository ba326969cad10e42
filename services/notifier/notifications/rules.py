"""Who hears about a ticket event, and why: the notification rules of issues 6 and 18.

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

Teams, edits and merges (issue 18):

- a ticket that lands in a team's queue unassigned (``ticket.created`` with a ``team_id``
  and no assignee; ``ticket.updated`` whose ``changes`` name ``team_id`` while it has no
  assignee): ``team_queue`` to the team's people (its members and its lead, from the
  team directory the ``team.*`` events keep), except the actor and the ticket's client.
  A team the directory does not know (yet) or that was deleted tells nobody;
- ``ticket.updated`` otherwise tells nobody (title, description, category, tags...),
  except a priority raised to ``urgent``: ``priority_urgent`` to the assignee, unless
  they raised it. Lowering it, or an unassigned ticket, tells nobody;
- ``ticket.merged``: ``merged`` to the merged ticket's client, once, unless they merged
  it. The message is about the ticket it went into (its number and title in the subject,
  the client's mail thread about it, its link), where the conversation continues. Should
  the two tickets have different clients (an admin may merge any), it is about the
  merged ticket alone and never names the other one;
- a ticket with ``merged_into_id`` is not announced as resolved: a ``status_changed`` of
  a merged ticket tells nobody (``ticket.merged`` told the client); nor does an edit of it.

Staff-only kinds (``Kind.STAFF_ONLY``: internal notes, team queues, urgent priority) are
dropped again by ``services`` for anyone the directory says is a client. Tags are
staff-only too and are never put in any message's context: no message can show them.
"""

from __future__ import annotations

from collections.abc import Collection
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
    TicketMerged,
    TicketSnapshot,
    TicketStatusChanged,
    TicketUpdated,
)


@dataclass(frozen=True)
class Recipient:
    user_id: str
    kind: str


def _id(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def landing_team(data: EventData) -> str | None:
    """The team whose queue ``data`` puts the ticket in, unassigned, else ``None``: a ticket
    created with a team and no assignee, or edited into a team (``changes`` names
    ``team_id``) while nobody is assigned. ``services`` looks its people up."""
    if not isinstance(data, TicketCreated | TicketUpdated):
        return None
    ticket = data.ticket
    if _id(ticket.merged_into_id) is not None or _id(ticket.assignee_id) is not None:
        return None
    if isinstance(data, TicketUpdated) and "team_id" not in data.changes:
        return None
    return _id(ticket.team_id)


def raised_to_urgent(data: TicketUpdated) -> bool:
    """The edit set the priority to ``urgent`` from anything else."""
    change = data.changes.get("priority")
    return change is not None and change.after == "urgent" and change.before != "urgent"


def recipients_for(data: EventData, *, team_people: Collection[str] = ()) -> list[Recipient]:
    """The people to tell about ``data``, each once, in rule order.

    ``team_people``: who works the queue of ``landing_team(data)`` (the caller looks them
    up in the team directory); ignored when the event lands the ticket in no team queue.
    """
    if not isinstance(data, TicketEvent):
        return []
    ticket = data.ticket
    client, assignee, actor = _id(ticket.client_id), _id(ticket.assignee_id), _id(data.actor_id)
    merged = _id(ticket.merged_into_id) is not None
    found: list[Recipient] = []

    def add(user_id: str | None, kind: str, *, besides: set[str | None]) -> None:
        if user_id is not None and user_id not in besides:
            found.append(Recipient(user_id, kind))

    def add_team() -> None:
        if landing_team(data) is not None:
            for person in team_people:
                add(_id(person), Kind.TEAM_QUEUE, besides={actor, client})

    if isinstance(data, TicketCreated):
        add(client, Kind.CREATED_RECEIPT, besides=set())
        add(assignee, Kind.CREATED_ALERT, besides={actor})
        add_team()
    elif isinstance(data, TicketStatusChanged) and not merged:  # ticket.merged told them
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
    elif isinstance(data, TicketUpdated) and not merged:
        add_team()
        if raised_to_urgent(data):
            add(assignee, Kind.PRIORITY_URGENT, besides={actor, client})
    elif isinstance(data, TicketMerged):
        add(client, Kind.MERGED, besides={actor})

    unique: dict[str, Recipient] = {}
    for recipient in found:
        unique.setdefault(recipient.user_id, recipient)
    return list(unique.values())


def subject_of(data: TicketEvent) -> TicketSnapshot:
    """The ticket a message about ``data`` is about (its number, title, link and mail
    thread): the ticket a merge went into when both have the same client, else the event's
    own ticket."""
    if isinstance(data, TicketMerged) and _id(data.into.client_id) == _id(data.ticket.client_id):
        return data.into
    return data.ticket


def _storable(text: str) -> str:
    """``text`` without NUL, which PostgreSQL cannot store (the context is JSON there)."""
    return text.replace("\x00", "")


def context_for(data: TicketEvent, kind: str, *, team_name: str = "") -> dict[str, Any]:
    """What a message about ``data`` needs, JSON-ready, stored with each delivery.

    Never the ticket's tags nor its description: only what every recipient may read.
    ``team_name``: the name of the team whose queue a ``team_queue`` message is about.
    """
    ticket = subject_of(data)
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
    if kind == Kind.TEAM_QUEUE:
        context["team"] = {"id": _id(data.ticket.team_id), "name": _storable(team_name)}
    if isinstance(data, TicketUpdated) and kind == Kind.PRIORITY_URGENT:
        before = data.changes["priority"].before
        context["from_priority"] = before if isinstance(before, str) else ""
    if isinstance(data, TicketMerged):
        context["merged_from"] = {
            "id": str(data.ticket.id),
            "number": _storable(data.ticket.number),
            "title": _storable(data.ticket.title),
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
