"""The idempotent consumer: effects once, dead letters for what cannot be applied."""

from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from kombu import Connection, Producer

from servidesk_shared.events import envelope
from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.deadletters import list_dead_letters, replay
from servidesk_shared.events.publisher import publish
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry, OutboxMessage, ProjectionVersion
from tests.events import factories, handlers
from tests.events.conftest import (
    RABBITMQ_URL,
    Running,
    declared_channel,
    effects,
    queue_depth,
    wait_until,
)


def send_raw(topology: Topology, body: bytes | dict[str, Any], **properties: Any) -> None:
    """Publish straight to the exchange, as a buggy or foreign producer might: under the
    envelope's own type when it has one (as a relay does), else as ``ticket.created``."""
    event_type = body.get("type") if isinstance(body, dict) else None
    routing_key = event_type if isinstance(event_type, str) else "ticket.created"
    with Connection(RABBITMQ_URL) as conn:
        channel = declared_channel(conn, topology)
        Producer(channel).publish(
            body, exchange=topology.exchange, routing_key=routing_key, **properties
        )


def consumer_of(running: Running) -> EventConsumer:
    assert isinstance(running.worker, EventConsumer)
    return running.worker


def test_events_are_applied_once_and_acked(
    tables: None,
    bus: Topology,
    start_relay: Callable[..., Running],
    start_consumer: Callable[..., Running],
) -> None:
    start_relay()
    consumer = consumer_of(start_consumer())
    with transaction.atomic():
        created = publish(factories.ticket_created(id=1, title="first"))
        registered = publish(factories.user_card(username="ana"), producer="accounts")
        # notifier's test handlers have nothing for user.deactivated: acked, ignored.
        publish(factories.user_card(factories.schemas.UserDeactivated), producer="accounts")

    wait_until(lambda: consumer.stats["applied"] == 2 and consumer.stats["ignored"] == 1)
    assert effects() == [
        (str(created), "ticket.created", "first"),
        (str(registered), "user.registered", "ana"),
    ]
    assert set(InboxEntry.objects.values_list("event_id", flat=True)) == {created, registered}
    wait_until(lambda: queue_depth(bus.queue_name("notifier.events")) == 0)


def test_a_redelivered_event_is_acked_and_skipped(
    tables: None,
    bus: Topology,
    start_relay: Callable[..., Running],
    start_consumer: Callable[..., Running],
) -> None:
    consumer = consumer_of(start_consumer())
    relay = start_relay()
    with transaction.atomic():
        event_id = publish(factories.ticket_created())
    wait_until(lambda: consumer.stats["applied"] == 1)
    relay.stop()
    # The relay publishes it again, as after a crash before marking it sent.
    OutboxMessage.objects.update(sent_at=None)
    start_relay()

    wait_until(lambda: consumer.stats["duplicate"] == 1)
    assert len(effects(event_id)) == 1


def test_messages_that_are_not_events_are_dead_lettered_and_the_consumer_goes_on(
    tables: None,
    bus: Topology,
    start_relay: Callable[..., Running],
    start_consumer: Callable[..., Running],
) -> None:
    consumer = consumer_of(start_consumer())
    start_relay()
    good = envelope.build(factories.ticket_created(), producer="tickets", sequence=1)
    wrong_version = {**good, "id": "9c1b6b8e-46a4-4b7e-9d7c-0c1d7b1d7c11", "version": 7}
    send_raw(bus, b"{not json", content_type="application/json", content_encoding="utf-8")
    send_raw(bus, b"hello", content_type="text/plain", content_encoding="utf-8")
    send_raw(bus, {"hello": "world"}, serializer="json")
    send_raw(bus, wrong_version, serializer="json", message_id=wrong_version["id"])
    with transaction.atomic():
        after = publish(factories.ticket_created(id=2, title="after the poison"))

    wait_until(lambda: consumer.stats["dead_lettered"] == 4 and consumer.stats["applied"] == 1)
    assert effects(after)
    letters = list_dead_letters("notifier.events")
    assert [letter.reason for letter in letters] == ["unparseable"] * 3 + ["invalid"]
    assert letters[0].body == b"{not json"
    assert "ContentDisallowed" in letters[1].error
    assert "no schema for ticket.created version 7" in letters[3].error
    assert letters[3].message_id == wrong_version["id"]
    assert letters[3].event_type == "ticket.created"
    # Listing leaves them where they are.
    assert queue_depth(bus.queue_name("notifier.events.dlq")) == 4


def test_a_failing_handler_is_retried_then_dead_lettered_and_replay_applies_it_once(
    tables: None,
    bus: Topology,
    start_relay: Callable[..., Running],
    start_consumer: Callable[..., Running],
) -> None:
    handlers.FAILING_TITLES.add("buggy")
    consumer = consumer_of(start_consumer())
    start_relay()
    with transaction.atomic():
        poison = publish(factories.ticket_created(id=1, title="buggy"))
        fine = publish(factories.ticket_created(id=2, title="fine"))

    wait_until(lambda: consumer.stats["dead_lettered"] == 1 and consumer.stats["applied"] == 1)
    assert effects(fine)
    assert not effects(poison)
    assert not InboxEntry.objects.filter(event_id=poison).exists()  # every try rolled back
    [letter] = list_dead_letters("notifier.events")
    assert letter.message_id == str(poison)
    assert letter.reason == "handler_failed"
    assert letter.attempts == 3
    assert "RuntimeError: cannot handle 'buggy'" in letter.error
    assert json.loads(letter.body)["id"] == str(poison)

    handlers.FAILING_TITLES.clear()  # the bug is fixed and deployed
    assert replay("notifier.events", message_ids=[str(poison)]) == 1

    wait_until(lambda: consumer.stats["applied"] == 2)
    assert len(effects(poison)) == 1
    assert queue_depth(bus.queue_name("notifier.events.dlq")) == 0
    # Replaying again finds nothing, and a second copy would be skipped by the inbox.
    assert replay("notifier.events", message_ids=[str(poison)]) == 0


def test_a_lost_database_is_waited_out_and_never_dead_letters(
    tables: None,
    bus: Topology,
    settings: Any,
    start_relay: Callable[..., Running],
    start_consumer: Callable[..., Running],
) -> None:
    settings.SERVIDESK_EVENT_MAX_ATTEMPTS = 1  # a handler error would dead-letter at once
    handlers.DATABASE_DOWN["db blip"] = 2
    consumer = consumer_of(start_consumer())
    start_relay()
    with transaction.atomic():
        event_id = publish(factories.ticket_created(title="db blip"))

    wait_until(lambda: consumer.stats["applied"] == 1)
    assert consumer.stats["dead_lettered"] == 0
    assert len(effects(event_id)) == 1
    assert handlers.DATABASE_DOWN["db blip"] == 0


def test_replay_by_id_leaves_the_other_dead_letters_in_place(
    tables: None,
    bus: Topology,
    start_relay: Callable[..., Running],
    start_consumer: Callable[..., Running],
) -> None:
    handlers.FAILING_TITLES.update({"a", "b", "c"})
    consumer = consumer_of(start_consumer())
    start_relay()
    with transaction.atomic():
        ids = [publish(factories.ticket_created(id=n, title=t)) for n, t in enumerate("abc")]
    wait_until(lambda: consumer.stats["dead_lettered"] == 3)
    handlers.FAILING_TITLES.clear()

    assert replay("notifier.events", message_ids=[str(ids[1])]) == 1
    wait_until(lambda: consumer.stats["applied"] == 1)
    assert [letter.message_id for letter in list_dead_letters("notifier.events")] == [
        str(ids[0]),
        str(ids[2]),
    ]
    assert replay("notifier.events") == 2
    wait_until(lambda: consumer.stats["applied"] == 3)
    assert sorted(title for _, _, title in effects()) == ["a", "b", "c"]


def test_out_of_order_delivery_leaves_the_newer_state(
    tables: None, bus: Topology, start_consumer: Callable[..., Running]
) -> None:
    with transaction.atomic():
        publish(factories.ticket_created(id=5, title="v1"))
    with transaction.atomic():
        publish(factories.status_changed("pending", "in_progress", id=5, title="v2"))
    with transaction.atomic():
        publish(factories.status_changed("in_progress", "resolved", id=5, title="v3"))
    rows = list(OutboxMessage.objects.order_by("-id"))
    assert [row.sequence for row in rows] == [3, 2, 1]
    # Deliver newest first, as two relays or a redelivery might.
    for row in rows:
        send_raw(bus, row.envelope, serializer="json", message_id=str(row.event_id))
    consumer = consumer_of(start_consumer())

    wait_until(lambda: consumer.stats["applied"] == 3)
    assert len(effects()) == 3  # every event had its effect...
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status, title, sequence FROM {handlers.TICKETS}")  # noqa: S608
        assert cursor.fetchall() == [("resolved", "v3", 3)]  # ...but the state is the newest
    assert ProjectionVersion.objects.get().sequence == 3


def test_dead_letters_command_lists_and_replays(
    tables: None,
    bus: Topology,
    start_relay: Callable[..., Running],
    start_consumer: Callable[..., Running],
) -> None:
    handlers.FAILING_TITLES.add("boom")
    consumer = consumer_of(start_consumer())
    start_relay()
    with transaction.atomic():
        event_id = publish(factories.ticket_created(title="boom"))
    wait_until(lambda: consumer.stats["dead_lettered"] == 1)

    out = StringIO()
    call_command("dead_letters", "list", stdout=out)
    assert str(event_id) in out.getvalue()
    assert "handler_failed x3" in out.getvalue()
    assert "RuntimeError: cannot handle 'boom'" in out.getvalue()
    assert "1 dead letter(s)" in out.getvalue()
    out = StringIO()
    call_command("dead_letters", "list", "--json", stdout=out)
    assert json.loads(out.getvalue())["message_id"] == str(event_id)

    with pytest.raises(CommandError, match="--all"):
        call_command("dead_letters", "replay")
    handlers.FAILING_TITLES.clear()
    out = StringIO()
    call_command("dead_letters", "replay", "--all", stdout=out)
    assert "replayed 1 message(s)" in out.getvalue()
    wait_until(lambda: consumer.stats["applied"] == 1)


def test_consume_events_refuses_an_unknown_queue(bus: Topology) -> None:
    with pytest.raises(CommandError, match="Unknown queue"):
        call_command("consume_events", "--queue", "nobody.events")
