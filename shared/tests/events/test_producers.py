"""Only the service that owns an event type may produce it: anything else is dead-lettered.

The attack: a service that can reach the exchange (a bug, a stolen broker password)
publishes an event about something it does not own, e.g. tickets announcing that a user
became an admin. Every consumer must refuse it, not apply it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from kombu import Connection, Producer

from servidesk_shared.events import envelope, schemas
from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.deadletters import list_dead_letters
from servidesk_shared.events.publisher import publish
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry
from tests.events import factories
from tests.events.conftest import (
    RABBITMQ_URL,
    Running,
    declared_channel,
    effects,
    queue_depth,
    wait_until,
)


def send(topology: Topology, body: dict[str, Any]) -> None:
    """Publish an envelope straight to the exchange under its own type."""
    with Connection(RABBITMQ_URL) as conn:
        channel = declared_channel(conn, topology)
        Producer(channel).publish(
            body,
            exchange=topology.exchange,
            routing_key=body["type"],
            serializer="json",
            message_id=body["id"],
            delivery_mode=2,
        )


def test_every_event_type_has_one_owner() -> None:
    assert set(schemas.OWNERS) == schemas.EVENT_TYPES
    assert schemas.OWNERS["user.updated"] == "accounts"
    assert schemas.OWNERS["verification.phone_code"] == "accounts"
    assert schemas.OWNERS["ticket.status_changed"] == "tickets"


def test_an_event_from_a_service_that_does_not_own_its_type_is_dead_lettered(
    tables: None,
    bus: Topology,
    start_relay: Callable[..., Running],
    start_consumer: Callable[..., Running],
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = start_consumer()
    consumer = running.worker
    assert isinstance(consumer, EventConsumer)
    start_relay()
    promoted = factories.user_card(username="mallory", role="admin")
    forged = [
        # tickets claiming a user is now an admin: user.* is accounts' alone.
        envelope.build(promoted, producer="tickets", sequence=1),
        # a ticket event from reports, and one with no producer worth the name.
        envelope.build(factories.ticket_created(title="forged"), producer="reports", sequence=1),
        envelope.build(factories.ticket_created(title="forged too"), producer="", sequence=1),
        # The test handlers have nothing for user.deactivated; forged, it is still refused.
        envelope.build(
            factories.user_card(schemas.UserDeactivated, id=8), producer="tickets", sequence=1
        ),
    ]
    with caplog.at_level(logging.ERROR, logger="servidesk_shared.events.consumer"):
        for body in forged:
            send(bus, body)
        with transaction.atomic():
            genuine = publish(factories.ticket_created(id=2, title="genuine"))
            genuine_user = publish(factories.user_card(username="ana"), producer="accounts")

        wait_until(lambda: consumer.stats["dead_lettered"] == 4 and consumer.stats["applied"] == 2)

    assert sorted(title for _, _, title in effects()) == ["ana", "genuine"]
    assert {str(genuine), str(genuine_user)} == {event_id for event_id, _, _ in effects()}
    assert not InboxEntry.objects.filter(event_id__in=[body["id"] for body in forged]).exists()
    letters = list_dead_letters("notifier.events")
    assert {letter.message_id for letter in letters} == {body["id"] for body in forged}
    assert {letter.reason for letter in letters} == {"wrong_producer"}
    by_id = {letter.message_id: letter for letter in letters}
    assert by_id[forged[0]["id"]].error == (
        "user.registered is produced by accounts only, not by 'tickets'"
    )
    assert by_id[forged[1]["id"]].error == (
        "ticket.created is produced by tickets only, not by 'reports'"
    )
    assert "wrong_producer" in caplog.text
    # Acked in the queue (not requeued), parked in the dead-letter queue.
    wait_until(lambda: queue_depth(bus.queue_name("notifier.events")) == 0)
    assert queue_depth(bus.queue_name("notifier.events.dlq")) == 4


def test_a_body_of_another_type_under_a_services_own_routing_key_is_dead_lettered(
    tables: None,
    bus: Topology,
    start_consumer: Callable[..., Running],
) -> None:
    """The broker lets tickets publish ``ticket.*`` only; a ``user.*`` body claiming to come
    from accounts under such a key would get past both the broker and the producer check."""
    running = start_consumer()
    consumer = running.worker
    assert isinstance(consumer, EventConsumer)
    promoted = envelope.build(
        factories.user_card(username="mallory", role="admin"), producer="accounts", sequence=1
    )
    with Connection(RABBITMQ_URL) as conn:
        channel = declared_channel(conn, bus)
        Producer(channel).publish(
            promoted,
            exchange=bus.exchange,
            routing_key="ticket.created",
            serializer="json",
            message_id=promoted["id"],
            delivery_mode=2,
        )
    wait_until(lambda: consumer.stats["dead_lettered"] == 1)
    assert not effects()
    (letter,) = list_dead_letters("notifier.events")
    assert (letter.reason, letter.error) == (
        "wrong_routing_key",
        "a user.registered event was published as 'ticket.created'",
    )
