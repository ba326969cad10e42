"""The senders: claim queued deliveries, send them outside any transaction, log the outcome.

One worker per channel (and as many per channel as wanted: ``SKIP LOCKED`` shares the
queue), each with its own thread, database connection and provider session, so a
channel that is down or slow never holds the other one up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db import DatabaseError, connections
from django.utils import timezone

from notifications import services
from notifications.channels.base import PermanentError, Skip, TransientError, Transport
from notifications.channels.email import EmailTransport
from notifications.channels.sms import SmsTransport
from notifications.conf import NotifierSettings, notifier_settings
from notifications.models import Channel, Contact, Delivery
from notifications.wakeup import make_waiter, nudge

logger = logging.getLogger(__name__)

TRANSPORTS: dict[str, Callable[[], Transport]] = {
    Channel.EMAIL.value: EmailTransport,
    Channel.SMS.value: SmsTransport,
}


class ChannelWorker:
    def __init__(
        self,
        channel: str,
        *,
        transport_factory: Callable[[], Transport] | None = None,
        conf: NotifierSettings | None = None,
    ) -> None:
        self.channel = channel
        self.transport_factory = transport_factory or TRANSPORTS[channel]
        self._conf = conf
        self.stopping = threading.Event()

    @property
    def conf(self) -> NotifierSettings:
        return self._conf or notifier_settings()

    # --- one batch ------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and send one batch; the number of deliveries claimed."""
        conf = self.conf
        batch = services.delivery_claim_due(channel=self.channel, limit=conf.batch_size, conf=conf)
        if batch:
            self.send_batch(batch, conf)
        return len(batch)

    def send_batch(self, batch: Iterable[Delivery], conf: NotifierSettings) -> None:
        batch = list(batch)
        contacts = Contact.objects.in_bulk({d.recipient_id for d in batch})
        with self.transport_factory() as transport:
            for delivery in batch:
                self.send_one(transport, delivery, contacts.get(delivery.recipient_id), conf)

    def send_one(
        self,
        transport: Transport,
        delivery: Delivery,
        contact: Contact | None,
        conf: NotifierSettings,
    ) -> None:
        if contact is None:
            age = (timezone.now() - delivery.created_at).total_seconds()
            if age < conf.contact_wait:
                services.delivery_defer(
                    delivery,
                    reason="waiting for the recipient's contact card",
                    seconds=min(conf.contact_recheck, conf.contact_wait - age),
                )
            else:
                services.delivery_mark_skipped(delivery, reason="no contact card for this user")
            return
        try:
            sent = transport.send(delivery, contact)
        except Skip as exc:
            services.delivery_mark_skipped(delivery, reason=exc.reason)
        except PermanentError as exc:
            logger.warning("%s %s failed for good: %s", self.channel, delivery.pk, exc.reason)
            services.delivery_mark_failed(delivery, reason=exc.reason)
        except TransientError as exc:
            logger.info("%s %s will be retried: %s", self.channel, delivery.pk, exc.reason)
            services.delivery_mark_transient(delivery, reason=exc.reason, conf=conf)
        except Exception as exc:  # a bug must not stop the queue: bounded retries, then failed
            logger.exception("%s %s: unexpected error", self.channel, delivery.pk)
            services.delivery_mark_transient(
                delivery, reason=f"unexpected error: {type(exc).__name__}: {exc}", conf=conf
            )
        else:
            services.delivery_mark_sent(
                delivery,
                address=sent.address,
                provider_id=sent.provider_id,
                provider_status=sent.provider_status,
            )

    # --- the loop -------------------------------------------------------------------

    def run(self) -> None:
        """Send until ``stop()``; a lost database is waited out, not fatal."""
        waiter = make_waiter()
        failures = 0
        try:
            while not self.stopping.is_set():
                try:
                    claimed = self.run_once()
                    failures = 0
                    if claimed >= self.conf.batch_size:
                        continue  # more may be due right now
                    waiter.wait(self.idle_timeout())
                except Exception as exc:  # a lost database above all: wait it out, never die
                    failures += 1
                    delay = min(10.0, 0.5 * 2 ** (failures - 1))
                    if isinstance(exc, DatabaseError):
                        logger.warning("sender %s: %s; retry in %.1fs", self.channel, exc, delay)
                    else:
                        logger.exception("sender %s: unexpected error", self.channel)
                    connections["default"].close()
                    self.stopping.wait(delay)
        finally:
            waiter.close()
            connections["default"].close()

    def idle_timeout(self) -> float:
        """Until the next retry falls due, at most the poll interval."""
        poll = self.conf.poll_interval
        due = services.delivery_next_due(channel=self.channel)
        if due is None:
            return poll
        return max(0.0, min(poll, (due - timezone.now()).total_seconds()))

    def stop(self) -> None:
        self.stopping.set()
        nudge()


class Sender:
    """Threads running ``ChannelWorker``s: what ``manage.py send_notifications`` runs."""

    def __init__(self, channels: Iterable[str] = tuple(TRANSPORTS), *, threads: int = 1) -> None:
        self.workers = [ChannelWorker(channel) for channel in channels for _ in range(threads)]
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for index, worker in enumerate(self.workers):
            thread = threading.Thread(
                target=worker.run, name=f"sender-{worker.channel}-{index}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        for worker in self.workers:
            worker.stopping.set()
        nudge()
        deadline = timezone.now() + timedelta(seconds=timeout)
        for thread in self.threads:
            thread.join(max(0.0, (deadline - timezone.now()).total_seconds()))

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)
