"""Through the real event bus: RabbitMQ, ``consume_events``' consumer, the inbox, the senders.

The same event delivered twice (a redelivery, a replay) sends one mail and one SMS.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kombu import Connection
from notifications.handlers import handlers
from notifications.models import Contact, Delivery, Notification
from notifications.sender import Sender

from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.schemas import PhoneCodeRequested, TicketStatusChanged
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry
from servidesk_testing.bus import RABBITMQ_URL, Running, publish
from tests.conftest import drain
from tests.factories import TicketSnapshotFactory, as_event, envelope_of, user_card
from tests.fakes import SmtpServer, TwilioFake, wait_until


def changed() -> TicketStatusChanged:
    return TicketStatusChanged(
        ticket=TicketSnapshotFactory(client_id=1, assignee_id=None, status="resolved"),
        actor_id=2,
        from_status="in_progress",
        to_status="resolved",
    )


@pytest.mark.django_db
def test_the_same_event_twice_through_the_inbox_sends_once(
    people: dict[str, Contact], smtp: SmtpServer, twilio: TwilioFake
) -> None:
    consumer = EventConsumer(None, registry=handlers, queue="notifier.events")
    event = as_event(changed())
    assert consumer.apply(event, handlers.get(event.type)) is True
    assert consumer.apply(event, handlers.get(event.type)) is False  # seen: skipped
    drain()
    drain()
    assert len(smtp.wait_for(1)) == 1
    assert len(twilio.wait_for(1)) == 1
    # The fakes record a message before they answer the sender: nothing else is on its way.
    assert len(smtp.received()) == 1
    assert len(twilio.messages) == 1
    assert InboxEntry.objects.filter(event_id=event.id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_end_to_end_over_rabbitmq_with_a_redelivered_event(
    bus: Topology, smtp: SmtpServer, twilio: TwilioFake
) -> None:
    card = envelope_of(user_card(1, full_name="Lucía Pérez", phone="+34600111222"), sequence=1)
    ticket_event = envelope_of(changed())
    consumer = Running(
        EventConsumer(Connection(RABBITMQ_URL), registry=handlers, queue="notifier.events")
    )
    sender = Sender()
    sender.start()
    try:
        publish(bus, card, ticket_event, ticket_event)  # the second copy: a redelivery
        (mail,) = smtp.wait_for(1, timeout=10)
        (sms,) = twilio.wait_for(1, timeout=10)
        # Both copies consumed (the second seen as one) and nothing left to send: a
        # duplicate would have been sent by now.
        assert wait_until(
            lambda: InboxEntry.objects.count() == 2 and consumer.worker.stats["duplicate"] == 1,
            timeout=10,
        )
        assert wait_until(lambda: not Delivery.objects.filter(status="queued").exists())
        assert len(smtp.received()) == 1
        assert len(twilio.messages) == 1
    finally:
        sender.stop()
        consumer.stop()
    assert mail.rcpt_tos == ("user1@example.com",)
    assert "ahora está Resuelto" in mail.text
    assert mail.subject.startswith("[SD-")
    assert sms.to == "+34600111222"
    assert "nuevo estado: Resuelto" in sms.body
    assert Notification.objects.count() == 1
    assert sorted(Delivery.objects.values_list("channel", "status")) == [
        ("email", "sent"),
        ("sms", "sent"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_phone_code_over_rabbitmq_reaches_the_unverified_number(
    bus: Topology, twilio: TwilioFake
) -> None:
    """Accounts' ``verification.phone_code`` is bound to ``notifier.events``
    (``verification.#``): the code goes out, though the number is not verified yet."""
    card = envelope_of(user_card(1, phone="+34600111222", phone_verified=False), sequence=1)
    code = envelope_of(
        PhoneCodeRequested(
            user_id=1,
            phone="+34600111222",
            code="552211",
            language="es",
            expires_at=datetime.now(tz=UTC) + timedelta(minutes=10),
        )
    )
    consumer = Running(
        EventConsumer(Connection(RABBITMQ_URL), registry=handlers, queue="notifier.events")
    )
    sender = Sender(["sms"])
    sender.start()
    try:
        publish(bus, card, code)
        (sms,) = twilio.wait_for(1, timeout=10)
        assert wait_until(lambda: InboxEntry.objects.count() == 2, timeout=10)
    finally:
        sender.stop()
        consumer.stop()
    assert (sms.to, sms.body) == (
        "+34600111222",
        "Servidesk: tu código es 552211. Caduca en 10 minutos.",
    )
    assert wait_until(lambda: Delivery.objects.get().status == "sent", timeout=5)
    assert not Notification.objects.exists()
