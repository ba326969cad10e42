"""The idempotent consumer behind ``manage.py consume_events``.

For each message, in order:

1. decode it (JSON only) and read the envelope; a message that is not an event is
   dead-lettered at once: retrying cannot fix it;
2. an event whose ``producer`` is not the service that owns its type
   (``schemas.OWNERS``: ``user.*`` and ``verification.*`` come from accounts, ``ticket.*``
   from tickets) is dead-lettered, whatever it says: only its owner may speak for it;
3. an event type this service has no handler for is acked and dropped (the queue's
   ``ticket.#`` binding also brings types a service does not care about);
4. check the payload against its schema and version; a mismatch is dead-lettered;
5. in one transaction, insert the event id into the inbox (``ON CONFLICT DO NOTHING``)
   and run the handler; an id already there means the effect already happened, so the
   handler is skipped;
6. ack after the commit. Dying before the ack only brings a redelivery that step 5 drops.

A handler error rolls the attempt back and is retried after a growing delay, up to
``SERVIDESK_EVENT_MAX_ATTEMPTS`` tries, then the message is dead-lettered with the
error. A lost database is not the event's fault: it is waited out and never
dead-letters anything.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Generator, Iterator
from itertools import count
from typing import Any

from django.db import InterfaceError, OperationalError, connections, transaction
from django.utils import timezone
from kombu import Connection, Consumer, Message, Producer
from kombu.mixins import ConsumerMixin

from servidesk_shared import sql
from servidesk_shared.backoff import Backoff
from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.conf import EventSettings, event_settings
from servidesk_shared.events.deadletters import dead_letter_headers
from servidesk_shared.events.registry import Handler, HandlerRegistry
from servidesk_shared.events.relay import PERSISTENT
from servidesk_shared.events.retention import prune_inbox
from servidesk_shared.events.schemas import OWNERS
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 300.0
#: How long to wait for one more message before applying the pending ones.
BATCH_LINGER = 0.002

Pending = tuple[Message, envelopes.Event[Any], Handler]
ERROR_LIMIT = 4000
#: Reconnecting after the broker went away: quickly at first, then every few seconds.
#: kombu's default climbs to one try every 30 s, which delays every event by up to that
#: much after a long outage.
RECONNECT = {"interval_start": 0.5, "interval_step": 1.0, "interval_max": 5.0}


class StoppedWhileReconnectingError(Exception):
    """``stop()`` came while the broker was still away: give up reconnecting."""


class EventConsumer(ConsumerMixin):  # type: ignore[misc]  # kombu is untyped
    def __init__(
        self,
        connection: Connection,
        *,
        registry: HandlerRegistry,
        queue: str | None = None,
        conf: EventSettings | None = None,
        using: str = "default",
    ) -> None:
        self.connection = connection
        self.conf = conf or event_settings()
        self.topology = Topology(self.conf.prefix)
        self.queue_name = self.topology.queue_name(queue or self.conf.queue)
        self.registry = registry
        self.using = using
        self.stopping = threading.Event()
        self._pruned_at = -PRUNE_EVERY_SECONDS  # prune on the first iteration
        #: applied / duplicate / ignored / dead_lettered, for logs and tests.
        self.stats: Counter[str] = Counter()
        #: Events received and checked, waiting to be applied together.
        self.pending: list[Pending] = []
        #: Where dead letters are published: opened on first use, closed when consuming ends.
        self.publishing: Connection | None = None

    # --- kombu's hooks --------------------------------------------------------------

    def get_consumers(self, Consumer: Any, channel: Any) -> list[Consumer]:  # noqa: N803 (kombu's name)
        classic = self.topology.declare(channel)
        return [
            Consumer(
                # As it was declared: a queue not yet migrated is still a classic one.
                queues=[self.topology.queue(self.queue_name, classic=self.queue_name in classic)],
                on_message=self.on_message,
                accept=["json"],
                prefetch_count=self.conf.prefetch,
            )
        ]

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        self.dead_letter(message, reason="unparseable", error=describe(exc))

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kw: Any) -> None:
        logger.info("consuming %s", self.queue_name)

    def on_iteration(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            try:
                prune_inbox(self.conf, using=self.using)
            except (OperationalError, InterfaceError) as exc:
                logger.warning("inbox pruning skipped: %s", describe(exc))

    def stop(self) -> None:
        self.should_stop = True
        self.stopping.set()

    def run(self, _tokens: int = 1, **kwargs: Any) -> None:
        with contextlib.suppress(StoppedWhileReconnectingError):
            super().run(_tokens, **kwargs)

    @contextlib.contextmanager
    def establish_connection(self) -> Generator[Connection]:
        """kombu's, retrying every few seconds at most, and ending when told to stop
        (kombu's own retries forever, so a SIGTERM during an outage was never obeyed)."""
        with self.create_connection() as conn:
            conn.ensure_connection(
                self.on_connection_error,
                self.connect_max_retries,
                callback=self._give_up_if_stopping,
                **RECONNECT,
            )
            yield conn

    def _give_up_if_stopping(self) -> None:
        # kombu calls this before each try and every second while it waits.
        if self.should_stop:
            raise StoppedWhileReconnectingError

    @property
    def producer(self) -> Producer:
        return Producer(self.producer_connection)

    @property
    def producer_connection(self) -> Connection:
        """A second connection to publish on, without heartbeat: nothing ticks this rarely
        used connection's heartbeats, so the broker would drop it after two idle intervals.

        It declares the topology too: the embedded broker routes with the bindings the
        publishing connection itself declared.
        """
        if self.publishing is None:
            conn = self.connection.clone(heartbeat=0)
            conn.ensure_connection(self.on_connection_error, self.connect_max_retries)
            self.topology.declare(conn.default_channel)
            self.publishing = conn
        return self.publishing

    def on_consume_end(self, connection: Connection, channel: Any) -> None:
        """kombu's hook when consuming stops: close the publishing connection with it."""
        if self.publishing is not None:
            self.publishing.close()
            self.publishing = None

    def consume(
        self,
        limit: int | None = None,
        timeout: float | None = None,
        safety_interval: float = 1,
        **kwargs: Any,
    ) -> Iterator[None]:
        """``ConsumerMixin.consume``, plus batching of what the prefetch window holds.

        While events are pending it waits at most ``BATCH_LINGER`` for another message,
        then applies them all in one transaction. At a trickle that is one event per
        transaction, ``BATCH_LINGER`` later; under load the prefetched backlog is applied in
        batches, which turns one commit (one disk flush) per event into one per batch.
        """
        elapsed = 0.0
        try:
            with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
                for _ in range(limit) if limit else count():
                    if self.should_stop:
                        break
                    self.on_iteration()
                    try:
                        conn.drain_events(timeout=BATCH_LINGER if self.pending else safety_interval)
                    except TimeoutError:  # socket.timeout: nothing arrived in time
                        if self.pending:
                            self.flush()
                            continue
                        conn.heartbeat_check()
                        elapsed += safety_interval
                        if timeout and elapsed >= timeout:
                            raise
                    except OSError:
                        if not self.should_stop:
                            raise
                    else:
                        if len(self.pending) >= self.conf.batch_size:
                            self.flush()
                        yield
                        elapsed = 0
        finally:
            # Stopping, or the connection died: what is pending was never acked and the
            # broker hands it out again; its delivery tags are useless on a new channel.
            self.pending.clear()

    # --- one message ----------------------------------------------------------------

    def on_message(self, message: Message) -> None:
        try:
            envelope = read_envelope(message)
        except Exception as exc:  # kombu's decode errors, ContentDisallowed, InvalidEventError
            self.dead_letter(message, reason="unparseable", error=describe(exc))
            return
        owner = OWNERS.get(envelope.type)
        if owner is not None and envelope.producer != owner:
            self.dead_letter(
                message,
                reason="wrong_producer",
                error=f"{envelope.type} is produced by {owner} only, not by {envelope.producer!r}",
            )
            return
        routing_key = self.routing_key_through_exchange(message)
        if routing_key is not None and routing_key != envelope.type:
            # The broker lets each service publish only its own routing keys; a body that
            # claims another type under them would get around that (and the producer check).
            self.dead_letter(
                message,
                reason="wrong_routing_key",
                error=f"a {envelope.type} event was published as {routing_key!r}",
            )
            return
        handler = self.registry.get(envelope.type)
        if handler is None:
            self.stats["ignored"] += 1
            message.ack()
            return
        try:
            event = envelopes.decode(envelope)
        except envelopes.InvalidEventError as exc:
            self.dead_letter(message, reason="invalid", error=str(exc))
            return
        self.pending.append((message, event, handler))

    def routing_key_through_exchange(self, message: Message) -> str | None:
        """The routing key a message was published with to the events exchange; ``None``
        when it came another way (a dead letter replayed to the queue by an operator)."""
        info = message.delivery_info or {}
        if info.get("exchange") != self.topology.exchange.name:
            return None
        return str(info.get("routing_key", ""))

    def flush(self) -> None:
        """Apply the pending events in one transaction, or one by one if any of them fails."""
        batch, self.pending = self.pending, []
        if len(batch) == 1:
            self.process(*batch[0])
            return
        try:
            with transaction.atomic(using=self.using):
                applied = self.remember([event for _, event, _ in batch])
                for (_, event, handler), fresh in zip(batch, applied, strict=True):
                    if fresh:
                        handler(event)
        except Exception as exc:
            # Nothing was applied; one at a time, each gets its own retries and fate.
            logger.info("batch of %d rolled back (%s); applying one by one", len(batch), exc)
            for pending in batch:
                self.process(*pending)
            return
        for (message, event, _), fresh in zip(batch, applied, strict=True):
            self.done(message, event, applied=fresh)

    def process(self, message: Message, event: envelopes.Event[Any], handler: Handler) -> None:
        attempt = 0
        database_backoff = Backoff(start=0.5, factor=2.0, cap=10.0)
        handler_backoff = Backoff(
            start=self.conf.retry_delay, factor=2.0, cap=self.conf.retry_delay_max
        )
        while not self.stopping.is_set():
            attempt += 1
            try:
                applied = self.apply(event, handler)
            except (OperationalError, InterfaceError) as exc:
                attempt -= 1  # the database is away: not the event's fault, keep the count
                delay = database_backoff.next()
                logger.warning("database unavailable (%s); retrying in %.1fs", exc, delay)
                connections[self.using].close()
                self.stopping.wait(delay)
                continue
            except Exception as exc:
                if attempt >= self.conf.max_attempts:
                    logger.exception(
                        "%s %s failed %d times; dead-lettered", event.type, event.id, attempt
                    )
                    self.dead_letter(
                        message,
                        reason="handler_failed",
                        error=describe(exc, with_traceback=True),
                        attempts=attempt,
                    )
                    return
                delay = handler_backoff.delay(attempt)
                logger.warning(
                    "%s %s failed (attempt %d of %d), retrying in %.2fs: %s",
                    event.type, event.id, attempt, self.conf.max_attempts, delay, describe(exc),
                )  # fmt: skip
                self.stopping.wait(delay)
                continue
            self.done(message, event, applied=applied)
            return
        # Stopping mid-retry: leave it unacked, the broker hands it to the next consumer.

    def done(self, message: Message, event: envelopes.Event[Any], *, applied: bool) -> None:
        """Ack once the transaction committed (or found the event already applied)."""
        if applied:
            self.stats["applied"] += 1
        else:
            self.stats["duplicate"] += 1
            logger.info("%s %s already applied; skipped", event.type, event.id)
        message.ack()

    def apply(self, event: envelopes.Event[Any], handler: Handler) -> bool:
        """Record the id and run the handler in one transaction; ``False`` if seen before."""
        with transaction.atomic(using=self.using):
            if not self.remember([event])[0]:
                return False
            handler(event)
        return True

    def remember(self, events: list[envelopes.Event[Any]]) -> list[bool]:
        """Insert the ids into the inbox in one statement; for each event, whether it is new.

        A concurrent consumer inserting the same id makes this wait for its commit and
        then skip the row: a handler never runs twice, not even at the same moment.
        """
        inserted = sql.remember_events(
            connections[self.using],
            InboxEntry,
            [(event.id, event.type) for event in events],
            queue=self.queue_name,
            processed_at=timezone.now(),
        )
        fresh = []
        for event in events:
            fresh.append(event.id in inserted)
            inserted.discard(event.id)  # the same id twice in one batch: the second is a copy
        return fresh

    # --- dead letters ---------------------------------------------------------------

    def dead_letter(self, message: Message, *, reason: str, error: str, attempts: int = 0) -> None:
        """Copy the message, error attached, to this queue's dead-letter queue; then ack.

        A copy rather than ``reject(requeue=False)``: RabbitMQ's own dead-lettering
        cannot attach our error, and the embedded broker has none. If the process dies
        between the two steps the message is redelivered and dead-lettered again; a
        replay of both copies is harmless, the inbox drops the second.
        """
        logger.error("dead-lettering a message from %s (%s): %s", self.queue_name, reason, error)
        properties = message.properties or {}
        self.producer.publish(
            message.body,
            exchange=self.topology.dead_letter_exchange,
            routing_key=self.queue_name,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            delivery_mode=PERSISTENT,
            message_id=properties.get("message_id"),
            type=properties.get("type"),
            headers=dead_letter_headers(
                message,
                queue=self.queue_name,
                reason=reason,
                error=error[:ERROR_LIMIT],
                attempts=attempts,
            ),
            retry=True,
            # Bounded: if the broker is gone the message stays unacked and comes back.
            retry_policy={"max_retries": 3, "interval_start": 0.5, "interval_step": 1},
            confirm_timeout=self.conf.confirm_timeout,
        )
        message.ack()
        self.stats["dead_lettered"] += 1


def read_envelope(message: Message) -> envelopes.Envelope:
    """The envelope of a message, decoded and checked in one pass when it is plain JSON.

    Anything else (another content type or encoding, compression) goes through kombu's
    own decoding, which refuses what ``accept`` does not allow.
    """
    plain_json = (
        message.content_type == "application/json"
        and (message.content_encoding or "utf-8").lower() in {"utf-8", "utf8"}
        and "compression" not in (message.headers or {})
    )
    return envelopes.parse_envelope(message.body if plain_json else message.decode())


def describe(exc: BaseException, *, with_traceback: bool = False) -> str:
    if with_traceback:
        return "".join(traceback.format_exception(exc)).strip()
    return f"{type(exc).__name__}: {exc}"
