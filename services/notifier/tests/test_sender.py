"""The sender's guarantees: crash safety, fencing, late contact cards, wake-ups, the command."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from notifications import services
from notifications.channels.base import Sent
from notifications.channels.email import EmailTransport
from notifications.models import Contact, Delivery
from notifications.sender import ChannelWorker, Sender
from notifications.wakeup import NOTIFY_CHANNEL
from pytest_django.fixtures import Settings

from servidesk_shared.events.schemas import TicketStatusChanged
from tests.conftest import drain, until_due
from tests.factories import TicketSnapshotFactory, as_event, user_card
from tests.fakes import SmtpServer, TwilioFake, wait_until

pytestmark = pytest.mark.django_db


def changed(client: int = 1, assignee: int | None = None) -> TicketStatusChanged:
    return TicketStatusChanged(
        ticket=TicketSnapshotFactory(client_id=client, assignee_id=assignee, status="resolved"),
        actor_id=3,
        from_status="in_progress",
        to_status="resolved",
    )


def test_a_crash_before_sending_only_delays_the_message(
    people: dict[str, Contact],
    smtp: SmtpServer,
    deliver: Callable[..., Any],
    settings: Settings,
) -> None:
    settings.NOTIFIER_SEND_LEASE = 0.5
    deliver(changed())
    (claimed,) = services.delivery_claim_due(channel="email", limit=10)
    # ... the sender dies here: nothing was sent, nothing recorded.
    drain("email")
    assert smtp.received() == []  # still leased to the dead sender
    until_due()
    drain("email")
    assert len(smtp.wait_for(1)) == 1
    delivery = Delivery.objects.get(pk=claimed.pk)
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_a_crash_after_sending_resends_the_same_message_id(
    people: dict[str, Contact],
    smtp: SmtpServer,
    deliver: Callable[..., Any],
    settings: Settings,
) -> None:
    """At least once: the mail left but its outcome was never recorded, so it goes again,
    recognisably the same (one Message-ID), rather than being lost."""
    settings.NOTIFIER_SEND_LEASE = 0.2
    deliver(changed())
    (claimed,) = services.delivery_claim_due(channel="email", limit=10)
    contact = Contact.objects.get(pk=claimed.recipient_id)
    with EmailTransport() as transport:
        transport.send(claimed, contact)  # sent... and the process dies before recording
    until_due()
    drain("email")
    first, second = smtp.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert Delivery.objects.get(pk=claimed.pk).status == "sent"


def test_a_sender_whose_lease_ran_out_cannot_overwrite_the_outcome(
    people: dict[str, Contact], deliver: Callable[..., Any], settings: Settings
) -> None:
    settings.NOTIFIER_SEND_LEASE = 0.0
    deliver(changed())
    (slow,) = services.delivery_claim_due(channel="email", limit=1)
    (fast,) = services.delivery_claim_due(channel="email", limit=1)  # the lease is over
    assert slow.pk == fast.pk
    sent = Sent(address="a@example.com", provider_id="<1>")
    assert services.delivery_record([services.Outcome.success(fast, sent)]) == 1
    assert services.delivery_record([services.Outcome.failed(slow, reason="too late")]) == 0
    delivery = Delivery.objects.get(pk=fast.pk)
    assert (delivery.status, delivery.provider_id, delivery.attempts) == ("sent", "<1>", 2)


def test_deliveries_wait_for_a_late_contact_card(
    smtp: SmtpServer, deliver: Callable[..., Any], settings: Settings
) -> None:
    settings.NOTIFIER_CONTACT_RECHECK = 60.0
    number = deliver(changed(client=5)).data.ticket.number
    drain("email")
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.attempts) == ("queued", 0)
    assert delivery.last_error == "waiting for the recipient's contact card"

    deliver(None, event=as_event(user_card(5, email="late@example.com", language="en")))
    drain("email")  # released at once, not after the 60 s recheck
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("late@example.com",)
    assert mail.text.splitlines()[0] == f"{number} is now Resolved"
    assert Delivery.objects.get(channel="email").status == "sent"


def test_a_contact_card_that_never_comes_skips_in_the_end(
    deliver: Callable[..., Any], settings: Settings
) -> None:
    settings.NOTIFIER_CONTACT_WAIT = 0.0
    deliver(changed(client=6))
    drain("email")
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.last_error) == ("skipped", "no contact card for this user")


def test_a_preference_changed_after_queueing_is_respected(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(changed())
    Contact.objects.filter(pk="1").update(notify_email=False)
    drain("email")
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.last_error) == (
        "skipped",
        "recipient turned email notifications off",
    )
    assert smtp.received() == []


def test_an_unexpected_error_is_retried_then_fails(
    people: dict[str, Contact], deliver: Callable[..., Any], settings: Settings
) -> None:
    settings.NOTIFIER_MAX_ATTEMPTS = 2
    settings.NOTIFIER_RETRY_DELAY = settings.NOTIFIER_RETRY_DELAY_MAX = 0.0

    class Broken(EmailTransport):
        def send(self, delivery: Delivery, contact: Contact) -> Any:
            raise RuntimeError("bug")

    deliver(changed())
    worker = ChannelWorker("email", transport_factory=Broken)
    while worker.run_once():
        pass
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert delivery.last_error == "gave up after 2 attempts: unexpected error: RuntimeError: bug"


def test_send_notifications_once(
    people: dict[str, Contact],
    smtp: SmtpServer,
    twilio: TwilioFake,
    deliver: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    deliver(changed())
    call_command("send_notifications", "--once")
    assert len(smtp.wait_for(1)) == 1
    assert len(twilio.wait_for(1)) == 1
    out = capsys.readouterr().out
    assert "email: 1 deliveries handled" in out
    assert "sms: 1 deliveries handled" in out


def listeners() -> int:
    """Sessions of this database that LISTEN for the senders' wake-ups."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query = %s",
            [f"LISTEN {NOTIFY_CHANNEL}"],
        )
        ((count,),) = cursor.fetchall()
    return int(count)


@pytest.mark.django_db(transaction=True)
def test_running_senders_wake_up_on_commit(
    people: dict[str, Contact],
    smtp: SmtpServer,
    twilio: TwilioFake,
    settings: Settings,
) -> None:
    """With a poll interval far too long to matter, NOTIFY is what brings the messages."""
    settings.NOTIFIER_POLL_INTERVAL = 30.0
    sender = Sender(threads=2)
    sender.start()
    try:
        assert wait_until(lambda: listeners() == len(sender.workers))
        committed = time.time()
        event = as_event(changed())
        with transaction.atomic():
            services.notifications_record(event_id=event.id, event_type=event.type, data=event.data)
        (mail,) = smtp.wait_for(1, timeout=5)
        (sms,) = twilio.wait_for(1, timeout=5)
        assert mail.received_at - committed < 5.0  # the poll would take 30 s
        assert sms.received_at - committed < 5.0
        assert wait_until(
            lambda: set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
        )
    finally:
        sender.stop()
    assert not sender.alive()
