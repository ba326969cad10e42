"""``manage.py fetch_mail``: the ``tickets-mailbox`` process, reading the support mailbox.

Reads ``INBOUND_MAIL_URL`` every ``INBOUND_POLL_SECONDS`` (``--interval``), and at
once when an IMAP server with IDLE announces new mail, and applies what it finds
(``inbound.fetcher``); SIGTERM or Ctrl-C stops it after the message in hand. A
mailbox or database that is away is retried with a growing delay, never fatal.
Several copies may run against one mailbox: one reads it at a time (the others wait
their turn), and each message is applied once whatever happens.

    fetch_mail                 run until stopped
    fetch_mail --once          one pass, then exit (cron, tests)
    fetch_mail --list-failed   the messages in the failed folder, and why
    fetch_mail --retry         put them back, apply them again (one pass), exit
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections

from inbound import fetcher, selectors, services
from inbound.sources import ConfigurationError, MailSource, SourceError, source_from_url
from servidesk_shared.backoff import Backoff

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Read the support mailbox (INBOUND_MAIL_URL) into tickets and comments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between passes (default: INBOUND_POLL_SECONDS).",
        )
        parser.add_argument(
            "--list-failed", action="store_true", help="List the failed messages and exit."
        )
        parser.add_argument(
            "--retry",
            action="store_true",
            help="Move the failed messages back, apply them again, and exit.",
        )
        parser.add_argument(
            "--url", default=None, help="The mailbox to read instead of INBOUND_MAIL_URL."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.INBOUND_UNKNOWN_SENDERS not in services.UNKNOWN_SENDER_MODES:
            raise CommandError(
                f"INBOUND_UNKNOWN_SENDERS must be one of {', '.join(services.UNKNOWN_SENDER_MODES)}"
            )
        self.holder = services.lease_holder_name()
        try:
            source = source_from_url(options["url"])
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        if options["list_failed"]:
            self._list_failed(source)
            return
        if options["retry"]:
            self._retry(source)
            return
        if options["once"]:
            self._pass(source)
            return
        interval = options["interval"]
        self._loop(source, interval=settings.INBOUND_POLL_SECONDS if interval is None else interval)

    def _pass(self, source: MailSource) -> None:
        """One pass with a connection of its own (``--once``, ``--retry``)."""
        try:
            with source:
                self._report(source, fetcher.fetch_pass(source, holder=self.holder))
        except SourceError as exc:
            raise CommandError(f"the mailbox cannot be read: {exc}") from exc

    def _report(self, source: MailSource, result: fetcher.PassResult) -> None:
        if result.busy:
            self.stdout.write(f"{source.key}: another process is reading it")
            return
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(result.outcomes.items()))
        self.stdout.write(
            f"{source.key}: {result.seen} message(s)"
            + (f" ({outcomes})" if outcomes else "")
            + (f", {result.failed} failed" if result.failed else "")
            + (f", {result.released} held message(s) released" if result.released else "")
        )

    def _list_failed(self, source: MailSource) -> None:
        failed = list(selectors.failed_messages([source.key]))
        if not failed:
            self.stdout.write("no failed messages")
            return
        for message in failed:
            self.stdout.write(
                f"{message.failed_at:%Y-%m-%d %H:%M:%S} {message.message_id or '-'} "
                f"from {message.sender or '-'} {message.subject!r}: {message.reason}"
            )

    def _retry(self, source: MailSource) -> None:
        try:
            with source:
                moved = fetcher.retry_failed(source)
        except SourceError as exc:
            raise CommandError(f"the mailbox cannot be read: {exc}") from exc
        self.stdout.write(f"{moved} failed message(s) moved back")
        self._pass(source)

    def _loop(self, source: MailSource, *, interval: float) -> None:
        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        backoff = Backoff(start=1.0, cap=max(60.0, interval), jitter=0.2)
        self.stdout.write(f"reading {source.key} every {interval:g}s")
        while not stopping.is_set():
            try:
                # One connection for many passes; a new one after any trouble.
                with source:
                    while not stopping.is_set():
                        close_old_connections()
                        result = fetcher.fetch_pass(source, stop=stopping, holder=self.holder)
                        self._report(source, result)
                        backoff.reset()
                        if result.busy:
                            stopping.wait(interval)  # another reader has it: our turn later
                        else:
                            source.wait_for_mail(interval, stopping)
            except (SourceError, DatabaseError) as exc:
                delay = backoff.next()
                logger.warning("mailbox pass failed, retrying in %.1fs: %s", delay, exc)
                stopping.wait(delay)
        self.stdout.write("stopped")
