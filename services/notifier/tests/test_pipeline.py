"""Through the real event bus: RabbitMQ, ``consume_events``' consumer, the inbox, the senders.

The same event delivered twice (a redelivery, a replay) sends one mail and one SMS.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from kombu import Connection
from notifications.handlers import handlers
from notifications.models import Contact, Delivery, Notification
from notifications.sender import Sender
from pytest_django.fixtures import Settings

from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.schemas import PhoneCodeRequested, TicketStatusChanged
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry
from tests.conftest import drain
from tests.factories import TicketSnapshotFactory, as_event, envelope_of, user_card
from tests.fakes import SmtpServer, TwilioFake, wait_until

RABBITMQ_URL = os.environ.get("SERVIDESK_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


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
    time.sleep(0.1)
    assert len(smtp.received()) == 1
    assert len(twilio.messages) == 1
    assert InboxEntry.objects.filter(event_id=event.id).count() == 1


@pytest.fixture
def bus(settings: Settings) -> Iterator[Topology]:
    """This test's own exchanges and queues on the real RabbitMQ, deleted afterwards."""
    topology = Topology(f"t{uuid.uuid4().hex[:10]}.")
    settings.BROKER_URL = RABBITMQ_URL
    settings.SERVIDESK_EVENT_PREFIX = topology.prefix
    settings.SERVIDESK_EVENT_RETRY_DELAY = 0.01
    try:
        with Connection(RABBITMQ_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"RabbitMQ not reachable: {exc}")
    yield topology
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.channel()
        for queue in topology.queues():
            channel.queue_delete(queue.name)
        channel.exchange_delete(topology.exchange.name)
        channel.exchange_delete(topology.dead_letter_exchange.name)


def publish(topology: Topology, *envelopes: dict[str, Any]) -> None:
    with Connection(RABBITMQ_URL, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        topology.declare(channel)
        producer = conn.Producer(channel, exchange=topology.exchange, serializer="json")
        for envelope in envelopes:
            producer.publish(
                envelope,
                routing_key=envelope["type"],
                delivery_mode=2,
                message_id=envelope["id"],
            )


class Running:
    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        finally:
            connection.close()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(timeout=10)


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
        assert wait_until(lambda: InboxEntry.objects.count() == 2, timeout=10)
        time.sleep(0.5)  # give a duplicate every chance to show up
        assert len(smtp.received()) == 1
        assert len(twilio.messages) == 1
    finally:
        sender.stop()
        consumer.stop()
    assert mail.rcpt_tos == ("user1@example.com",)
    assert "ahora está Resuelto" in mail.subject
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
