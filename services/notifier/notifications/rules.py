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

Service levels, closing and satisfaction (issue 19; ticket events are version 2, and
version 1 ones arrive as the same types, without the new fields):

- ``ticket.status_changed`` to ``resolved`` with a ``rating_token``: the client's message
  is ``resolved_csat``, the status change and "How did we do?" with the rating links, in
  one mail and one feed entry (without a token, a version 1 event: ``status_changed``);
- ``ticket.status_changed`` to ``waiting``: ``waiting_on_client`` to the client (the desk
  waits for their answer), ``status_changed`` to the assignee unless they moved it;
- a client's reply moves a waiting ticket back to ``in_progress`` by itself, the client
  being the actor: they are not told of their own move (nobody is told of their own
  doing), nor is the assignee, whom the reply's ``ticket.commented`` tells; the same for a
  resolved ticket a reply reopened (``reply_comment_id`` names the reply). A client's
  reopen by hand (no reply) is told to the assignee (``status_changed``);
- ``ticket.sla_warning``: ``sla_warning`` to the assignee, or to the team's people (its
  members and lead) when nobody is assigned; ``ticket.sla_breached``: ``sla_breached``
  to the same, and to the team's lead (once, should they be the assignee). Only about a
  ticket still open and not merged; a ticket with no assignee and no team (or one the
  directory does not know) tells nobody: the queue's SLA filter shows it;
- ``ticket.rated``: ``rated_good`` / ``rated_bad`` to the assignee, and a bad one to the
  team's lead too; never to the client who rated;
- ``ticket.closed`` (the desk closed a resolved ticket after days without the client)
  tells nobody, as help desks do: the resolution message said that a reply reopens it,
  and a reply to a closed ticket opens a follow-up ticket by itself.

Staff-only kinds (``Kind.STAFF_ONLY``: internal notes, team queues, urgent priority, SLA
alerts, ratings) are dropped again by ``services`` for anyone the directory says is a
client. Tags are staff-only too and are never put in any message's context: no message can
show them. The rating token goes in the client's ``resolved_csat`` message alone (its mail
and its feed entry), never in an SMS.
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
    TicketRated,
    TicketSlaBreached,
    TicketSlaWarning,
    TicketSnapshot,
    TicketStatusChanged,
    TicketUpdated,
)
from servidesk_shared.vocabulary import OPEN_STATUSES


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


def team_needed(data: EventData) -> str | None:
    """The team whose people or lead the rules need for ``data``, else ``None``: the team a
    ticket lands in (``landing_team``), the ticket's team for an SLA alert or a bad rating.
    ``services`` looks it up in the team directory."""
    if isinstance(data, TicketSlaWarning | TicketSlaBreached) or (
        isinstance(data, TicketRated) and data.rating == "bad"
    ):
        return _id(data.ticket.team_id)
    return landing_team(data)


def raised_to_urgent(data: TicketUpdated) -> bool:
    """The edit set the priority to ``urgent`` from anything else."""
    change = data.changes.get("priority")
    return change is not None and change.after == "urgent" and change.before != "urgent"


def _status_kinds(data: TicketStatusChanged) -> tuple[str | None, str | None]:
    """What the client and the assignee are told of a move (``None``: nothing)."""
    if data.to_status == "resolved" and data.rating_token:
        return Kind.RESOLVED_CSAT, Kind.STATUS_CHANGED
    if data.to_status == "waiting":
        return Kind.WAITING_ON_CLIENT, Kind.STATUS_CHANGED
    if data.reply_comment_id is not None:
        # The client's reply moved it: the reply's ticket.commented tells the assignee.
        return None, None
    client = _id(data.ticket.client_id)
    if (
        data.from_status == "waiting"
        and data.to_status == "in_progress"
        and client is not None
        and _id(data.actor_id) == client
    ):  # the same, from a producer that does not say which reply it was
        return None, None
    return Kind.STATUS_CHANGED, Kind.STATUS_CHANGED


class _Found:
    """Recipients in rule order, each told once (the first rule naming them wins)."""

    def __init__(self) -> None:
        self.recipients: dict[str, Recipient] = {}

    def add(self, user_id: object, kind: str, *, besides: set[str | None]) -> None:
        """Tell ``user_id`` (nobody when ``None``) unless it is one of ``besides``."""
        person = _id(user_id)
        if person is not None and person not in besides:
            self.recipients.setdefault(person, Recipient(person, kind))


def recipients_for(
    data: EventData, *, team_people: Collection[str] = (), team_lead: str | None = None
) -> list[Recipient]:
    """The people to tell about ``data``, each once, in rule order.

    ``team_people`` and ``team_lead``: who works the queue of ``team_needed(data)``, and
    its lead (the caller looks them up in the team directory); ignored by the rules that
    need no team.
    """
    found = _Found()
    if isinstance(data, TicketSlaWarning | TicketSlaBreached):
        _service_level(found, data, team_people=team_people, team_lead=team_lead)
    elif isinstance(data, TicketRated):
        kind = Kind.RATED_BAD if data.rating == "bad" else Kind.RATED_GOOD
        besides = {_id(data.actor_id), _id(data.ticket.client_id)}
        found.add(data.ticket.assignee_id, kind, besides=besides)
        if data.rating == "bad":
            found.add(team_lead, kind, besides=besides)
    elif isinstance(data, TicketEvent):
        _workflow(found, data, team_people=team_people)
    # ticket.closed tells nobody (see above).
    return list(found.recipients.values())


def _workflow(found: _Found, data: TicketEvent, *, team_people: Collection[str]) -> None:
    """The rules of a ticket's life: created, moved, assigned, commented, edited, merged."""
    ticket = data.ticket
    client, assignee, actor = _id(ticket.client_id), _id(ticket.assignee_id), _id(data.actor_id)
    merged = _id(ticket.merged_into_id) is not None

    def add_team() -> None:
        if landing_team(data) is not None:
            for person in team_people:
                found.add(person, Kind.TEAM_QUEUE, besides={actor, client})

    if isinstance(data, TicketCreated):
        found.add(client, Kind.CREATED_RECEIPT, besides=set())
        found.add(assignee, Kind.CREATED_ALERT, besides={actor})
        add_team()
    elif isinstance(data, TicketStatusChanged) and not merged:  # ticket.merged told them
        to_client, to_assignee = _status_kinds(data)
        if to_client is not None:
            found.add(client, to_client, besides={actor})
        if to_assignee is not None:
            found.add(assignee, to_assignee, besides={actor})
    elif isinstance(data, TicketAssigned):
        found.add(data.to_assignee, Kind.ASSIGNED, besides={actor})
    elif isinstance(data, TicketCommented):
        writers = {actor, _id(data.comment.author_id)}
        if data.comment.internal:
            found.add(assignee, Kind.INTERNAL_NOTE, besides={*writers, client})
        else:
            found.add(client, Kind.COMMENTED, besides=writers)
            found.add(assignee, Kind.COMMENTED, besides=writers)
    elif isinstance(data, TicketUpdated) and not merged:
        add_team()
        if raised_to_urgent(data):
            found.add(assignee, Kind.PRIORITY_URGENT, besides={actor, client})
    elif isinstance(data, TicketMerged):
        found.add(client, Kind.MERGED, besides={actor})


def _service_level(
    found: _Found,
    data: TicketSlaWarning | TicketSlaBreached,
    *,
    team_people: Collection[str],
    team_lead: str | None,
) -> None:
    """An SLA alert: the assignee, else the team's people; at a breach, the lead too."""
    ticket = data.ticket
    if _id(ticket.merged_into_id) is not None or ticket.status not in OPEN_STATUSES:
        return  # nothing left to act on
    kind = Kind.SLA_BREACHED if isinstance(data, TicketSlaBreached) else Kind.SLA_WARNING
    client, assignee = _id(ticket.client_id), _id(ticket.assignee_id)
    for person in [assignee] if assignee is not None else team_people:
        found.add(person, kind, besides={client})
    if isinstance(data, TicketSlaBreached):
        found.add(team_lead, kind, besides={client})


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
    if kind == Kind.RESOLVED_CSAT and isinstance(data, TicketStatusChanged):
        context["csat"] = {"token": _storable(data.rating_token or "")}
    if isinstance(data, TicketSlaWarning | TicketSlaBreached):
        context["sla"] = {
            "clock": data.clock,
            "due_at": data.due_at.isoformat(),
            "cycle": data.cycle,
            "assigned": _id(data.ticket.assignee_id) is not None,
            "escalation": (
                [_storable(code) for code in data.escalation]
                if isinstance(data, TicketSlaBreached)
                else []
            ),
        }
    if isinstance(data, TicketRated):
        context["rated"] = {
            "rating": data.rating,
            "previous_rating": data.previous_rating,
            "comment": _storable(data.comment),
        }
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
