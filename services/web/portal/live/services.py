"""Writes of the live feed: rows in commit order, a NOTIFY for the streams, pruning.

Every insert takes one transaction-scoped advisory lock first (PostgreSQL), so rows
commit in the order of their ids: a stream that has read every row up to an id can never
see a smaller one appear later (which would be lost to it). The lock is held from the
insert to the commit of the caller's transaction: the consumer's batch, or the typing
request's own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from portal.models import LiveEvent, LiveKind
from servidesk_shared.events.schemas import (
    EventData,
    NotificationCreated,
    TicketCommented,
    TicketEvent,
    TicketMerged,
    TicketUpdated,
)

#: PostgreSQL channel the streams LISTEN on (NOTIFY is delivered at commit).
CHANNEL: Final = "web_live"
#: The advisory lock that orders the inserts (any constant unique to this use).
_ORDER_LOCK: Final = 0x5EB11FE
#: Ticket events only staff hear of: nothing a client sees on the page changes.
_STAFF_ONLY_TYPES: Final = frozenset({"ticket.sla_warning", "ticket.sla_breached", "ticket.rated"})
#: Edits of fields only staff see.
_STAFF_ONLY_FIELDS: Final = frozenset({"tags", "team_id"})


def _insert(rows: list[LiveEvent]) -> list[LiveEvent]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ORDER_LOCK])
            cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])
    return LiveEvent.objects.bulk_create(rows)


def staff_only(data: TicketEvent) -> bool:
    """Whether only staff may hear that ``data`` happened (a client never learns of an
    internal note, a tag or team change, an SLA alarm or a rating)."""
    if isinstance(data, TicketCommented):
        return data.comment.internal
    if isinstance(data, TicketUpdated):
        return set(data.changes) <= _STAFF_ONLY_FIELDS
    return data.type in _STAFF_ONLY_TYPES


def ticket_event_record(*, event_type: str, data: TicketEvent) -> list[LiveEvent]:
    """The rows of one ticket event: one for its ticket (and one for the ticket a merge
    went into). The page is told what happened, never the content: it fetches itself."""
    tickets = [data.ticket]
    if isinstance(data, TicketMerged):
        tickets.append(data.into)
    internal = staff_only(data)
    rows = [
        LiveEvent(
            kind=LiveKind.TICKET,
            ticket_id=str(ticket.id),
            client_id=str(ticket.client_id),
            internal=internal,
            data={
                "type": event_type,
                "ticket_id": str(ticket.id),
                "actor_id": None if data.actor_id is None else str(data.actor_id),
            },
        )
        for ticket in tickets
    ]
    with transaction.atomic(savepoint=False):
        return _insert(rows)


def notification_record(*, data: NotificationCreated) -> LiveEvent:
    ticket_id = "" if data.ticket_id is None else str(data.ticket_id)
    row = LiveEvent(
        kind=LiveKind.NOTIFICATION,
        ticket_id=ticket_id,
        recipient_id=str(data.user_id),
        data={
            "notification_id": str(data.notification_id),
            "ticket_id": ticket_id,
            "title": data.title,
            "unread_count": data.unread_count,
        },
    )
    with transaction.atomic(savepoint=False):
        return _insert([row])[0]


def event_record(*, event_type: str, data: EventData) -> None:
    """The handler's one entry point: a ticket event or ``notification.created``."""
    if isinstance(data, NotificationCreated):
        notification_record(data=data)
    elif isinstance(data, TicketEvent):
        ticket_event_record(event_type=event_type, data=data)


def typing_record(*, ticket_id: str, user_id: str, name: str) -> bool:
    """``user_id`` (staff) is writing a reply on ``ticket_id``; at most one row per person
    and ticket every couple of seconds (the page asks more often while they type). Returns
    whether a row was added."""
    recent = timezone.now() - timedelta(seconds=max(1, typing_seconds() // 3))
    with transaction.atomic():
        if LiveEvent.objects.filter(
            kind=LiveKind.TYPING,
            ticket_id=ticket_id,
            data__user_id=user_id,
            created_at__gte=recent,
        ).exists():
            return False
        _insert(
            [
                LiveEvent(
                    kind=LiveKind.TYPING,
                    ticket_id=ticket_id,
                    internal=True,
                    data={"ticket_id": ticket_id, "user_id": user_id, "name": name[:150]},
                )
            ]
        )
    return True


def typing_seconds() -> int:
    return int(getattr(settings, "WEB_LIVE_TYPING_SECONDS", 6))


def prune(*, now: Any = None) -> int:
    """Forget rows older than ``WEB_LIVE_RETENTION_SECONDS``: a browser away longer than
    that reloads the page rather than replaying (its stream starts from the newest)."""
    keep = int(getattr(settings, "WEB_LIVE_RETENTION_SECONDS", 3600))
    cutoff = (now or timezone.now()) - timedelta(seconds=keep)
    deleted, _ = LiveEvent.objects.filter(created_at__lt=cutoff).delete()
    return deleted
