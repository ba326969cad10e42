"""The loop of ``manage.py send_webhooks``: claim due deliveries, post them from a small
thread pool, record what came of them.

Isolation: each endpoint has at most one request in flight (its lease, in the database,
shared by every sender process), and a pool thread waits for one endpoint only; so a slow
or dead endpoint holds one thread for at most ``WEBHOOK_TIMEOUT`` and never the others,
nor email and SMS (another process: ``send_notifications``).

Throughput: after a success the same thread sends that endpoint's next due delivery, its
claim made in the outcome's transaction under the lease it holds (``CHAIN`` in a row, for
``CHAIN_SECONDS``, at most), instead of handing the endpoint back to the loop to be
claimed again; and each destination's connection is kept alive (``outbound.Pools``).
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
    #: Deliveries one pool thread sends to one endpoint in a row (each claimed with the
    #: previous one's success), and seconds such a run may last, before the thread goes
    #: back to the loop: endpoints waiting for a thread then get theirs (those due longest
    #: first), so a slow endpoint's line never keeps a thread from the others longer than
    #: one request did.
    CHAIN = 100
    CHAIN_SECONDS = 1.0

    def __init__(
        self,
        *,
        threads: int | None = None,
        clock: Clock = timezone.now,
        conf: WebhookSettings | None = None,
        post: Post | None = None,
    ) -> None:
        self._conf = conf
        self.clock = clock
        #: One kept-alive connection per destination, shared by the pool threads.
        self.http_pools = outbound.Pools()
        self.post: Post = post or functools.partial(outbound.post, pools=self.http_pools)
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
        """Post one delivery and record the outcome (in a pool thread); after a success,
        post the endpoint's next due delivery, claimed with that outcome under the same
        lease (``CHAIN``, ``CHAIN_SECONDS``). The last status."""
        try:
            conf = self.conf
            status = ""
            current: WebhookDelivery | None = delivery
            sent = 0
            until = time.monotonic() + self.CHAIN_SECONDS
            while current is not None:
                answer = self._post(current, conf)
                sent += 1
                now = self.clock()
                following: WebhookDelivery | None = None
                go_on = sent < self.CHAIN and time.monotonic() < until
                if go_on and not self.stopping.is_set():
                    status, following = services.delivery_record_then_claim(
                        current, answer, now=now, conf=conf
                    )
                else:
                    status = services.delivery_record(current, answer, now=now, conf=conf)
                logger.info(
                    "webhook %s delivery %s (%s): %s",
                    current.webhook_id,
                    current.delivery_id,
                    answer.status or answer.error,
                    status,
                )
                current = following
            return status
        finally:
            # This pool thread's own connection, kept for its next delivery as a request's
            # is (CONN_MAX_AGE): opening one per delivery cost more than the rest of it.
            connection.close_if_unusable_or_obsolete()

    def _post(self, delivery: WebhookDelivery, conf: WebhookSettings) -> outbound.Answer:
        body = services.body_of(delivery)
        headers = services.headers_of(delivery, body, timestamp=int(time.time()))
        try:
            return self.post(delivery.webhook.url, body, headers, conf)
        except Exception as exc:  # a bug must not lose the delivery: it is retried
            logger.exception("webhook delivery %s: unexpected error", delivery.pk)
            return outbound.Answer(None, 0, error=f"unexpected error: {exc}"[:500])

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
        self.http_pools.close()
