"""``mail.bounced`` marks the bounced mail's delivery failed; ``user.invite_requested``
(routed here by ``user.#``, accounts' to act on) is acked and dropped.

Tickets reads the support mailbox, finds delivery-status reports for mails notifier sent
and publishes the original Message-ID; notifier finds the delivery by it (the log keeps
each sent mail's Message-ID as ``provider_id``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kombu import Connection
from notifications.handlers import handlers
from notifications.models import Contact, Delivery

from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.schemas import MailBounced, TicketStatusChanged, UserInviteRequested
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry
from servidesk_testing.bus import RABBITMQ_URL, Running, publish
from tests.conftest import drain
from tests.factories import DeliveryFactory, TicketSnapshotFactory, envelope_of
from tests.fakes import SmtpServer, wait_until


def changed() -> TicketStatusChanged:
    return TicketStatusChanged(
        ticket=TicketSnapshotFactory(id=42, number="SD-1042", client_id=1, assignee_id=2),
        actor_id=3,
        from_status="pending",
        to_status="in_progress",
    )


@pytest.mark.django_db
def test_a_bounce_marks_the_mail_it_names_failed(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(changed())
    drain("email")
    smtp.wait_for(2)
    (to_lucia,) = smtp.received(to="lucia@example.com")
    message_id = str(to_lucia.message["Message-ID"])

    deliver(
        MailBounced(
            message_id=message_id,
            recipient="lucia@example.com",
            reason="5.1.1 <lucia@example.com>: user unknown",
        )
    )
    bounced = Delivery.objects.get(channel="email", recipient_id="1")
    assert (bounced.status, bounced.provider_status, bounced.provider_id) == (
        "failed",
        "bounced",
        message_id,
    )
    assert bounced.last_error == (
        "bounced (lucia@example.com): 5.1.1 <lucia@example.com>: user unknown"
    )
    assert Delivery.objects.get(channel="email", recipient_id="2").status == "sent"


@pytest.mark.django_db
def test_a_bounce_for_a_message_id_we_never_sent_changes_nothing(
    people: dict[str, Contact], deliver: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    sent = DeliveryFactory(status="sent", provider_id="<sd.42.aaaa@servidesk.test>")
    with caplog.at_level(logging.INFO, logger="notifications.services"):
        deliver(MailBounced(message_id="<sd.42.bbbb@servidesk.test>", recipient="", reason="x"))
    assert Delivery.objects.get(pk=sent.pk).status == "sent"
    assert "bounce for unknown Message-ID <sd.42.bbbb@servidesk.test> ignored" in caplog.text


@pytest.mark.django_db
def test_an_sms_with_the_same_provider_id_is_not_a_mail(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    sms = DeliveryFactory(channel="sms", status="sent", provider_id="<SM123>")
    deliver(MailBounced(message_id="<SM123>", recipient="x@example.com", reason="5.0.0"))
    assert Delivery.objects.get(pk=sms.pk).status == "sent"


@pytest.mark.django_db
def test_the_report_text_is_kept_on_one_line_and_short(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    sent = DeliveryFactory(status="sent", provider_id="<sd.42.cccc@servidesk.test>")
    deliver(
        MailBounced(
            message_id="  sd.42.cccc@servidesk.test ",  # without its angle brackets
            recipient="a@example.com\r\nX: y",
            reason="550 5.1.1\r\n" + "no such user " * 100,
        )
    )
    failed = Delivery.objects.get(pk=sent.pk)
    assert failed.status == "failed"
    assert failed.last_error.startswith("bounced (a@example.com X: y): 550 5.1.1 no such user")
    assert "\n" not in failed.last_error
    assert len(failed.last_error) < 600


@pytest.mark.django_db(transaction=True)
def test_over_rabbitmq_an_invite_is_acked_and_dropped_and_a_bounce_applied(bus: Topology) -> None:
    """The consumer has no handler for ``user.invite_requested``: it acks it (no dead
    letter, no inbox entry); the ``mail.bounced`` published after it is applied."""
    sent = DeliveryFactory(status="sent", provider_id="<sd.42.dddd@servidesk.test>")
    invite = envelope_of(UserInviteRequested(email="nuevo@example.com", name="Nuevo Cliente"))
    bounce = envelope_of(
        MailBounced(
            message_id="<sd.42.dddd@servidesk.test>",
            recipient="lucia@example.com",
            reason="5.2.2 mailbox full",
        )
    )
    consumer = Running(
        EventConsumer(Connection(RABBITMQ_URL), registry=handlers, queue="notifier.events")
    )
    try:
        publish(bus, invite, bounce)
        assert wait_until(lambda: Delivery.objects.get(pk=sent.pk).status == "failed", timeout=10)
        assert wait_until(lambda: consumer.worker.stats["ignored"] == 1, timeout=10)
    finally:
        consumer.stop()
    assert Delivery.objects.get(pk=sent.pk).last_error == (
        "bounced (lucia@example.com): 5.2.2 mailbox full"
    )
    assert list(InboxEntry.objects.values_list("event_id", flat=True)) == [uuid.UUID(bounce["id"])]
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.channel()
        for queue in (
            bus.queue_name("notifier.events"),
            bus.dead_letter_queue("notifier.events").name,
        ):
            _name, messages, _consumers = channel.queue_declare(queue=queue, passive=True)
            assert (queue, messages) == (queue, 0)  # all acked, nothing dead-lettered
