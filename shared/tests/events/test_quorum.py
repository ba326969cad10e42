"""Quorum queues: what the topology declares, how a classic queue is kept until it is
migrated, and the migration itself (``quorum.py``), all on the real RabbitMQ."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import amqp
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from kombu import Connection, Producer, Queue

from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.deadletters import list_dead_letters
from servidesk_shared.events.publisher import publish
from servidesk_shared.events.quorum import (
    HOLD_SUFFIX,
    QueueInUseError,
    Step,
    migrate_service_queues,
    migrate_to_quorum,
)
from servidesk_shared.events.topology import DEAD_LETTER_SUFFIX, Topology
from tests.events import factories, handlers
from tests.events.conftest import RABBITMQ_URL, Running, effects, queue_depth, wait_until

QUEUE = "notifier.events"


@pytest.fixture
def hold_queues(topology: Topology) -> Iterator[None]:
    """Deletes the holding queues a failed migration would leave behind."""
    yield
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.channel()
        for queue in topology.queues():
            channel.queue_delete(f"{queue.name}{HOLD_SUFFIX}")


def queue_type(topology: Topology, name: str) -> str:
    """``quorum`` or ``classic``: which of the two declarations RabbitMQ takes."""
    with Connection(RABBITMQ_URL) as conn:
        for kind, queue in (
            ("quorum", topology.quorum(name)),
            ("classic", topology.as_classic(name)),
        ):
            with contextlib.suppress(amqp.PreconditionFailed):
                queue(conn.channel()).declare()
                return kind
    raise AssertionError(f"{name} is neither")


def declare_classic(topology: Topology) -> None:
    """The topology as it was before quorum queues: every queue classic."""
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.channel()
        topology.exchange(channel).declare()
        topology.dead_letter_exchange(channel).declare()
        for queue in topology.queues():
            topology.as_classic(queue.name)(channel).declare()


def send(conn: Connection, topology: Topology, routing_key: str = "ticket.created") -> str:
    """Publish one confirmed message to the events exchange; its id."""
    message_id = str(uuid.uuid4())
    channel = conn.channel()
    Producer(channel).publish(
        {"n": message_id},
        exchange=topology.exchange,
        routing_key=routing_key,
        message_id=message_id,
        delivery_mode=2,
        headers={"x-test": "kept"},
    )
    channel.close()
    return message_id


def dead_letter(conn: Connection, topology: Topology, queue: str) -> str:
    """A dead letter as the consumer writes one: to the DLX under the queue's name."""
    message_id = str(uuid.uuid4())
    channel = conn.channel()
    Producer(channel).publish(
        b"{}",
        exchange=topology.dead_letter_exchange,
        routing_key=topology.queue_name(queue),
        content_type="application/json",
        message_id=message_id,
        delivery_mode=2,
        headers={"x-servidesk-reason": "handler_failed", "x-servidesk-attempts": 5},
    )
    channel.close()
    return message_id


def take_all(name: str) -> list[Any]:
    """Every message in ``name``, acked."""
    with Connection(RABBITMQ_URL) as conn:
        bound = Queue(name, no_declare=True)(conn.channel())
        messages = []
        while (message := bound.get(no_ack=True)) is not None:
            messages.append(message)
        return messages


def confirmed_connection() -> Connection:
    return Connection(RABBITMQ_URL, transport_options={"confirm_publish": True})


# --- what is declared -----------------------------------------------------------------


def test_every_queue_and_dead_letter_queue_is_a_quorum_queue(topology: Topology) -> None:
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.channel()
        assert topology.declare(channel) == frozenset()
        assert topology.declare(channel) == frozenset()  # again: nothing changes
        assert channel.is_open
    for queue in topology.queues():
        assert queue_type(topology, queue.name) == "quorum", queue.name


def test_a_message_that_keeps_coming_back_is_never_dropped(topology: Topology) -> None:
    """RabbitMQ 4 dead-letters (or drops, without a DLX) a message returned 20 times by
    default; ours are returned whenever a consumer stops holding them, or ``dead_letters
    list`` reads them. The topology's delivery limit keeps them where they are."""
    queue = topology.queue_name(QUEUE)
    dlq = f"{queue}{DEAD_LETTER_SUFFIX}"
    with confirmed_connection() as conn:
        topology.declare(conn.channel())
        sent = send(conn, topology)
        dead = dead_letter(conn, topology, QUEUE)
        for name in (queue, dlq):
            for _ in range(25):
                channel = conn.channel()
                message = Queue(name, no_declare=True)(channel).get(no_ack=False)
                assert message is not None, f"{name} lost its message"
                channel.close()  # unacked: back to the queue, as a stopped consumer's
    assert [m.properties["message_id"] for m in take_all(queue)] == [sent]
    assert [m.properties["message_id"] for m in take_all(dlq)] == [dead]


# --- a queue not migrated yet -----------------------------------------------------------


def test_a_classic_queue_is_kept_and_consumed_until_it_is_migrated(
    tables: None,
    bus: Topology,
    start_relay: Callable[..., Running],
    caplog: pytest.LogCaptureFixture,
) -> None:
    declare_classic(bus)
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.channel()
        left = bus.declare(channel)
        assert channel.is_open  # the refused declarations did not close the caller's
    assert left == {queue.name for queue in bus.queues()}
    assert "run `manage.py migrate_to_quorum`" in caplog.text
    consumer = EventConsumer(Connection(RABBITMQ_URL), registry=handlers.handlers, queue=QUEUE)
    running = Running(consumer)
    start_relay()
    try:
        with transaction.atomic():
            created = publish(factories.ticket_created(id=7, title="on classic"))
        wait_until(lambda: consumer.stats["applied"] == 1)
    finally:
        running.stop()
    assert effects() == [(str(created), "ticket.created", "on classic")]
    assert queue_type(bus, bus.queue_name(QUEUE)) == "classic"


# --- the migration ------------------------------------------------------------------------


def test_migration_keeps_every_message_and_binding_and_runs_once(
    bus: Topology, hold_queues: None
) -> None:
    topology = bus  # its settings let ``list_dead_letters`` find the test's queues
    queue = topology.queue_name(QUEUE)
    dlq = f"{queue}{DEAD_LETTER_SUFFIX}"
    declare_classic(topology)
    published: Counter[str] = Counter()
    with confirmed_connection() as conn:
        for n in range(40):
            published[send(conn, topology, "user.updated" if n % 2 else "ticket.created")] = 1
        dead = {dead_letter(conn, topology, QUEUE) for _ in range(3)}
        steps: list[Step] = []

        def publish_at_each_step(name: str, step: Step) -> None:
            if name != queue:
                return
            steps.append(step)
            published[send(conn, topology, "team.updated")] = 1

        first, first_dlq = migrate_service_queues(
            QUEUE, connection=conn, topology=topology, on_step=publish_at_each_step
        )
    assert steps == ["hold", "unbind", "drain", "delete", "declare", "release", "restore"]
    assert (first.outcome, first.drained, first.duplicates) == ("migrated", 42, 1)
    assert first_dlq.outcome == "migrated"
    assert queue_type(topology, queue) == "quorum"
    assert queue_type(topology, dlq) == "quorum"
    assert queue_depth(f"{queue}{HOLD_SUFFIX}") is None  # the holding queue is gone

    with Connection(RABBITMQ_URL) as conn:  # a second run changes nothing
        again = migrate_service_queues(QUEUE, connection=conn, topology=topology)
    assert [m.outcome for m in again] == ["already_quorum", "already_quorum"]
    assert again[0].describe() == f"{queue} is already a quorum queue: nothing to do"

    messages = take_all(queue)
    assert Counter(m.properties["message_id"] for m in messages) == published
    assert all(m.headers.get("x-test") == "kept" for m in messages)
    letters = list_dead_letters(QUEUE, connection=Connection(RABBITMQ_URL))
    assert {letter.message_id for letter in letters} == dead
    assert {(letter.reason, letter.attempts) for letter in letters} == {("handler_failed", 5)}

    # The bindings and dead-letter settings came back: the exchange routes to the quorum
    # queue, and RabbitMQ dead-letters a rejected message to its DLQ.
    with confirmed_connection() as conn:
        after = {send(conn, topology, key) for key in ("ticket.created", "mail.bounced")}
        send(conn, topology, "report.made")  # bound to none of notifier's patterns
        wait_until(lambda: queue_depth(queue) == 2)
        rejected = Queue(queue, no_declare=True)(conn.channel()).get(no_ack=False)
        rejected.reject(requeue=False)
        wait_until(lambda: queue_depth(dlq) == 4, message="the rejected message in the DLQ")
    assert {m.properties["message_id"] for m in take_all(queue)} | {
        rejected.properties["message_id"]
    } == after


def test_messages_published_all_along_the_migration_are_all_kept(
    topology: Topology, hold_queues: None
) -> None:
    queue = topology.queue_name(QUEUE)
    declare_classic(topology)
    confirmed: list[str] = []
    stop = threading.Event()

    def keep_publishing() -> None:
        with confirmed_connection() as conn:
            while not stop.is_set():
                confirmed.append(send(conn, topology))

    with confirmed_connection() as conn:
        before = [send(conn, topology) for _ in range(200)]
    publisher = threading.Thread(target=keep_publishing)
    publisher.start()
    try:
        wait_until(lambda: len(confirmed) >= 20)
        with Connection(RABBITMQ_URL) as conn:
            migration = migrate_to_quorum(queue, connection=conn, topology=topology)
        count = len(confirmed)
        wait_until(lambda: len(confirmed) >= count + 20)  # and afterwards, on the new queue
    finally:
        stop.set()
        publisher.join(timeout=30)
    assert migration.outcome == "migrated"
    assert migration.drained >= 200
    received = Counter(m.properties["message_id"] for m in take_all(queue))
    assert set(received) == {*before, *confirmed}
    assert sum(received.values()) - len(received) <= 5, "at most a few copies (see quorum.py)"


def test_migration_refuses_a_queue_with_consumers_and_changes_nothing(
    topology: Topology, hold_queues: None
) -> None:
    queue = topology.queue_name(QUEUE)
    declare_classic(topology)
    with Connection(RABBITMQ_URL) as conn:
        consuming = conn.channel()
        consuming.basic_consume(queue, callback=lambda message: None)
        with pytest.raises(QueueInUseError, match="1 consumer"):
            migrate_to_quorum(queue, connection=conn, topology=topology)
        consuming.close()
        with confirmed_connection() as publishing:
            sent = send(publishing, topology)
    assert queue_type(topology, queue) == "classic"
    assert queue_depth(f"{queue}{HOLD_SUFFIX}") is None
    assert [m.properties["message_id"] for m in take_all(queue)] == [sent]  # still bound


def test_an_interrupted_migration_is_finished_by_running_it_again(
    topology: Topology, hold_queues: None
) -> None:
    queue = topology.queue_name(QUEUE)
    declare_classic(topology)

    def crash_after_declaring(name: str, step: Step) -> None:
        if step == "release":
            raise KeyboardInterrupt

    with confirmed_connection() as conn:
        sent = {send(conn, topology) for _ in range(10)}
        with pytest.raises(KeyboardInterrupt):
            migrate_to_quorum(
                queue, connection=conn, topology=topology, on_step=crash_after_declaring
            )
        assert queue_depth(f"{queue}{HOLD_SUFFIX}") == 10
        sent.add(send(conn, topology))  # the quorum queue is not bound yet: held
        finished = migrate_to_quorum(queue, connection=conn, topology=topology)
    assert (finished.outcome, finished.restored) == ("resumed", 11)
    assert queue_depth(f"{queue}{HOLD_SUFFIX}") is None
    received = [m.properties["message_id"] for m in take_all(queue)]
    assert sorted(received) == sorted(sent)
    with confirmed_connection() as conn:  # and bound now
        assert [m.properties["message_id"] for m in take_all(queue)] == []
        after = send(conn, topology)
    assert [m.properties["message_id"] for m in take_all(queue)] == [after]


def test_the_command_migrates_the_services_queue_and_then_says_there_is_nothing_to_do(
    bus: Topology, hold_queues: None
) -> None:
    declare_classic(bus)
    with confirmed_connection() as conn:
        sent = send(conn, bus)
    out = StringIO()
    call_command("migrate_to_quorum", stdout=out, stderr=StringIO())
    queue = bus.queue_name(QUEUE)
    assert out.getvalue().splitlines() == [
        f"{queue} migrated to a quorum queue: 1 message(s) drained, 1 restored, "
        "0 duplicate(s) dropped",
        f"{queue}.dlq migrated to a quorum queue: 0 message(s) drained, 0 restored, "
        "0 duplicate(s) dropped",
    ]
    out = StringIO()
    call_command("migrate_to_quorum", "--queue", QUEUE, stdout=out)
    assert out.getvalue().splitlines() == [
        f"{queue} is already a quorum queue: nothing to do",
        f"{queue}.dlq is already a quorum queue: nothing to do",
    ]
    assert [m.properties["message_id"] for m in take_all(queue)] == [sent]
    with pytest.raises(CommandError, match="Unknown queue"):
        call_command("migrate_to_quorum", "--queue", "billing.events")


def test_the_command_has_nothing_to_migrate_on_the_embedded_broker(settings: Any) -> None:
    settings.BROKER_URL = ""
    out = StringIO()
    call_command("migrate_to_quorum", "--all", stdout=out)
    assert "nothing to migrate" in out.getvalue()
