"""publish() writes to the outbox in the caller's transaction; the relay publishes it."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from kombu import Connection, Queue

from servidesk_shared.events import publisher
from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.publisher import TransactionRequiredError, publish
from servidesk_shared.events.relay import Relay
from servidesk_shared.events.retention import prune_inbox, prune_outbox
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry, OutboxMessage
from tests.events import factories
from tests.events.conftest import RABBITMQ_URL, Running, queue_depth, wait_until


def drain(queue: str) -> list[Any]:
    """Every message in ``queue`` (acked), in order."""
    messages = []
    with Connection(RABBITMQ_URL) as conn:
        bound = Queue(queue, no_declare=True)(conn.channel())
        while (message := bound.get(no_ack=True)) is not None:
            messages.append(message)
    return messages


@pytest.mark.django_db
def test_publish_writes_the_envelope_in_the_callers_transaction(bus: Topology) -> None:
    with transaction.atomic():
        event_id = publish(factories.ticket_created(id=5))
    row = OutboxMessage.objects.get()
    assert row.event_id == event_id
    assert row.sent_at is None
    assert row.envelope["producer"] == "tickets"
    assert row.envelope["aggregate_id"] == "5"


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_event(bus: Topology) -> None:
    def change_that_fails() -> None:
        with transaction.atomic():
            publish(factories.ticket_created())
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        change_that_fails()
    assert not OutboxMessage.objects.exists()


def test_publish_outside_a_transaction_is_refused(transactional_db: None, bus: Topology) -> None:
    with pytest.raises(TransactionRequiredError):
        publish(factories.ticket_created())


@pytest.mark.django_db
def test_sequence_counts_per_aggregate(bus: Topology) -> None:
    with transaction.atomic():
        publish(factories.ticket_created(id=1))
        publish(factories.status_changed("pending", "in_progress", id=1))
        publish(factories.ticket_created(id=2))
        publish(factories.user_card(id=1))  # another aggregate type, same id
        publish(factories.status_changed("in_progress", "resolved", id=1))
    rows = OutboxMessage.objects.order_by("id")
    assert [(r.event_type, r.aggregate_id, r.sequence) for r in rows] == [
        ("ticket.created", "1", 1),
        ("ticket.status_changed", "1", 2),
        ("ticket.created", "2", 1),
        ("user.registered", "1", 1),
        ("ticket.status_changed", "1", 3),
    ]


def test_sequences_follow_commit_order_under_concurrency(
    transactional_db: None, bus: Topology
) -> None:
    """The counter row stays locked until commit: a later commit never gets a lower number."""
    first_has_number = threading.Event()
    release_first = threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                publish(factories.status_changed("pending", "in_progress", id=3))
                first_has_number.set()
                release_first.wait(5)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    first_has_number.wait(5)
    second_done = threading.Event()

    def fast_writer() -> None:
        try:
            with transaction.atomic():
                publish(factories.status_changed("in_progress", "resolved", id=3))
            second_done.set()
        finally:
            connection.close()

    other = threading.Thread(target=fast_writer)
    other.start()
    assert not second_done.wait(0.3), "the second writer must wait for the first"
    release_first.set()
    writer.join(5)
    other.join(5)
    by_commit = OutboxMessage.objects.order_by("id").values_list("envelope", flat=True)
    assert [(e["data"]["to_status"], e["sequence"]) for e in by_commit] == [
        ("in_progress", 1),
        ("resolved", 2),
    ]


def test_relays_of_this_process_are_woken_at_commit_only(
    transactional_db: None, bus: Topology
) -> None:
    first, second = publisher.local_wakeup(), publisher.local_wakeup()
    with transaction.atomic():
        publish(factories.ticket_created())
        transaction.set_rollback(True)  # the change fails
    assert not first.is_set()
    with transaction.atomic():
        publish(factories.ticket_created())
        assert not first.is_set()
    assert first.is_set()
    assert second.is_set()  # every relay of the process hears it


def test_relay_publishes_persistent_confirmed_messages_and_marks_them_sent(
    transactional_db: None, bus: Topology
) -> None:
    with transaction.atomic():
        ids = [publish(factories.ticket_created(id=n)) for n in range(3)]
        publish(factories.user_card(id=9))

    relay = Relay()
    with relay.connect() as conn:
        assert relay.relay_batch(relay.open(conn)) == 4
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()

    notifier = drain(bus.queue_name("notifier.events"))
    assert [m.properties["message_id"] for m in notifier[:3]] == [str(i) for i in ids]
    first = notifier[0]
    assert first.properties["delivery_mode"] == 2
    assert first.content_type == "application/json"
    assert first.delivery_info["routing_key"] == "ticket.created"
    assert json.loads(first.body)["id"] == str(ids[0])
    # Bindings from the contract: tickets.users only gets user events.
    assert [m.delivery_info["routing_key"] for m in drain(bus.queue_name("tickets.users"))] == [
        "user.registered"
    ]
    assert queue_depth(bus.queue_name("reports.events")) == 4


def test_concurrent_relays_share_the_work_without_sending_twice(
    transactional_db: None, bus: Topology, start_relay: Callable[..., Running], settings: Any
) -> None:
    settings.SERVIDESK_OUTBOX_BATCH_SIZE = 10
    for _ in range(30):
        with transaction.atomic():
            for n in range(10):
                publish(factories.ticket_created(id=n))
    relays = [start_relay() for _ in range(3)]
    wait_until(lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists())
    for relay in relays:
        relay.stop()
    messages = drain(bus.queue_name("reports.events"))
    ids = [m.properties["message_id"] for m in messages]
    assert len(ids) == 300
    assert len(set(ids)) == 300


def test_relay_picks_up_a_commit_quickly_without_waiting_for_its_poll(
    transactional_db: None, bus: Topology, start_relay: Callable[..., Running], settings: Any
) -> None:
    settings.SERVIDESK_OUTBOX_POLL_INTERVAL = 30  # only a nudge can be this fast
    start_relay()
    queue = bus.queue_name("reports.events")
    wait_until(lambda: queue_depth(queue) == 0)  # declared: the relay is up
    with transaction.atomic():
        publish(factories.ticket_created())
    wait_until(lambda: queue_depth(queue) == 1, timeout=3)


@pytest.mark.django_db
def test_sent_rows_and_old_inbox_ids_are_pruned_after_retention(bus: Topology) -> None:
    with transaction.atomic():
        old, recent, unsent = (publish(factories.ticket_created(id=n)) for n in range(3))
    now = timezone.now()
    OutboxMessage.objects.filter(event_id=old).update(sent_at=now - timedelta(days=8))
    OutboxMessage.objects.filter(event_id=recent).update(sent_at=now - timedelta(days=6))
    InboxEntry.objects.create(event_id=uuid.uuid4(), event_type="x", queue="q",
                              processed_at=now - timedelta(days=31))  # fmt: skip
    InboxEntry.objects.create(event_id=uuid.uuid4(), event_type="x", queue="q")

    conf = event_settings()
    assert prune_outbox(conf) == 1
    assert prune_inbox(conf) == 1
    assert set(OutboxMessage.objects.values_list("event_id", flat=True)) == {recent, unsent}
    assert InboxEntry.objects.count() == 1


def test_postgresql_relays_are_notified_at_commit_only(
    transactional_db: None, bus: Topology
) -> None:
    """The NOTIFY goes out with the outbox row: delivered if the change commits, else never."""
    import psycopg  # noqa: PLC0415

    settings = connection.settings_dict
    listener = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
        dbname=settings["NAME"], autocommit=True,
    )  # fmt: skip
    try:
        listener.execute(f"LISTEN {publisher.NOTIFY_CHANNEL}")

        def heard() -> int:
            return len(list(listener.notifies(timeout=0.5, stop_after=10)))

        def change_that_fails() -> None:
            with transaction.atomic():
                publish(factories.ticket_created(id=1))
                raise ZeroDivisionError

        with pytest.raises(ZeroDivisionError):
            change_that_fails()
        assert heard() == 0
        with transaction.atomic():
            publish(factories.ticket_created(id=2))
            publish(factories.ticket_created(id=2))
            assert heard() == 0  # not before the commit
        assert heard() == 1  # one wakeup per transaction, however many events
        sequences = OutboxMessage.objects.order_by("id").values_list("sequence", "envelope")
        assert [(seq, envelope["sequence"]) for seq, envelope in sequences] == [(1, 1), (2, 2)]
    finally:
        listener.close()
