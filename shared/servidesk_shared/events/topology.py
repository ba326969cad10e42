"""The broker topology, declared in one place and by every process that publishes or consumes.

- ``servidesk.events``: durable topic exchange; the routing key is the event type.
- one durable queue per consuming service, bound with the patterns below, whose rejected
  messages RabbitMQ routes to ``servidesk.dlx`` under the queue's own name;
- ``servidesk.dlx``: durable *direct* exchange, so each queue's dead letters land in its
  own ``<queue>.dlq`` only (a topic DLX keyed by event type would copy a ticket event that
  failed in notifier into reports' dead letters too).

Every queue, dead-letter queues included, is a *quorum* queue: replicated by a RabbitMQ
cluster, it survives the loss of a minority of its nodes (on one node it is simply a
durable queue). Their arguments keep the behaviour the classic queues had:

- ``x-delivery-limit`` is set out of reach (``DELIVERY_LIMIT``). A quorum queue counts the
  times a message went back unacknowledged, and from RabbitMQ 4.0 drops or dead-letters it
  after 20 by default; ours only go back when a consumer stops or loses its connection
  while holding them, which is not the message's fault (the consumer dead-letters what it
  cannot apply itself, see ``consumer.py``), and a dead-letter queue's messages go back
  each time ``dead_letters list`` reads them. -1 is no way out: RabbitMQ 3.x reads it as
  "dead-letter at the first return".
- ``x-dead-letter-strategy: at-least-once`` (with the ``x-overflow: reject-publish`` it
  requires): a message RabbitMQ dead-letters itself (a ``reject`` without requeue) leaves
  the queue only once its dead-letter queue has it.

Declaring is idempotent. Publishers declare the queues as well, so an event published
before a consumer's first start waits in its queue instead of being dropped. A queue that
still exists as a classic queue (declared before quorum queues) is kept and used as it is,
with a warning, until ``manage.py migrate_to_quorum`` (``quorum.py``) converts it:
RabbitMQ refuses to redeclare a queue with another type, and the upgrade must not stop
the processes that have not been migrated yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import amqp
from kombu import Exchange, Queue, binding

logger = logging.getLogger(__name__)

EVENTS_EXCHANGE: Final = "servidesk.events"
DEAD_LETTER_EXCHANGE: Final = "servidesk.dlx"
DEAD_LETTER_SUFFIX: Final = ".dlq"

#: queue -> the routing key patterns it is bound with (the contract's table).
SUBSCRIPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "notifier.events": (
        "ticket.#",
        "user.#",
        "verification.#",
        "mail.#",
        "team.#",
        "report.export_ready",
    ),
    "reports.events": ("ticket.#", "user.#", "team.#"),
    "tickets.users": ("user.#",),
    "accounts.invites": ("user.invite_requested",),
    # web's live stream (issue 22): what an open page shows as it happens.
    "web.live": ("ticket.#", "notification.#"),
}

#: Returns a message may take before RabbitMQ gives up on it: never, in practice (see above).
DELIVERY_LIMIT: Final = 2**31 - 1
#: The arguments that make a queue a quorum queue, as every queue of ours is declared.
QUORUM_ARGUMENTS: Final[dict[str, Any]] = {
    "x-queue-type": "quorum",
    "x-delivery-limit": DELIVERY_LIMIT,
}
#: Added to a quorum queue that has a dead-letter exchange.
SAFE_DEAD_LETTERING: Final[dict[str, Any]] = {
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
}


@dataclass(frozen=True)
class Topology:
    """Every name, optionally prefixed so a test run or a staging stack stays apart."""

    prefix: str = ""

    @property
    def exchange(self) -> Exchange:
        return Exchange(f"{self.prefix}{EVENTS_EXCHANGE}", type="topic", durable=True)

    @property
    def dead_letter_exchange(self) -> Exchange:
        return Exchange(f"{self.prefix}{DEAD_LETTER_EXCHANGE}", type="direct", durable=True)

    def queue_name(self, queue: str) -> str:
        """The full name of ``queue`` (given with or without the prefix)."""
        return queue if queue.startswith(self.prefix) else f"{self.prefix}{queue}"

    def queue(self, queue: str, *, classic: bool = False) -> Queue:
        """``queue`` as declared: a quorum queue, or with ``classic`` as it was before."""
        name = self.queue_name(queue)
        patterns = SUBSCRIPTIONS[name.removeprefix(self.prefix)]
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": self.dead_letter_exchange.name,
            "x-dead-letter-routing-key": name,
        }
        if not classic:
            arguments.update(QUORUM_ARGUMENTS)
            arguments.update(SAFE_DEAD_LETTERING)
        return Queue(
            name,
            bindings=[binding(self.exchange, routing_key=pattern) for pattern in patterns],
            durable=True,
            queue_arguments=arguments,
        )

    def dead_letter_queue(self, queue: str, *, classic: bool = False) -> Queue:
        name = self.queue_name(queue)
        return Queue(
            f"{name}{DEAD_LETTER_SUFFIX}",
            exchange=self.dead_letter_exchange,
            routing_key=name,
            durable=True,
            queue_arguments=None if classic else dict(QUORUM_ARGUMENTS),
        )

    def queues(self) -> Iterator[Queue]:
        for queue in SUBSCRIPTIONS:
            yield self.queue(queue)
            yield self.dead_letter_queue(queue)

    def declare(self, channel: Any) -> frozenset[str]:
        """Declare both exchanges, every queue and every binding on ``channel``'s broker.

        Returns the queues left classic (see the module's docstring), by full name. On
        RabbitMQ the declarations go through a channel of their own: a refused one closes
        its channel, and ``channel`` must stay open for its owner.
        """
        if not isinstance(channel, amqp.Channel):  # the embedded broker has one queue type
            self.exchange(channel).declare()
            self.dead_letter_exchange(channel).declare()
            for queue in self.queues():
                queue(channel).declare()
            return frozenset()
        classic: set[str] = set()
        work = channel.connection.channel()
        try:
            self.exchange(work).declare()
            self.dead_letter_exchange(work).declare()
            for queue in self.queues():
                try:
                    queue(work).declare()
                except amqp.PreconditionFailed as refused:
                    # RabbitMQ names the first argument that differs, which is not always
                    # the queue's type. The queue is classic if it takes that declaration.
                    work = channel.connection.channel()  # RabbitMQ closed the other
                    try:
                        self.as_classic(queue.name)(work).declare()
                    except amqp.PreconditionFailed:
                        raise refused from None
                    classic.add(queue.name)
                    logger.warning(
                        "%s is still a classic queue; run `manage.py migrate_to_quorum` "
                        "to make it a quorum queue (docs/deployment.md)",
                        queue.name,
                    )
        finally:
            if work.is_open:
                work.close()
        return frozenset(classic)

    def as_classic(self, name: str) -> Queue:
        """The queue named ``name`` (a full name) as it was declared when it was classic."""
        base = name.removesuffix(DEAD_LETTER_SUFFIX)
        if base != name:
            return self.dead_letter_queue(base, classic=True)
        return self.queue(name, classic=True)

    def quorum(self, name: str) -> Queue:
        """The queue named ``name`` (a full name, a dead-letter queue's too) as declared."""
        base = name.removesuffix(DEAD_LETTER_SUFFIX)
        if base != name:
            return self.dead_letter_queue(base)
        return self.queue(name)
