"""``manage.py relay_events``: publish the outbox to the broker until stopped.

Each relay waits for a publisher confirm per event, so its pace is the broker's confirm
round trip. Several relays overlap those waits: while one waits with its batch claimed,
``SKIP LOCKED`` hands the rows committed meanwhile to the next. So the command runs two
relay threads on PostgreSQL (``--threads``, or ``SERVIDESK_OUTBOX_RELAY_THREADS``), and
more processes may run beside it. On SQLite, which cannot skip locked rows, one.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from servidesk_shared.events.conf import broker_urls, event_settings
from servidesk_shared.events.relay import Relay
from servidesk_shared.outbox.management.commands._signals import on_stop_signals


class Command(BaseCommand):
    help = "Publish outbox events to the broker with publisher confirms, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, help="rows claimed per transaction")
        parser.add_argument("--poll-interval", type=float, help="seconds between polls")
        parser.add_argument("--threads", type=int, help="relays in this process")

    def handle(self, *args: Any, **options: Any) -> None:
        conf = event_settings()
        if options["batch_size"]:
            conf = replace(conf, outbox_batch_size=options["batch_size"])
        if options["poll_interval"]:
            conf = replace(conf, outbox_poll_interval=options["poll_interval"])
        count = options["threads"] or conf.relay_threads
        if not count:
            count = 2 if connection.vendor == "postgresql" else 1
        relays = [Relay(conf=conf) for _ in range(count)]

        def stop() -> None:
            for relay in relays:
                relay.stop()

        on_stop_signals(stop)
        self.stderr.write(f"relaying the outbox to {_where(conf.broker_url)} ({count} relays)")
        threads = [
            threading.Thread(target=relay.run, name=f"relay-{n}") for n, relay in enumerate(relays)
        ]
        for thread in threads:
            thread.start()
        # Joined with a timeout so this thread stays free to take the stop signals.
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.5)


def _where(url: str) -> str:
    if not url:
        return "the embedded broker"
    # Never print the password; each failover URL by its host.
    return ", ".join(part.rsplit("@", maxsplit=1)[-1] for part in broker_urls(url))
