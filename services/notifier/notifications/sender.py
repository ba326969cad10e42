"""The senders: claim queued deliveries, send them outside any transaction, log the outcome.

One worker per channel (and as many per channel as wanted: ``SKIP LOCKED`` shares the
queue), each with its own thread, database connection and provider session, so a
channel that is down or slow never holds the other one up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db import DatabaseError, connections
from django.utils import timezone

from notifications import phone_code, selectors, services
from notifications.channels.base import PermanentError, Skip, TransientError, Transport
from notifications.channels.email import EmailTransport
from notifications.channels.sms import SmsTransport
from notifications.conf import NotifierSettings, notifier_settings
from notifications.models import Channel, Contact, Delivery
from notifications.wakeup import make_waiter, nudge
from servidesk_shared.backoff import Backoff

logger = logging.getLogger(__name__)

#: Seconds of outcomes a batch may hold before writing them: a crash resends at most these.
FLUSH_AFTER = 0.5
#: Seconds without work after which a worker closes its provider session.
KEEP_SESSION = 10.0

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
        #: The open provider session, kept across batches while there is work.
        self.transport: Transport | None = None
        self.last_batch_at = 0.0
        #: Outcomes of sends not yet recorded. They outlive a failed write (a lost database):
        #: the rows stay claimed, so recording them once it answers again is what keeps a
        #: mail from going out a second time.
        self.unwritten = Outcomes()

    @property
    def conf(self) -> NotifierSettings:
        return self._conf or notifier_settings()

    # --- one batch ------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim and send one batch; the number of deliveries claimed.

        The provider session stays open from one batch to the next, and is closed once
        claims have come back empty for ``KEEP_SESSION`` seconds (or the session broke).
        Several workers share a queue, so one empty claim says little: another worker may
        just have taken what this one was woken for.
        """
        conf = self.conf
        self.unwritten.write(conf)  # what a lost database left unrecorded goes first
        batch = services.delivery_claim_due(channel=self.channel, limit=conf.batch_size, conf=conf)
        if batch:
            self.send_batch(batch, conf)
            self.last_batch_at = time.monotonic()
        elif time.monotonic() - self.last_batch_at >= KEEP_SESSION:
            self.close()
        return len(batch)

    def send_batch(self, batch: Iterable[Delivery], conf: NotifierSettings) -> None:
        """Send ``batch``: first what cannot go is set aside (a contact card still awaited,
        a ``Skip``), then the rest takes its slots of the per-recipient daily caps (one
        transaction for the batch), then each delivery that got one is sent."""
        batch = list(batch)
        contacts = selectors.contacts_by_id([d.recipient_id for d in batch])
        transport = self.open_transport()
        outcomes = self.unwritten
        try:
            ready: list[tuple[Delivery, Contact | None, str]] = []
            for delivery in batch:
                contact = contacts.get(delivery.recipient_id)
                found = self.destination(transport, delivery, contact, conf)
                if isinstance(found, services.Outcome):
                    outcomes.add(found)
                else:
                    ready.append((delivery, contact, found))
            refused = services.delivery_take_allowance(
                channel=self.channel, wanted=[(d, address) for d, _c, address in ready], conf=conf
            )
            for delivery, contact, _address in ready:
                reason = refused.get(delivery.pk)
                if reason:
                    outcomes.add(services.Outcome.skipped(delivery, reason=reason))
                else:
                    outcomes.add(self.send_one(transport, delivery, contact, conf))
                if outcomes.age() >= FLUSH_AFTER:
                    outcomes.write(conf)
        finally:
            outcomes.write(conf)
            if not transport.usable:
                self.close()

    def destination(
        self,
        transport: Transport,
        delivery: Delivery,
        contact: Contact | None,
        conf: NotifierSettings,
    ) -> services.Outcome | str:
        """Where ``delivery`` goes, or the outcome that keeps it from going now."""
        if contact is None and delivery.kind != phone_code.KIND:  # a code carries its number
            age = (timezone.now() - delivery.created_at).total_seconds()
            if age < conf.contact_wait:
                return services.Outcome.defer(
                    delivery,
                    reason="waiting for the recipient's contact card",
                    seconds=min(conf.contact_recheck, conf.contact_wait - age),
                )
            return services.Outcome.skipped(delivery, reason="no contact card for this user")
        try:
            return transport.destination(delivery, contact)
        except Skip as exc:
            return services.Outcome.skipped(delivery, reason=exc.reason)
        except Exception as exc:  # a bug must not stop the queue, as in send_one
            logger.exception("%s %s: unexpected error", self.channel, delivery.pk)
            return services.Outcome.transient(
                delivery, reason=f"unexpected error: {type(exc).__name__}: {exc}"
            )

    def send_one(
        self,
        transport: Transport,
        delivery: Delivery,
        contact: Contact | None,
        conf: NotifierSettings,
    ) -> services.Outcome:
        """Hand one delivery to the provider (``destination`` let it through)."""
        try:
            outcome = services.Outcome.success(delivery, transport.send(delivery, contact))
        except Skip as exc:
            outcome = services.Outcome.skipped(delivery, reason=exc.reason)
        except PermanentError as exc:
            logger.warning("%s %s failed for good: %s", self.channel, delivery.pk, exc.reason)
            outcome = services.Outcome.failed(delivery, reason=exc.reason)
        except TransientError as exc:
            logger.info("%s %s will be retried: %s", self.channel, delivery.pk, exc.reason)
            outcome = services.Outcome.transient(delivery, reason=exc.reason)
        except Exception as exc:  # a bug must not stop the queue: bounded retries, then failed
            logger.exception("%s %s: unexpected error", self.channel, delivery.pk)
            outcome = services.Outcome.transient(
                delivery, reason=f"unexpected error: {type(exc).__name__}: {exc}"
            )
        return outcome

    # --- the provider session -----------------------------------------------------------

    def open_transport(self) -> Transport:
        if self.transport is None:
            self.transport = self.transport_factory().__enter__()
        return self.transport

    def close(self) -> None:
        """Let the provider session go (idle, broken, or stopping)."""
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.__exit__(None, None, None)

    # --- the loop -------------------------------------------------------------------

    def run(self) -> None:
        """Send until ``stop()``; a lost database is waited out, not fatal."""
        waiter = make_waiter()
        backoff = Backoff(start=0.5, factor=2.0, cap=10.0)  # reset by every batch that ran
        try:
            while not self.stopping.is_set():
                try:
                    claimed = self.run_once()
                    backoff.reset()
                    if claimed >= self.conf.batch_size:
                        continue  # more may be due right now
                    waiter.wait(self.idle_timeout())
                except Exception as exc:  # a lost database above all: wait it out, never die
                    delay = backoff.next()
                    if isinstance(exc, DatabaseError):
                        logger.warning("sender %s: %s; retry in %.1fs", self.channel, exc, delay)
                    else:
                        logger.exception("sender %s: unexpected error", self.channel)
                    self.close()
                    connections["default"].close()
                    self.stopping.wait(delay)
        finally:
            self.close()
            waiter.close()
            connections["default"].close()

    def idle_timeout(self) -> float:
        """Until the next retry falls due, at most the poll interval."""
        poll = self.conf.poll_interval
        due = selectors.delivery_next_due(channel=self.channel)
        if due is None:
            return poll
        return max(0.0, min(poll, (due - timezone.now()).total_seconds()))

    def stop(self) -> None:
        self.stopping.set()
        nudge()


class Outcomes:
    """A batch's outcomes waiting to be written together (one transaction, one commit)."""

    def __init__(self) -> None:
        self.pending: list[services.Outcome] = []
        self.since = 0.0

    def add(self, outcome: services.Outcome) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append(outcome)

    def age(self) -> float:
        return time.monotonic() - self.since if self.pending else 0.0

    def write(self, conf: NotifierSettings) -> None:
        """Record the pending outcomes; on an error they stay pending for the next try."""
        if self.pending:
            services.delivery_record(self.pending, conf=conf)
            self.pending = []


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
