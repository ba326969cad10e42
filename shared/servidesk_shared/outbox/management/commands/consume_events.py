"""``manage.py consume_events``: apply the events of this service's queue until stopped.

The queue is ``SERVIDESK_EVENT_QUEUE`` and the handlers ``SERVIDESK_EVENT_HANDLERS``.
Run as many as needed: the inbox makes each event's effect happen once.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from servidesk_shared.events import broker
from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.registry import load_registry
from servidesk_shared.events.topology import SUBSCRIPTIONS
from servidesk_shared.outbox.management.commands._signals import on_stop_signals

# Long enough not to fire during a handler's retry backoff, short enough to notice a
# half-open connection within a minute.
HEARTBEAT_SECONDS = 30


class Command(BaseCommand):
    help = "Consume this service's event queue with idempotent handlers, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", help="queue to read (default: SERVIDESK_EVENT_QUEUE)")

    def handle(self, *args: Any, **options: Any) -> None:
        conf = event_settings()
        queue = options["queue"] or conf.queue
        if queue.removeprefix(conf.prefix) not in SUBSCRIPTIONS:
            raise CommandError(f"Unknown queue {queue!r}; known: {', '.join(SUBSCRIPTIONS)}.")
        try:
            registry = load_registry(conf.handlers)
        except (ImportError, ValueError, TypeError) as exc:
            raise CommandError(f"SERVIDESK_EVENT_HANDLERS: {exc}") from exc
        consumer = EventConsumer(
            broker.connection(heartbeat=HEARTBEAT_SECONDS),
            registry=registry,
            queue=queue,
            conf=conf,
        )
        on_stop_signals(consumer.stop)
        self.stderr.write(f"consuming {consumer.queue_name} ({len(registry)} event types)")
        consumer.run()
