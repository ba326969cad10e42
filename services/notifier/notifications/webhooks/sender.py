"""The loop of ``manage.py send_webhooks``: claim due deliveries, post them from a small
thread pool, record what came of them.

Isolation: each endpoint has at most one request in flight (its lease, in the database,
shared by every sender process), and a pool thread waits for one endpoint only; so a slow
or dead endpoint holds one thread for at most ``WEBHOOK_TIMEOUT`` and never the others,
nor email and SMS (another process: ``send_notifications``).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, connections
from django.utils import timezone

from notifications.models import WebhookDelivery
from notifications.webhooks import outbound, selectors, services
from notifications.webhooks.conf import WebhookSettings, webhook_settings
from servidesk_shared.backoff import Backoff
from servidesk_shared.waiter import make_waiter

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Post = Callable[[str, bytes, dict[str, str], WebhookSettings], outbound.Answer]


class WebhookSender:
    #: Seconds between looks for work at most (what other processes' outcomes set free).
    POLL = 1.0

    def __init__(
        self,
        *,
        threads: int | None = None,
        clock: Clock = timezone.now,
        conf: WebhookSettings | None = None,
        post: Post = outbound.post,
    ) -> None:
        self._conf = conf
        self.clock = clock
        self.post = post
        self.threads = threads or self.conf.threads
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="webhook")
        #: Endpoint id -> the request to it in flight from this process.
        self.in_flight: dict[int, Future[str]] = {}
        self.lock = threading.Lock()
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        #: Endpoint id -> until when it is not looked at (see ``run_once``).
        self.stalled: dict[int, datetime] = {}

    @property
    def conf(self) -> WebhookSettings:
        return self._conf or webhook_settings()

    # --- one round ------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim what is due for the endpoints with nothing in flight here, as many as
        there are free threads, and hand them to the pool; the number claimed."""
        now = self.clock()
        with self.lock:
            busy = set(self.in_flight)
        free = self.threads - len(busy)
        if free <= 0:
            return 0
        # An endpoint found with nothing to send but deliveries waiting behind a retry (a
        # failing one, its lines growing) is left alone for a poll: looking again at once
        # would scan its every waiting delivery on each claim made for the others.
        self.stalled = {pk: until for pk, until in self.stalled.items() if until > now}
        stalled: set[int] = set()
        batch = services.claim_due(
            now=now, limit=free, exclude=busy | set(self.stalled), conf=self.conf, stalled=stalled
        )
        self.stalled |= dict.fromkeys(stalled, now + timedelta(seconds=self.POLL))
        for delivery in batch:
            future = self.pool.submit(self.deliver, delivery)
            with self.lock:
                self.in_flight[delivery.webhook_id] = future
            future.add_done_callback(functools.partial(self._done, delivery.webhook_id))
        return len(batch)

    def _done(self, webhook_id: int, _future: Future[str]) -> None:
        with self.lock:
            self.in_flight.pop(webhook_id, None)
        self.wakeup.set()  # a thread is free: claim again

    def deliver(self, delivery: WebhookDelivery) -> str:
        """Post one delivery and record the outcome (in a pool thread)."""
        try:
            conf = self.conf
            body = services.body_of(delivery)
            headers = services.headers_of(delivery, body, timestamp=int(time.time()))
            try:
                answer = self.post(delivery.webhook.url, body, headers, conf)
            except Exception as exc:  # a bug must not lose the delivery: it is retried
                logger.exception("webhook delivery %s: unexpected error", delivery.pk)
                answer = outbound.Answer(None, 0, error=f"unexpected error: {exc}"[:500])
            status = services.delivery_record(delivery, answer, now=self.clock(), conf=conf)
            logger.info(
                "webhook %s delivery %s (%s): %s",
                delivery.webhook_id,
                delivery.delivery_id,
                answer.status or answer.error,
                status,
            )
            return status
        finally:
            # This pool thread's own connection, kept for its next delivery as a request's
            # is (CONN_MAX_AGE): opening one per delivery cost more than the rest of it.
            connection.close_if_unusable_or_obsolete()

    def drain(self, rounds: int = 100) -> None:
        """Send until nothing is due now (tests and ``--once``): claim, wait, again."""
        for _ in range(rounds):
            if not self.run_once():
                with self.lock:
                    pending = list(self.in_flight.values())
                if not pending:
                    return
            self.wait_idle()

    def wait_idle(self, timeout: float | None = None) -> None:
        with self.lock:
            pending = list(self.in_flight.values())
        for future in pending:
            future.result(timeout=timeout)

    # --- the loop -------------------------------------------------------------------

    def run(self) -> None:
        """Send until ``stop()``; a lost database is waited out, not fatal."""
        services.register_wakeup(self.wakeup)
        waiter = make_waiter(channel=services.NOTIFY_CHANNEL, wakeup=self.wakeup, name="webhooks")
        backoff = Backoff(start=0.5, factor=2.0, cap=10.0)
        try:
            while not self.stopping.is_set():
                try:
                    claimed = self.run_once()
                    backoff.reset()
                    # A request in flight wakes this loop when it is done: looking for the
                    # next retry then (a scan past every due delivery) is only for an idle
                    # loop.
                    waiter.wait(self.idle_timeout() if not claimed else self.POLL)
                except Exception as exc:
                    delay = backoff.next()
                    if isinstance(exc, DatabaseError):
                        logger.warning("webhook sender: %s; retry in %.1fs", exc, delay)
                    else:
                        logger.exception("webhook sender: unexpected error")
                    connections["default"].close()
                    self.stopping.wait(delay)
        finally:
            services.forget_wakeup(self.wakeup)
            waiter.close()
            connections["default"].close()

    def idle_timeout(self, poll: float = POLL) -> float:
        """Until the next retry falls due, at most ``poll`` (which also picks up what other
        processes' outcomes set free)."""
        now = self.clock()
        due = selectors.next_due(after=now)
        if due is None:
            return poll
        return max(0.0, min(poll, (due - now).total_seconds()))

    def stop(self, timeout: float | None = None) -> None:
        self.stopping.set()
        self.wakeup.set()
        self.pool.shutdown(wait=timeout is None or timeout > 0, cancel_futures=False)
