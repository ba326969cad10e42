"""``publish(event)``: write an event to the outbox, in the caller's transaction.

Nothing here talks to the broker, so a broker outage can never fail the caller's request:
the event commits (or rolls back) with the change, and the relay delivers it later.

    from servidesk_shared.events.publisher import publish
    from servidesk_shared.events.schemas import TicketCreated

    with transaction.atomic():  # or ATOMIC_REQUESTS
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
from django.db import connections, transaction
from django.utils import timezone

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.schemas import EventData
from servidesk_shared.outbox.models import AggregateSequence, OutboxMessage

logger = logging.getLogger(__name__)

#: PostgreSQL channel the relays LISTEN on (NOTIFY is scoped to one database).
NOTIFY_CHANNEL = "servidesk_outbox"

#: One event per relay running in this process (tests, the benchmark, SQLite setups);
#: each relay clears only its own, so none can swallow another's wakeup.
_local_wakeups: weakref.WeakSet[threading.Event] = weakref.WeakSet()


def local_wakeup() -> threading.Event:
    """A new event that every nudge in this process sets: a relay waits on its own."""
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
    if not transaction.get_connection(using).in_atomic_block:
        raise TransactionRequiredError("publish() must run inside transaction.atomic().")
    if transaction.get_connection(using).vendor == "postgresql":
        event_id = _insert_postgresql(data, occurred_at=occurred_at, producer=producer, using=using)
        # NOTIFY (sent in the insert) is delivered at commit; relays in this process hear it
        # through their local wakeup.
        transaction.on_commit(_wake_local_relays, using=using, robust=True)
        return event_id
    sequence = next_sequence(data.aggregate_type, data.aggregate_id, using=using)
    envelope = envelopes.build(
        data,
        producer=producer or event_settings().producer,
        sequence=sequence,
        occurred_at=occurred_at,
    )
    event_id = uuid.UUID(envelope["id"])
    OutboxMessage.objects.using(using).create(
        event_id=event_id,
        event_type=data.type,
        aggregate_id=data.aggregate_id,
        sequence=sequence,
        envelope=envelope,
    )
    # The poll guarantees delivery; the nudge only saves the relay its poll interval.
    transaction.on_commit(lambda: nudge(using), using=using, robust=True)
    return event_id


def _insert_postgresql(
    data: EventData, *, occurred_at: datetime | None, producer: str | None, using: str
) -> uuid.UUID:
    """Sequence, outbox row and relay wakeup in one statement (one round trip, not four).

    The envelope is built with sequence 0 and gets the real one from the upsert inside the
    statement. ``pg_notify`` inside the transaction is delivered only if it commits (and
    several in one transaction arrive as one), which is exactly when the relay should look.
    """
    envelope = envelopes.build(
        data, producer=producer or event_settings().producer, sequence=0, occurred_at=occurred_at
    )
    event_id = uuid.UUID(envelope["id"])
    with connections[using].cursor() as cursor:
        cursor.execute(
            _publish_statement(using),
            [
                data.aggregate_type,
                data.aggregate_id,
                event_id,
                data.type,
                data.aggregate_id,
                msgspec.json.encode(envelope).decode(),
                timezone.now(),
                NOTIFY_CHANNEL,
            ],
        )
    return event_id


def _publish_statement(using: str) -> str:
    connection = connections[using]
    sequences = connection.ops.quote_name(AggregateSequence._meta.db_table)
    outbox = connection.ops.quote_name(OutboxMessage._meta.db_table)
    return (
        f"WITH seq AS (INSERT INTO {sequences} (aggregate_type, aggregate_id, last_sequence) "  # noqa: S608 (table names from the models)
        "VALUES (%s, %s, 1) ON CONFLICT (aggregate_type, aggregate_id) "
        f"DO UPDATE SET last_sequence = {sequences}.last_sequence + 1 RETURNING last_sequence), "
        f"message AS (INSERT INTO {outbox} "
        "(event_id, event_type, aggregate_id, sequence, envelope, created_at) "
        "SELECT %s, %s, %s, seq.last_sequence, "
        "jsonb_set(%s::jsonb, '{sequence}', to_jsonb(seq.last_sequence)), %s FROM seq "
        "RETURNING 1) "
        "SELECT pg_notify(%s, '') FROM message"
    )


def next_sequence(aggregate_type: str, aggregate_id: str, *, using: str = "default") -> int:
    """The next sequence number of an aggregate, in one statement.

    The upsert keeps the counter row locked until the caller's transaction ends, so two
    transactions changing the same aggregate get their numbers in commit order.
    """
    connection = connections[using]
    table = connection.ops.quote_name(AggregateSequence._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (aggregate_type, aggregate_id, last_sequence) "  # noqa: S608 (table name from the model)
            "VALUES (%s, %s, 1) "
            "ON CONFLICT (aggregate_type, aggregate_id) "
            f"DO UPDATE SET last_sequence = {table}.last_sequence + 1 "
            "RETURNING last_sequence",
            [aggregate_type, aggregate_id],
        )
        row = cursor.fetchone()
    assert row is not None  # noqa: S101 (an upsert with RETURNING always returns the row)
    return int(row[0])


def _wake_local_relays() -> None:
    for event in list(_local_wakeups):
        event.set()


def nudge(using: str = "default") -> None:
    """Tell the relays new rows are committed: PostgreSQL NOTIFY plus a local wakeup."""
    _wake_local_relays()
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
