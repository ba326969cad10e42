"""The outbox relay: claim unsent rows, publish them with confirms, mark them sent.

Rows are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` inside a transaction that
lasts until they are marked sent, so several relays share the work without waiting on
each other. A relay that dies after publishing but before committing leaves its rows
unsent: they are published again (at-least-once) and the consumers' inbox drops the
copies. Between batches the relay sleeps until a commit wakes it (on PostgreSQL the outbox's
insert trigger sends a NOTIFY; in this process ``publish`` sets its wakeup) or
its poll interval, whichever comes first.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db import DatabaseError, connections, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone
from kombu import Connection, Producer
from kombu.exceptions import OperationalError as KombuOperationalError

from servidesk_shared import sql
from servidesk_shared.backoff import Backoff
from servidesk_shared.events import broker
from servidesk_shared.events.conf import EventSettings, event_settings
from servidesk_shared.events.publisher import NOTIFY_CHANNEL, local_wakeup
from servidesk_shared.events.retention import prune_outbox
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import OutboxMessage
from servidesk_shared.waiter import make_waiter

logger = logging.getLogger(__name__)

PERSISTENT = 2
PRUNE_EVERY = timedelta(minutes=5)
#: Retries of one publish on a dropped connection before the batch gives up.
PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}


class Relay:
    def __init__(
        self,
        *,
        conf: EventSettings | None = None,
        connect: Callable[[], Connection] = broker.connection,
        using: str = "default",
    ) -> None:
        self.conf = conf or event_settings()
        self.topology = Topology(self.conf.prefix)
        self.connect = connect
        self.using = using
        self.stopping = threading.Event()
        self.wakeup = local_wakeup()
        self._pruned_at = -PRUNE_EVERY.total_seconds()  # prune after the first batch
        self.errors = broker_errors(connect())
        #: Reconnecting after a broker or database outage; reset after every batch.
        self.backoff = Backoff(start=0.2, factor=2.0, cap=5.0)

    def stop(self) -> None:
        self.stopping.set()
        self.wakeup.set()

    # --- the loop -------------------------------------------------------------------

    def run(self) -> None:
        """Relay until ``stop()``; broker and database outages are waited out, not fatal."""
        waiter = make_waiter(
            channel=NOTIFY_CHANNEL,
            wakeup=self.wakeup,
            using=self.using,
            name="relay",
            # SQLite has no NOTIFY; polling a local file often costs next to nothing.
            polling_max_sleep=0.25,
        )
        backoff = self.backoff
        waited_out: tuple[type[BaseException], ...] = (*self.errors, DatabaseError)
        try:
            while not self.stopping.is_set():
                try:
                    with self.connect() as conn:
                        producer = self.open(conn)
                        while not self.stopping.is_set():
                            sent = self.relay_batch(producer)
                            backoff.reset()  # broker and database both answered
                            if sent < self.conf.outbox_batch_size:
                                self.prune_if_due()
                                waiter.wait(self.conf.outbox_poll_interval)
                except waited_out as exc:
                    delay = backoff.next()
                    logger.warning("relay: %s; retrying in %.1fs", describe(exc), delay)
                    connections[self.using].close_if_unusable_or_obsolete()
                    self.stopping.wait(delay)
        finally:
            waiter.close()
            connections[self.using].close()

    def open(self, conn: Connection) -> Producer:
        """Connect, declare the topology and return a producer on the connection."""
        conn.ensure_connection(max_retries=broker.connect_tries(conn))
        channel = conn.default_channel
        self.topology.declare(channel)
        return Producer(channel, exchange=self.topology.exchange)

    # --- one batch ------------------------------------------------------------------

    def relay_batch(self, producer: Producer) -> int:
        """Publish up to one batch of unsent rows; the number published."""
        published: list[int] = []
        failure: BaseException | None = None
        with transaction.atomic(using=self.using):
            rows = (
                OutboxMessage.objects.using(self.using)
                .select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True)
                .order_by("id")
                # The envelope as the database renders it: no decoding and re-encoding.
                .annotate(body=Cast("envelope", output_field=TextField()))
                .values_list("id", "event_id", "event_type", "body")[: self.conf.outbox_batch_size]
            )
            for pk, event_id, event_type, body in rows:
                try:
                    self.publish(producer, event_id=event_id, event_type=event_type, body=body)
                except self.errors as exc:
                    # Keep what the broker confirmed: fewer duplicates after the outage.
                    failure = exc
                    break
                published.append(pk)
            if published:
                self.skip_commit_flush()
                self.mark_sent(published)
        if failure is not None:
            raise failure
        return len(published)

    def skip_commit_flush(self) -> None:
        """Let PostgreSQL commit this batch's transaction without waiting for a disk flush.

        Safe for the relay's transactions and only for them: if the server crashed before
        flushing, the rows would be unsent again and published once more, which the
        consumers' inbox absorbs. It saves one fsync per batch, the slowest step of a
        relay on most disks. Scoped to the transaction (``SET LOCAL``), so the connection
        goes back to the pool as it came; only a batch that marks rows pays its round trip.
        """
        connection = connections[self.using]
        if connection.vendor == "postgresql":
            sql.skip_commit_flush(connection)

    def publish(
        self, producer: Producer, *, event_id: uuid.UUID, event_type: str, body: str
    ) -> None:
        producer.publish(
            body.encode(),
            content_type="application/json",
            content_encoding="utf-8",
            routing_key=event_type,
            delivery_mode=PERSISTENT,
            message_id=str(event_id),
            retry=True,
            retry_policy=PUBLISH_RETRY_POLICY,
            confirm_timeout=self.conf.confirm_timeout,
        )

    def mark_sent(self, ids: Iterable[int]) -> None:
        OutboxMessage.objects.using(self.using).filter(pk__in=list(ids)).update(
            sent_at=timezone.now()
        )

    # --- housekeeping ---------------------------------------------------------------

    def prune_if_due(self) -> None:
        if time.monotonic() - self._pruned_at < PRUNE_EVERY.total_seconds():
            return
        self._pruned_at = time.monotonic()
        removed = prune_outbox(self.conf, using=self.using)
        if removed:
            logger.info("relay: pruned %d sent outbox rows", removed)


# --- errors -----------------------------------------------------------------------------


def broker_errors(conn: Connection) -> tuple[type[BaseException], ...]:
    """What kombu raises on ``conn`` when the broker is away (connection, channel, confirm)."""
    return (
        *conn.connection_errors,
        *conn.channel_errors,
        *conn.recoverable_connection_errors,
        KombuOperationalError,
        OSError,
        TimeoutError,
    )


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
