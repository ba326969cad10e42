"""``manage.py watch_sla``: the ``tickets-sla`` process, the SLA that acts.

Every ``SLA_WATCH_SECONDS`` (``--interval``) it runs passes (``tickets.sla_watch``) until
nothing more is due: warnings at 80 % of a target, breaches (with the teams' escalation
rules) and the auto-close of resolved tickets, each published once through the outbox.
SIGTERM or Ctrl-C stops it after the pass in hand. A database that is away is retried
with a growing delay, never fatal. Several copies may run: they share the work.

    watch_sla          run until stopped
    watch_sla --once   passes until nothing is due, then exit (cron, tests)
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections

from servidesk_shared.backoff import Backoff
from tickets import sla_watch

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Publish SLA warnings and breaches, escalate, and close resolved tickets when due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Until nothing is due, then exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between rounds (default: SLA_WATCH_SECONDS).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=sla_watch.BATCH_SIZE, help="Tickets per pass."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = max(1, options["batch_size"])
        if options["once"]:
            self._round(batch_size, threading.Event())
            return
        interval = options["interval"]
        interval = settings.SLA_WATCH_SECONDS if interval is None else interval
        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        backoff = Backoff(start=1.0, cap=max(60.0, interval), jitter=0.2)
        self.stdout.write(f"watching the SLA every {interval:g}s")
        while not stopping.is_set():
            try:
                close_old_connections()
                self._round(batch_size, stopping)
                backoff.reset()
                stopping.wait(interval)
            except DatabaseError as exc:
                delay = backoff.next()
                logger.warning("SLA pass failed, retrying in %.1fs: %s", delay, exc)
                stopping.wait(delay)
        self.stdout.write("stopped")

    def _round(self, batch_size: int, stopping: threading.Event) -> None:
        """Passes until one finds less than a batch: a backlog drains at once."""
        while not stopping.is_set():
            result = sla_watch.run_pass(batch_size=batch_size)
            if result.examined:
                self.stdout.write(
                    f"{result.examined} ticket(s): {result.warnings} warning(s), "
                    f"{result.breaches} breach(es), {result.escalations} escalation(s), "
                    f"{result.closed} closed"
                    + (f", {result.duplicates} already done" if result.duplicates else "")
                )
            if result.examined < batch_size:
                return
