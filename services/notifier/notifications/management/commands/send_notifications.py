"""``manage.py send_notifications``: the process that sends queued email and SMS.

Run it next to ``manage.py consume_events`` (which only records what to send). Several
copies may run at once; each delivery is sent by one of them.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from notifications.models import Channel
from notifications.sender import ChannelWorker, Sender


class Command(BaseCommand):
    help = "Send queued email and SMS notifications, retrying transient failures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--channel",
            action="append",
            choices=Channel.values,
            help="Only this channel (repeatable); default: every channel.",
        )
        parser.add_argument(
            "--threads", type=int, default=1, help="Worker threads per channel (default 1)."
        )
        parser.add_argument("--once", action="store_true", help="Send what is due now, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        channels: list[str] = options["channel"] or list(Channel.values)
        if options["once"]:
            for channel in channels:
                worker = ChannelWorker(channel)
                total = 0
                try:
                    while claimed := worker.run_once():
                        total += claimed
                finally:
                    worker.close()
                self.stdout.write(f"{channel}: {total} deliveries handled")
            return

        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        sender = Sender(channels, threads=max(1, options["threads"]))
        sender.start()
        self.stdout.write(f"sending {', '.join(channels)} ({options['threads']} thread(s) each)")
        while not stopping.wait(1.0):
            if not sender.alive():
                raise SystemExit("every sender thread died")
        sender.stop()
        self.stdout.write("stopped")
