"""Dead letters: what the consumer attaches to them, and how to list and replay them.

Each queue's dead letters wait in ``<queue>.dlq`` with the original body and these
headers: ``x-servidesk-reason`` (``unparseable``, ``invalid``, ``wrong_producer``,
``wrong_routing_key`` or ``handler_failed``),
``x-servidesk-error``, ``x-servidesk-attempts``, ``x-servidesk-queue``,
``x-servidesk-routing-key`` (the event type) and ``x-servidesk-failed-at``. Messages
RabbitMQ dead-lettered by itself carry its ``x-death`` header instead.

Replaying sends a message straight back to its queue through the default exchange, not
through ``servidesk.events``: the other services already had their copy. Discarding acks a
dead letter and so deletes it.

A dead letter is named by its ``key``: its message id (the event id, which the publisher
sets), or for a message that has none ``sha256:`` and the start of its body's digest.
Acting on some dead letters reads the dead-letter queue from the start, holding every
message it reads unacknowledged, and acks only those it acts on: closing the channel
hands the others back, in place (the queues' delivery limit is out of reach, see
``topology.py``). Messages another reader holds at that moment (a listing or a replay
running at the same time) are not seen: act again once it is done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator
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
#: Prefix of the key of a dead letter that has no message id.
BODY_KEY_PREFIX = "sha256:"


def letter_key(message: Message) -> str:
    """What names ``message`` among the dead letters (see the module's docstring)."""
    message_id = (message.properties or {}).get("message_id")
    if message_id:
        return str(message_id)
    body = message.body if isinstance(message.body, bytes) else str(message.body).encode()
    return BODY_KEY_PREFIX + hashlib.sha256(body).hexdigest()[:32]


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
    #: What names it for ``replay`` and ``discard``: the message id, else a body digest.
    key: str = ""
    #: The queue it failed in, as the consumer recorded it (empty for RabbitMQ's own).
    queue: str = ""

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
            key=letter_key(message),
            queue=str(headers.get("x-servidesk-queue") or death.get("queue", "")),
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


def count_dead_letters(queue: str, *, connection: Connection | None = None) -> int:
    """How many dead letters ``queue`` has waiting (not those a reader holds right now)."""
    with _dead_letter_queue(queue, connection) as (dlq, _channel, _topology):
        declared = dlq.queue_declare(passive=True)
    return int(getattr(declared, "message_count", 0) or 0)


def _act_on(
    dlq: Any,
    *,
    keys: Collection[str] | None,
    limit: int | None,
    act: Callable[[Message], None],
) -> int:
    """Read ``dlq`` from the start and ``act`` on each message whose key is in ``keys``
    (every message when ``keys`` is None), up to ``limit``; the act acks the message."""
    done = 0
    while limit is None or done < limit:
        message = dlq.get(no_ack=False)
        if message is None:
            break
        if keys is not None and letter_key(message) not in keys:
            continue  # held unacked: goes back when the channel closes
        act(message)
        done += 1
    return done


def discard(
    queue: str,
    *,
    message_ids: Collection[str],
    connection: Connection | None = None,
) -> int:
    """Delete the dead letters of ``queue`` named in ``message_ids`` (keys); how many."""
    with _dead_letter_queue(queue, connection) as (dlq, _channel, _topology):
        return _act_on(dlq, keys=message_ids, limit=None, act=lambda message: message.ack())


def replay(
    queue: str,
    *,
    message_ids: Collection[str] | None = None,
    limit: int | None = None,
    connection: Connection | None = None,
) -> int:
    """Send dead letters of ``queue`` back to it: those in ``message_ids`` (keys: see
    ``letter_key``), or all of them.

    Each is published (confirmed) before it is acked in the dead-letter queue, so a crash
    in between leaves a copy in both places, never in neither.
    """
    with _dead_letter_queue(queue, connection) as (dlq, channel, topology):
        producer = Producer(channel)
        target = topology.queue_name(queue)

        def send_back(message: Message) -> None:
            properties: dict[str, Any] = dict(message.properties or {})
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

        return _act_on(dlq, keys=message_ids, limit=limit, act=send_back)
