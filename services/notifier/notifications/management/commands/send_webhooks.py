"""``manage.py send_webhooks``: the process that posts queued webhook deliveries.

Run it next to ``manage.py consume_events`` (which records them) and apart from
``send_notifications``: a slow endpoint never holds up email or SMS. Several copies may
run at once; each endpoint has one request in flight among all of them.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from notifications.webhooks.sender import WebhookSender


class Command(BaseCommand):
    help = "Post queued webhook deliveries, retrying failures with backoff for 24 hours."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="Requests at once, one per endpoint (default WEBHOOK_THREADS).",
        )
        parser.add_argument("--once", action="store_true", help="Send what is due now, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        sender = WebhookSender(threads=options["threads"])
        if options["once"]:
            try:
                sender.drain()
            finally:
                sender.stop()
            self.stdout.write("webhooks: nothing more due")
            return

        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        thread = threading.Thread(target=sender.run, name="webhook-sender", daemon=True)
        thread.start()
        self.stdout.write(f"sending webhooks ({sender.threads} thread(s))")
        while not stopping.wait(1.0):
            if not thread.is_alive():
                raise SystemExit("the webhook sender died")
        sender.stop()
        thread.join(30)
        self.stdout.write("stopped")
