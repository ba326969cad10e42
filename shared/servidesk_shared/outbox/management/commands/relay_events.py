"""``manage.py relay_events``: publish the outbox to the broker until stopped.

Run one or more per producing service; they share the rows without double work.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.relay import Relay
from servidesk_shared.outbox.management.commands._signals import on_stop_signals


class Command(BaseCommand):
    help = "Publish outbox events to the broker with publisher confirms, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, help="rows claimed per transaction")
        parser.add_argument("--poll-interval", type=float, help="seconds between polls")

    def handle(self, *args: Any, **options: Any) -> None:
        conf = event_settings()
        if options["batch_size"]:
            conf = replace(conf, outbox_batch_size=options["batch_size"])
        if options["poll_interval"]:
            conf = replace(conf, outbox_poll_interval=options["poll_interval"])
        relay = Relay(conf=conf)
        on_stop_signals(relay.stop)
        self.stderr.write(f"relaying the outbox to {_where(conf.broker_url)}")
        relay.run()


def _where(url: str) -> str:
    if not url:
        return "the embedded broker"
    # Never print the password.
    return url.rsplit("@", maxsplit=1)[-1]
