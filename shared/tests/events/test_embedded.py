"""The embedded broker (kombu's sqlalchemy transport on SQLite): each message delivered once,
topic routing by the publisher's topology, across processes, with dead letters."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction
from kombu import Connection, Producer

from servidesk_shared.events import broker, embedded
from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.deadletters import list_dead_letters, replay
from servidesk_shared.events.publisher import publish
from servidesk_shared.events.relay import Relay
from servidesk_shared.events.topology import Topology
from tests.events import factories, handlers
from tests.events.conftest import Running, Subprocess, effects, wait_until


def embedded_connection(folder: Path) -> Connection:
    return embedded.connection(folder)


def drain(folder: Path, topology: Topology, queue: str) -> list[Any]:
    """Every message waiting in ``queue``, read on a fresh connection (another process's view:
    it declared nothing), acked."""
    bodies = []
    with embedded_connection(folder) as conn:
        bound = topology.queue(queue)(conn.channel())
        while (message := bound.get(no_ack=True)) is not None:
            bodies.append(message.decode())
    return bodies


def test_concurrent_readers_get_every_message_whole_and_once(tmp_path: Path) -> None:
    topology = Topology("embedded.")
    queue = topology.queue("reports.events")
    big = "x" * 64 * 1024  # several pages of the file per message
    count = 60
    received: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def write() -> None:
        with embedded_connection(tmp_path) as conn:
            producer = Producer(conn.default_channel)
            topology.declare(conn.default_channel)
            for n in range(count):
                producer.publish({"n": n, "pad": big}, exchange=topology.exchange,
                                 routing_key="ticket.created", serializer="json")  # fmt: skip

    def on_message(body: dict[str, Any], message: Any) -> None:
        with lock:
            received.append(body)
        message.ack()

    def read() -> None:
        # As consumers read: kombu polls the queue and sleeps its interval when it is empty.
        try:
            with (
                embedded_connection(tmp_path) as conn,
                conn.Consumer(queue, callbacks=[on_message], accept=["json"]),
            ):
                while True:
                    with lock:
                        if len(received) >= count:
                            return
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=0.2)
        except BaseException as exc:
            errors.append(exc)

    with embedded_connection(tmp_path) as conn:
        topology.declare(conn.default_channel)
    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    write()
    for reader in readers:
        reader.join(timeout=30)

    assert not errors
    assert sorted(body["n"] for body in received) == list(range(count))
    assert all(body["pad"] == big for body in received)


def test_topic_bindings_route_by_event_type(tmp_path: Path) -> None:
    topology = Topology("embedded.")
    with embedded_connection(tmp_path) as conn:
        topology.declare(conn.default_channel)
        producer = Producer(conn.default_channel, exchange=topology.exchange, serializer="json")
        producer.publish({"n": 1}, routing_key="ticket.created")
        producer.publish({"n": 2}, routing_key="user.updated")
        producer.publish({"n": 3}, routing_key="report.generated")  # nobody subscribes

    assert drain(tmp_path, topology, "notifier.events") == [{"n": 1}, {"n": 2}]
    assert drain(tmp_path, topology, "reports.events") == [{"n": 1}, {"n": 2}]
    assert drain(tmp_path, topology, "tickets.users") == [{"n": 2}]
    assert drain(tmp_path, topology, "notifier.events") == []  # each was read once


def test_processes_opening_a_new_broker_at_once_all_get_it(
    tables: None, bus: Topology, tmp_path: Path, spawn: Callable[..., Subprocess]
) -> None:
    """kombu creates its tables on first use; several processes doing that together must
    not collide (a relay and consumers starting together on a fresh ``make up``)."""
    env = {"SERVIDESK_TEST_BROKER_URL": "", "SERVIDESK_VAR_DIR": str(tmp_path)}
    consumers = [spawn("consume_events", **env) for _ in range(3)]
    relay = spawn("relay_events", **env)
    with transaction.atomic():
        event_id = publish(factories.ticket_created(title="first start"))

    wait_until(lambda: len(effects(event_id)) == 1, message="the effect of the first event")
    for process in [*consumers, relay]:
        assert process.process.poll() is None, process.stop()


def test_events_round_trip_across_processes_on_the_embedded_broker(
    tables: None, bus: Topology, tmp_path: Path, spawn: Callable[..., Subprocess]
) -> None:
    """publish → relay process → files → consumer process → effect, with no RabbitMQ."""
    env = {"SERVIDESK_TEST_BROKER_URL": "", "SERVIDESK_VAR_DIR": str(tmp_path)}
    consumer = spawn("consume_events", **env)
    relay = spawn("relay_events", **env)
    with transaction.atomic():
        ticket = publish(factories.ticket_created(title="via files"))
        user = publish(factories.user_card(username="bea"), producer="accounts")

    wait_until(lambda: len(effects()) == 2, message="effects through the embedded broker")
    assert sorted(effects()) == sorted(
        [(str(ticket), "ticket.created", "via files"), (str(user), "user.registered", "bea")]
    )
    # The relay's topology reached the queues nobody consumes here, by the contract's keys.
    folder = tmp_path / "broker"
    assert len(drain(folder, bus, "reports.events")) == 2
    assert [body["id"] for body in drain(folder, bus, "tickets.users")] == [str(user)]
    assert "relaying the outbox to the embedded broker" in relay.stop()
    consumer.stop()


def test_dead_letters_and_replay_work_on_the_embedded_broker(
    tables: None, settings: Any, tmp_path: Path
) -> None:
    settings.BROKER_URL = ""
    settings.SERVIDESK_VAR_DIR = tmp_path
    settings.SERVIDESK_EVENT_PREFIX = "embedded."
    settings.SERVIDESK_EVENT_MAX_ATTEMPTS = 2
    settings.SERVIDESK_EVENT_RETRY_DELAY = 0.01
    settings.SERVIDESK_EMBEDDED_BROKER_POLL = 0.01
    settings.SERVIDESK_EVENT_PRODUCER = "tickets"
    handlers.FAILING_TITLES.add("broken")
    consumer = EventConsumer(
        broker.connection(), registry=handlers.handlers, queue="notifier.events"
    )
    running = [Running(consumer), Running(Relay())]
    try:
        with transaction.atomic():
            event_id = publish(factories.ticket_created(title="broken"))
        wait_until(lambda: consumer.stats["dead_lettered"] == 1)
        [letter] = list_dead_letters("notifier.events")
        assert (letter.message_id, letter.reason) == (str(event_id), "handler_failed")
        assert len(list_dead_letters("notifier.events")) == 1  # still there after listing

        handlers.FAILING_TITLES.clear()
        assert replay("notifier.events", message_ids=[str(event_id)]) == 1
        wait_until(lambda: consumer.stats["applied"] == 1)
        assert len(effects(event_id)) == 1
        assert list_dead_letters("notifier.events") == []
    finally:
        for worker in running:
            worker.stop()
