"""The broker topology, declared in one place and by every process that publishes or consumes.

- ``servidesk.events``: durable topic exchange; the routing key is the event type.
- one durable queue per consuming service, bound with the patterns below, whose rejected
  messages RabbitMQ routes to ``servidesk.dlx`` under the queue's own name;
- ``servidesk.dlx``: durable *direct* exchange, so each queue's dead letters land in its
  own ``<queue>.dlq`` only (a topic DLX keyed by event type would copy a ticket event that
  failed in notifier into reports' dead letters too).

Declaring is idempotent. Publishers declare the queues as well, so an event published
before a consumer's first start waits in its queue instead of being dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from kombu import Exchange, Queue, binding

EVENTS_EXCHANGE: Final = "servidesk.events"
DEAD_LETTER_EXCHANGE: Final = "servidesk.dlx"
DEAD_LETTER_SUFFIX: Final = ".dlq"

#: queue -> the routing key patterns it is bound with (the contract's table).
SUBSCRIPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "notifier.events": ("ticket.#", "user.#", "verification.#", "mail.#", "team.#"),
    "reports.events": ("ticket.#", "user.#", "team.#"),
    "tickets.users": ("user.#",),
    "accounts.invites": ("user.invite_requested",),
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

    def queue(self, queue: str) -> Queue:
        name = self.queue_name(queue)
        patterns = SUBSCRIPTIONS[name.removeprefix(self.prefix)]
        arguments: dict[str, Any] = {
            "x-dead-letter-exchange": self.dead_letter_exchange.name,
            "x-dead-letter-routing-key": name,
        }
        return Queue(
            name,
            bindings=[binding(self.exchange, routing_key=pattern) for pattern in patterns],
            durable=True,
            queue_arguments=arguments,
        )

    def dead_letter_queue(self, queue: str) -> Queue:
        name = self.queue_name(queue)
        return Queue(
            f"{name}{DEAD_LETTER_SUFFIX}",
            exchange=self.dead_letter_exchange,
            routing_key=name,
            durable=True,
        )

    def queues(self) -> Iterator[Queue]:
        for queue in SUBSCRIPTIONS:
            yield self.queue(queue)
            yield self.dead_letter_queue(queue)

    def declare(self, channel: Any) -> None:
        """Declare both exchanges, every queue and every binding on ``channel``."""
        self.exchange(channel).declare()
        self.dead_letter_exchange(channel).declare()
        for queue in self.queues():
            queue(channel).declare()
