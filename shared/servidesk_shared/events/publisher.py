"""``publish(event)``: write an event to the outbox, in the caller's transaction.

Nothing here talks to the broker, so a broker outage can never fail the caller's request:
the event commits (or rolls back) with the change, and the relay delivers it later.

    from servidesk_shared.events.publisher import publish
    from servidesk_shared.events.schemas import TicketCreated

    with transaction.atomic():  # in the service function that makes the change
        ticket = Ticket.objects.create(...)
        publish(TicketCreated(ticket=snapshot(ticket), actor_id=user.id))
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from datetime import datetime

import msgspec
from django.db import transaction
from django.utils import timezone

from servidesk_shared import sql
from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.schemas import EventData
from servidesk_shared.outbox.models import AggregateSequence, OutboxMessage

logger = logging.getLogger(__name__)

#: PostgreSQL channel the relays LISTEN on and the outbox's insert trigger notifies
#: (migration ``0002``; NOTIFY is scoped to one database).
NOTIFY_CHANNEL = "servidesk_outbox"

#: One event per relay running in this process (tests, the benchmark, SQLite setups);
#: each relay clears only its own, so none can swallow another's wakeup.
_local_wakeups: weakref.WeakSet[threading.Event] = weakref.WeakSet()


def local_wakeup() -> threading.Event:
    """A new event that every commit of an event in this process sets: a relay waits on its own."""
    event = threading.Event()
    _local_wakeups.add(event)
    return event


class TransactionRequiredError(RuntimeError):
    """``publish`` outside ``transaction.atomic``: the event could outlive a failed change."""


def publish(
    data: EventData,
    *,
    occurred_at: datetime | None = None,
    producer: str | None = None,
    using: str = "default",
) -> uuid.UUID:
    """Validate ``data``, give it the next sequence of its aggregate and queue it for the relay.

    Returns the event id. Raises ``InvalidEventError`` when ``data`` does not match its schema
    and ``TransactionRequiredError`` outside an atomic block.
    """
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        raise TransactionRequiredError("publish() must run inside transaction.atomic().")
    sequence = sql.next_sequence(
        connection, AggregateSequence, data.aggregate_type, data.aggregate_id
    )
    envelope = envelopes.build(
        data,
        producer=producer or event_settings().producer,
        sequence=sequence,
        occurred_at=occurred_at,
    )
    event_id = uuid.UUID(envelope["id"])
    sql.insert_outbox(
        connection,
        OutboxMessage,
        event_id=event_id,
        event_type=data.type,
        aggregate_id=data.aggregate_id,
        sequence=sequence,
        envelope=msgspec.json.encode(envelope).decode(),
        created_at=timezone.now(),
    )
    wake_relays_on_commit(using)
    return event_id


def wake_relays_on_commit(using: str = "default") -> None:
    """Wake the relays of this process once the current transaction commits.

    The relays' poll guarantees delivery; this only spares them their poll interval. Relays
    in other processes: on PostgreSQL the outbox table's insert trigger sends them a
    ``NOTIFY`` at commit (migration ``0002``, no round trip here); on SQLite they poll.
    """
    transaction.on_commit(_wake_local_relays, using=using, robust=True)


def _wake_local_relays() -> None:
    for event in list(_local_wakeups):
        event.set()
