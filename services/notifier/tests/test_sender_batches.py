"""Sending in batches: claims shared by several senders, outcomes written per batch,
one SMTP session kept across batches, and the cheaper header serialisation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from email.policy import compat32
from typing import Any

import pytest
from django.core.mail.backends.smtp import EmailBackend
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from notifications import services
from notifications.channels.base import Sent
from notifications.channels.email import EmailTransport, build_message
from notifications.models import Contact, Delivery
from notifications.sender import KEEP_SESSION, ChannelWorker
from pytest_django.fixtures import Settings

from servidesk_shared.events.schemas import TicketStatusChanged
from tests.factories import ContactFactory, TicketSnapshotFactory
from tests.fakes import SmtpServer
from tests.senders import drain_with_senders_at_once

pytestmark = pytest.mark.django_db


def record_events(count: int, *, client: int = 1, assignee: int = 2) -> None:
    """``count`` status changes, each telling the client and the assignee (two mails)."""
    for _ in range(count):
        data = TicketStatusChanged(
            ticket=TicketSnapshotFactory(client_id=client, assignee_id=assignee),
            actor_id=3,
            from_status="pending",
            to_status="in_progress",
        )
        with transaction.atomic():
            services.notifications_record(
                event_id=uuid.uuid4(), event_type="ticket.status_changed", data=data
            )


def email_statuses() -> set[tuple[str, int]]:
    return set(Delivery.objects.filter(channel="email").values_list("status", "attempts"))


@pytest.mark.django_db(transaction=True)
def test_two_senders_claiming_in_batches_never_send_a_mail_twice(
    people: dict[str, Contact], smtp: SmtpServer, settings: Settings
) -> None:
    settings.NOTIFIER_BATCH_SIZE = 5
    record_events(40)  # 80 mails
    drain_with_senders_at_once("email")
    mails = smtp.wait_for(80, timeout=10)
    message_ids = [mail.message["Message-ID"] for mail in mails]
    assert len(message_ids) == 80
    assert len(set(message_ids)) == 80
    assert email_statuses() == {("sent", 1)}


def test_a_batch_writes_its_outcomes_in_one_statement(
    people: dict[str, Contact], settings: Settings
) -> None:
    """The statements a batch costs do not grow with its size (the test settings keep
    mail in memory: this counts database work only)."""
    settings.NOTIFIER_BATCH_SIZE = 50

    def statements_for(events: int) -> list[str]:
        record_events(events)
        worker = ChannelWorker("email")
        with CaptureQueriesContext(connection) as queries:
            assert worker.run_once() == 2 * events
        worker.close()
        return [query["sql"].split()[0] for query in queries.captured_queries]

    assert statements_for(1) == statements_for(10)
    assert email_statuses() == {("sent", 1)}


def test_outcomes_a_lost_database_kept_from_being_recorded_are_recorded_first(
    people: dict[str, Contact], smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mails handed to SMTP stay claimed until their outcome is written; if the database
    refuses that write, the worker keeps the outcomes and writes them before it claims
    anything again, so nothing is sent twice. (Fault injected at the write: the whole-stack
    version, with the database really cut, is tests/test_faults.py.)"""
    record_events(2)  # 4 mails
    record = services.delivery_record

    def refused(*args: Any, **kwargs: Any) -> int:
        raise OperationalError("server closed the connection unexpectedly")

    worker = ChannelWorker("email")
    monkeypatch.setattr(services, "delivery_record", refused)
    with pytest.raises(OperationalError):
        worker.run_once()
    assert len(smtp.wait_for(4, timeout=10)) == 4
    assert email_statuses() == {("queued", 1)}  # sent, not yet recorded

    monkeypatch.setattr(services, "delivery_record", record)
    assert worker.run_once() == 0  # recorded what it kept, and found nothing left to send
    worker.close()
    assert email_statuses() == {("sent", 1)}
    assert len(smtp.received()) == 4


def test_claims_lost_before_the_outcome_are_not_overwritten(
    people: dict[str, Contact],
) -> None:
    record_events(1)
    kept, lost = services.delivery_claim_due(channel="email", limit=10)
    Delivery.objects.filter(pk=lost.pk).update(attempts=5)  # another sender took it over
    recorded = services.delivery_record(
        [
            services.Outcome.success(kept, Sent(address="a@example.com", provider_id="<a>")),
            services.Outcome.success(lost, Sent(address="b@example.com", provider_id="<b>")),
        ]
    )
    assert recorded == 1
    kept.refresh_from_db()
    lost.refresh_from_db()
    assert (kept.status, kept.address, kept.provider_id, kept.attempts) == (
        "sent",
        "a@example.com",
        "<a>",
        1,
    )
    assert (lost.status, lost.address, lost.provider_id, lost.attempts) == ("queued", "", "", 5)


def test_mixed_outcomes_of_one_batch_are_each_recorded(
    people: dict[str, Contact], settings: Settings
) -> None:
    settings.NOTIFIER_RETRY_DELAY = settings.NOTIFIER_RETRY_DELAY_MAX = 60.0
    record_events(2)
    sent, skipped, failed, retried = services.delivery_claim_due(channel="email", limit=10)
    services.delivery_record(
        [
            services.Outcome.success(sent, Sent(address="a@example.com", provider_id="<a>")),
            services.Outcome.skipped(skipped, reason="recipient turned email notifications off"),
            services.Outcome.failed(failed, reason="recipient refused: 550"),
            services.Outcome.transient(retried, reason="SMTP 451"),
        ]
    )
    rows = {d.pk: d for d in Delivery.objects.filter(channel="email")}
    assert rows[sent.pk].status == "sent"
    assert (rows[skipped.pk].status, rows[skipped.pk].last_error) == (
        "skipped",
        "recipient turned email notifications off",
    )
    assert (rows[failed.pk].status, rows[failed.pk].last_error) == (
        "failed",
        "recipient refused: 550",
    )
    assert (rows[retried.pk].status, rows[retried.pk].last_error) == ("queued", "SMTP 451")
    assert rows[retried.pk].next_attempt_at > rows[sent.pk].updated_at


class CountingBackend(EmailBackend):
    """Django's SMTP backend, counting the SMTP sessions it opens."""

    sessions: int = 0

    def open(self) -> bool | None:
        opened = super().open()
        if opened:
            CountingBackend.sessions += 1
        return opened


def test_one_smtp_session_serves_batch_after_batch(
    people: dict[str, Contact], smtp: SmtpServer, settings: Settings
) -> None:
    settings.NOTIFIER_BATCH_SIZE = 2
    CountingBackend.sessions = 0
    record_events(3)
    worker = ChannelWorker("email", transport_factory=lambda: EmailTransport(CountingBackend()))
    batches = 0
    while worker.run_once():
        batches += 1
    assert batches == 3
    assert len(smtp.wait_for(6)) == 6
    assert CountingBackend.sessions == 1
    assert worker.transport is not None  # kept a while for the next batch
    worker.last_batch_at -= KEEP_SESSION
    assert worker.run_once() == 0
    assert worker.transport is None  # idle long enough: the session is let go


def test_an_idle_session_the_server_dropped_is_reopened(
    people: dict[str, Contact], smtp: SmtpServer
) -> None:
    record_events(1)
    first, second = services.delivery_claim_due(channel="email", limit=10)
    contacts = Contact.objects.in_bulk([first.recipient_id, second.recipient_id])
    with EmailTransport() as transport:
        transport.send(first, contacts[first.recipient_id])
        smtp.stop()  # the server goes away and comes back: the session is gone
        smtp.start()
        transport.last_used -= 5.0  # ... while the session sat idle
        transport.send(second, contacts[second.recipient_id])
        assert transport.usable
    assert len(smtp.wait_for(2)) == 2


@pytest.mark.parametrize(
    ("language", "full_name"),
    [
        ("es", "Lucía Pérez"),
        ("en", "Tom Baker"),
        ("es", "Ángela María de los Ríos Fernández-Castellanos y Villanueva"),
    ],
)
def test_a_mail_is_the_bytes_compat32_would_write(
    deliver: Callable[..., Any], language: str, full_name: str
) -> None:
    """The sender's faster header policy changes nothing on the wire: short names,
    long non-ASCII names and subjects come out as the standard library's compat32 folds
    them."""
    contact = ContactFactory(user_id="1", language=language, full_name=full_name)
    deliver(
        TicketStatusChanged(
            ticket=TicketSnapshotFactory(
                client_id=1,
                assignee_id=None,
                title="Una impresora que no imprime nada desde el lunes por la mañana",
            ),
            actor_id=3,
            from_status="pending",
            to_status="in_progress",
        )
    )
    delivery = Delivery.objects.get(channel="email")
    message = build_message(delivery, contact).message()
    fast = message.as_bytes(linesep="\r\n")
    message.policy = compat32  # the boundary chosen by the first pass is kept
    assert fast == message.as_bytes(linesep="\r\n")
