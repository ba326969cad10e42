"""Dead letters: what the consumer attaches to them, and how to list and replay them.

Each queue's dead letters wait in ``<queue>.dlq`` with the original body and these
headers: ``x-servidesk-reason`` (``unparseable``, ``invalid``, ``wrong_producer``,
``wrong_routing_key`` or ``handler_failed``),
``x-servidesk-error``, ``x-servidesk-attempts``, ``x-servidesk-queue``,
``x-servidesk-routing-key`` (the event type) and ``x-servidesk-failed-at``. Messages
RabbitMQ dead-lettered by itself carry its ``x-death`` header instead.

Replaying sends a message straight back to its queue through the default exchange, not
through ``servidesk.events``: the other services already had their copy.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from kombu import Connection, Message, Producer

from servidesk_shared.events import broker
from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.topology import Topology

PERSISTENT = 2
HEADER_PREFIX = "x-servidesk-"


def dead_letter_headers(
    message: Message, *, queue: str, reason: str, error: str, attempts: int
) -> dict[str, Any]:
    headers = {
        key: value
        for key, value in (message.headers or {}).items()
        if not key.startswith(HEADER_PREFIX)
    }
    headers.update(
        {
            "x-servidesk-reason": reason,
            "x-servidesk-error": error,
            "x-servidesk-attempts": attempts,
            "x-servidesk-queue": queue,
            "x-servidesk-routing-key": str((message.delivery_info or {}).get("routing_key", "")),
            "x-servidesk-failed-at": timezone.now().isoformat(),
        }
    )
    return headers


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    event_type: str
    reason: str
    error: str
    attempts: int
    failed_at: str
    body: bytes

    @classmethod
    def from_message(cls, message: Message) -> DeadLetter:
        headers: dict[str, Any] = dict(message.headers or {})
        properties: dict[str, Any] = dict(message.properties or {})
        death = (headers.get("x-death") or [{}])[0]  # RabbitMQ's own dead-lettering
        routing_keys = death.get("routing-keys") or [""]
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
        return cls(
            message_id=str(properties.get("message_id") or ""),
            event_type=str(headers.get("x-servidesk-routing-key") or routing_keys[0]),
            reason=str(headers.get("x-servidesk-reason") or death.get("reason", "")),
            error=str(headers.get("x-servidesk-error", "")),
            attempts=int(headers.get("x-servidesk-attempts") or death.get("count") or 0),
            failed_at=str(headers.get("x-servidesk-failed-at") or death.get("time", "")),
            body=body,
        )


@contextmanager
def _dead_letter_queue(
    queue: str, connection: Connection | None
) -> Iterator[tuple[Any, Any, Topology]]:
    topology = Topology(event_settings().prefix)
    conn = connection or broker.connection()
    try:
        conn.ensure_connection(max_retries=broker.connect_tries(conn))
        channel = conn.channel()
        try:
            topology.declare(channel)
            yield topology.dead_letter_queue(queue)(channel), channel, topology
        finally:
            # Closing the channel hands every message we got but did not ack back to the
            # dead-letter queue: listing and partial replays leave the rest untouched.
            channel.close()
    finally:
        if connection is None:
            conn.release()


def list_dead_letters(
    queue: str, *, limit: int = 100, connection: Connection | None = None
) -> list[DeadLetter]:
    """Up to ``limit`` dead letters of ``queue``, oldest first, left in place."""
    found: list[DeadLetter] = []
    with _dead_letter_queue(queue, connection) as (dlq, _channel, _topology):
        while len(found) < limit and (message := dlq.get(no_ack=False)) is not None:
            found.append(DeadLetter.from_message(message))
    return found


def replay(
    queue: str,
    *,
    message_ids: Collection[str] | None = None,
    limit: int | None = None,
    connection: Connection | None = None,
) -> int:
    """Send dead letters of ``queue`` back to it: those in ``message_ids``, or all of them.

    Each is published (confirmed) before it is acked in the dead-letter queue, so a crash
    in between leaves a copy in both places, never in neither.
    """
    replayed = 0
    with _dead_letter_queue(queue, connection) as (dlq, channel, topology):
        producer = Producer(channel)
        target = topology.queue_name(queue)
        while limit is None or replayed < limit:
            message = dlq.get(no_ack=False)
            if message is None:
                break
            properties: dict[str, Any] = dict(message.properties or {})
            if message_ids is not None and properties.get("message_id") not in message_ids:
                continue  # held unacked: goes back when the channel closes
            headers = {
                key: value
                for key, value in (message.headers or {}).items()
                if not key.startswith(HEADER_PREFIX) and key != "x-death"
            }
            headers["x-servidesk-replayed-at"] = timezone.now().isoformat()
            producer.publish(
                message.body,
                exchange="",
                routing_key=target,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=PERSISTENT,
                message_id=properties.get("message_id"),
                type=properties.get("type"),
                headers=headers,
            )
            message.ack()
            replayed += 1
    return replayed
