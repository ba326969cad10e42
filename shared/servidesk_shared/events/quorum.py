"""Turning a classic queue into the quorum queue the topology now declares, losing nothing.

RabbitMQ cannot change a queue's type: the queue is emptied, deleted and declared again.
``migrate_to_quorum("notifier.events")`` does it for one queue (``manage.py
migrate_to_quorum`` for a service's queue and its dead-letter queue), in these steps:

1. **hold**: a holding quorum queue ``<queue>.migrating`` is declared with the queue's
   bindings, so whatever is published from now on is kept there too;
2. **unbind**: the classic queue loses its bindings; new messages reach the holding queue
   only;
3. **drain**: the classic queue's messages are moved to the holding queue, each
   published (with a publisher confirm) before it is acknowledged;
4. **delete**: the classic queue is deleted, only if it is empty and has no consumer
   (RabbitMQ checks both in the same step; otherwise back to 2);
5. **declare**: the quorum queue is declared with its dead-letter settings;
6. **release**: for each binding, the quorum queue is bound, then the holding queue
   unbound;
7. **restore**: the held messages are moved to the quorum queue, confirmed before they
   are acknowledged, and the holding queue is deleted.

Nothing published meanwhile is lost: at each moment some queue bound to the pattern keeps
it. A message can arrive twice: one published between steps 1 and 2 is both drained and
held (step 7 drops the second copy by its message id), and one published in the instant
between a pattern's two calls of step 6 is both in the new queue and held. A crash at any
step leaves every message in one of the queues (or two, never none); running the
migration again finishes the job, and running it on a quorum queue with no holding queue
left does nothing.

The queue's consumers must be stopped first: messages a consumer holds unacknowledged would
go when the queue is deleted. The migration refuses to start while the queue has
consumers. Moved messages go through the default exchange, as a replayed dead letter does,
and keep their body, properties and headers; the order across the migration is not kept
(the consumers never relied on it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import amqp
from kombu import Connection, Queue

from servidesk_shared.events import broker
from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.topology import DEAD_LETTER_SUFFIX, QUORUM_ARGUMENTS, Topology

HOLD_SUFFIX: Final = ".migrating"
#: How many times step 4 may find the classic queue not empty (or in use) and drain again.
DELETE_TRIES: Final = 10
#: Seconds to wait for RabbitMQ to confirm one moved message.
CONFIRM_TIMEOUT: Final = 30.0

Step = Literal["hold", "unbind", "drain", "delete", "declare", "release", "restore"]
Outcome = Literal["migrated", "already_quorum", "resumed", "created"]


class QueueInUseError(Exception):
    """The classic queue has consumers: stop them and run the migration again."""


@dataclass(frozen=True)
class Migration:
    queue: str
    outcome: Outcome
    #: Messages moved from the classic queue to the holding queue.
    drained: int = 0
    #: Messages moved from the holding queue to the quorum queue.
    restored: int = 0
    #: Second copies dropped in step 7 (see the module's docstring).
    duplicates: int = 0

    def describe(self) -> str:
        if self.outcome == "already_quorum":
            return f"{self.queue} is already a quorum queue: nothing to do"
        if self.outcome == "created":
            return f"{self.queue} did not exist: declared as a quorum queue"
        verb = "migrated to" if self.outcome == "migrated" else "finished migrating to"
        return (
            f"{self.queue} {verb} a quorum queue: {self.drained} message(s) drained, "
            f"{self.restored} restored, {self.duplicates} duplicate(s) dropped"
        )


def migrate_service_queues(
    queue: str,
    *,
    connection: Connection | None = None,
    topology: Topology | None = None,
    on_step: Callable[[str, Step], None] | None = None,
) -> list[Migration]:
    """Migrate ``queue`` (a consumer's queue, with or without the prefix) and its DLQ."""
    topology = topology or Topology(event_settings().prefix)
    name = topology.queue_name(queue)
    return [
        migrate_to_quorum(full, connection=connection, topology=topology, on_step=on_step)
        for full in (name, f"{name}{DEAD_LETTER_SUFFIX}")
    ]


def migrate_to_quorum(
    queue: str,
    *,
    connection: Connection | None = None,
    topology: Topology | None = None,
    on_step: Callable[[str, Step], None] | None = None,
) -> Migration:
    """Make ``queue`` (a full name: a consumer's queue or a dead-letter queue) a quorum queue.

    ``on_step(queue, step)`` is called as each step of the module's docstring begins.
    Raises ``QueueInUseError`` while the classic queue has consumers.
    """
    topology = topology or Topology(event_settings().prefix)
    conn = connection or broker.connection()
    try:
        conn.ensure_connection(max_retries=broker.connect_tries(conn))
        return _Migrator(conn, topology, queue, on_step or (lambda _queue, _step: None)).run()
    finally:
        if connection is None:
            conn.release()


def hold_queue_name(queue: str) -> str:
    return f"{queue}{HOLD_SUFFIX}"


class _Migrator:
    def __init__(
        self,
        conn: Connection,
        topology: Topology,
        queue: str,
        on_step: Callable[[str, Step], None],
    ) -> None:
        self.conn = conn
        self.name = queue
        self.target = topology.quorum(queue)
        self.classic = topology.as_classic(queue)
        self.bindings = bindings_of(self.target)
        self.hold = Queue(
            hold_queue_name(queue), durable=True, queue_arguments=dict(QUORUM_ARGUMENTS)
        )
        self.on_step = on_step
        self._channel: Any = None
        # The exchanges the bindings need (a first start may find none).
        self.exchanges = [topology.exchange, topology.dead_letter_exchange]

    @property
    def channel(self) -> Any:
        """A channel of the connection, opened again after RabbitMQ closed it on an error."""
        if self._channel is None or not self._channel.is_open:
            self._channel = self.conn.connection.channel()
        return self._channel

    def run(self) -> Migration:
        try:
            return self._run()
        finally:
            if self._channel is not None and self._channel.is_open:
                self._channel.close()

    def _run(self) -> Migration:
        for exchange in self.exchanges:
            exchange(self.channel).declare()
        existed = self.exists(self.name)
        held = self.exists(self.hold.name)
        if existed and not self.is_classic():
            if not held:
                return Migration(self.name, "already_quorum")
            # An earlier run stopped after step 5: finish it.
            restored, duplicates = self.release_and_restore()
            return Migration(self.name, "resumed", restored=restored, duplicates=duplicates)
        if not existed and not held:
            self.target(self.channel).declare()
            return Migration(self.name, "created")
        drained = 0
        if existed:
            consumers = self.consumers()
            if consumers:
                raise QueueInUseError(
                    f"{self.name} has {consumers} consumer(s): stop them, then run this again"
                )
            self.step("hold")
            self.hold(self.channel).declare()
            for exchange, routing_key in self.bindings:
                self.channel.queue_bind(self.hold.name, exchange, routing_key)
            drained = self.drain_and_delete()
        self.step("declare")
        self.declare(self.target)
        restored, duplicates = self.release_and_restore()
        outcome: Outcome = "migrated" if existed else "resumed"
        return Migration(self.name, outcome, drained, restored, duplicates)

    # --- the steps ------------------------------------------------------------------

    def step(self, step: Step) -> None:
        self.on_step(self.name, step)

    def drain_and_delete(self) -> int:
        drained = 0
        for _ in range(DELETE_TRIES):
            # Again on each pass: a process starting meanwhile declares it with its bindings.
            self.step("unbind")
            for exchange, routing_key in self.bindings:
                self.channel.queue_unbind(self.name, exchange, routing_key)
            self.step("drain")
            drained += self.move(self.name, self.hold.name)[0]
            self.step("delete")
            try:
                self.channel.queue_delete(self.name, if_unused=True, if_empty=True)
            except amqp.PreconditionFailed:
                continue  # a message or a consumer came meanwhile: drain again
            # A channel remembers the classic queue it read from by name; RabbitMQ 3.10
            # closes the connection when that channel then publishes to the quorum queue
            # of the same name. The next steps take a new channel.
            self._channel.close()
            return drained
        consumers = self.consumers()
        if consumers:
            raise QueueInUseError(
                f"{self.name} has {consumers} consumer(s) again: stop them, then run this "
                f"again (its messages wait in {self.hold.name})"
            )
        raise RuntimeError(f"{self.name} kept receiving messages; run this again")

    def release_and_restore(self) -> tuple[int, int]:
        """Steps 6 and 7: the number of messages restored and of second copies dropped."""
        self.step("release")
        for exchange, routing_key in self.bindings:
            # Bound first, released next: something is bound to the pattern at each moment.
            self.channel.queue_bind(self.name, exchange, routing_key)
            self.channel.queue_unbind(self.hold.name, exchange, routing_key)
        self.step("restore")
        restored, duplicates = self.move(self.hold.name, self.name, once=True)
        # Unbound, it receives nothing more (quorum queues do not take ``if_empty``).
        self.channel.queue_delete(self.hold.name)
        return restored, duplicates

    def move(self, source: str, target: str, *, once: bool = False) -> tuple[int, int]:
        """Move every message of ``source`` to ``target`` through the default exchange.

        Each is confirmed by RabbitMQ before it is acknowledged in ``source`` (a message
        ``target`` cannot take comes back as an error, never vanishes). With ``once``, a
        message whose id was already moved is a second copy: acknowledged, not published.
        Returns the number moved and the number dropped.
        """
        moved = dropped = 0
        seen: set[str] = set()
        channel = self.channel
        while (message := channel.basic_get(queue=source, no_ack=False)) is not None:
            message_id = message.properties.get("message_id")
            if once and message_id and message_id in seen:
                channel.basic_ack(message.delivery_tag)
                dropped += 1
                continue
            channel.basic_publish_confirm(
                amqp.Message(message.body, **message.properties),
                exchange="",
                routing_key=target,
                mandatory=True,
                confirm_timeout=CONFIRM_TIMEOUT,
            )
            channel.basic_ack(message.delivery_tag)
            if once and message_id:
                seen.add(message_id)
            moved += 1
        return moved, dropped

    # --- what the broker says ---------------------------------------------------------

    def exists(self, queue: str) -> bool:
        try:
            self.channel.queue_declare(queue, passive=True)
        except amqp.NotFound:
            return False
        return True

    def consumers(self) -> int:
        _name, _messages, consumers = self.channel.queue_declare(self.name, passive=True)
        return int(consumers)

    def is_classic(self) -> bool:
        """Whether the existing queue is not (yet) a quorum queue: RabbitMQ refuses to
        declare it as one and takes the classic declaration (as a quorum queue,
        declaring it again changes nothing). Bindings are left as they are."""
        try:
            self.declare(self.target)
        except amqp.PreconditionFailed as refused:
            try:
                self.declare(self.classic)
            except amqp.PreconditionFailed:
                raise refused from None
            return True
        return False

    def declare(self, queue: Queue) -> None:
        """Declare ``queue`` (under this migration's name) without its bindings."""
        self.channel.queue_declare(
            self.name, durable=True, auto_delete=False, arguments=queue.queue_arguments
        )


def bindings_of(queue: Queue) -> list[tuple[str, str]]:
    """``(exchange, routing key)`` of every binding the topology gives ``queue``."""
    if queue.bindings:
        return [(bound.exchange.name, bound.routing_key) for bound in queue.bindings]
    if queue.exchange is not None and queue.exchange.name:
        return [(queue.exchange.name, queue.routing_key)]
    return []
