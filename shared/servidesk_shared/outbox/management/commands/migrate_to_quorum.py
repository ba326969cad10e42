"""``manage.py migrate_to_quorum``: make this service's queue and its DLQ quorum queues.

Stop the queue's consumers first (``consume_events``); everything else keeps running. The
steps and their guarantees are in ``servidesk_shared/events/quorum.py``; the procedure in
docs/deployment.md ("RabbitMQ cluster: quorum queues and failover"). Running it again on
a migrated queue says so and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.quorum import QueueInUseError, Step, migrate_service_queues
from servidesk_shared.events.topology import SUBSCRIPTIONS


class Command(BaseCommand):
    help = "Migrate an event queue and its dead-letter queue from classic to quorum queues."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue",
            dest="queues",
            action="append",
            help="queue to migrate, repeatable (default: SERVIDESK_EVENT_QUEUE)",
        )
        parser.add_argument("--all", action="store_true", help="every queue of the topology")

    def handle(self, *args: Any, **options: Any) -> None:
        conf = event_settings()
        if not conf.broker_url:
            self.stdout.write("The embedded broker has no queue types: nothing to migrate.")
            return
        queues = list(SUBSCRIPTIONS) if options["all"] else options["queues"] or [conf.queue]
        queues = [queue for queue in queues if queue]
        if not queues:
            raise CommandError("Give --queue (or --all), or set SERVIDESK_EVENT_QUEUE.")
        for queue in queues:
            if queue.removeprefix(conf.prefix) not in SUBSCRIPTIONS:
                raise CommandError(f"Unknown queue {queue!r}; known: {', '.join(SUBSCRIPTIONS)}.")

        def on_step(name: str, step: Step) -> None:
            self.stderr.write(f"{name}: {step}")

        for queue in queues:
            try:
                migrations = migrate_service_queues(queue, on_step=on_step)
            except QueueInUseError as exc:
                raise CommandError(str(exc)) from exc
            for migration in migrations:
                self.stdout.write(migration.describe())
