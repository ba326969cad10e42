"""``BROKER_URL`` with several ``;``-separated URLs: every part of ours that reads it."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import transaction
from kombu import Connection

from servidesk_shared.events import broker
from servidesk_shared.events.conf import broker_urls, event_settings
from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.deadletters import list_dead_letters
from servidesk_shared.events.publisher import publish
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.management.commands.relay_events import _where
from servidesk_shared.settings.production import refuse_examples
from servidesk_testing.proxy import TcpProxy
from tests.events import factories, handlers
from tests.events.conftest import RABBITMQ_URL, Running, effects, wait_until

NODES = 2


def dead_url() -> str:
    """A RabbitMQ URL nothing answers at."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])  # nothing listens once the socket is closed
    return f"amqp://guest:guest@127.0.0.1:{port}//"


@pytest.fixture
def nodes() -> Iterator[list[TcpProxy]]:
    """Two "nodes": proxies to the one RabbitMQ, each of which a test can take away."""
    with Connection(RABBITMQ_URL) as conn:
        host, port = conn.hostname, conn.port or 5672
    proxies = [TcpProxy(host, port) for _ in range(NODES)]
    for proxy in proxies:
        proxy.restore()
    yield proxies
    for proxy in proxies:
        proxy.close()


def test_broker_url_is_split_on_semicolons_and_blanks_are_dropped(settings: Any) -> None:
    assert broker_urls("") == []
    assert broker_urls("amqp://a//") == ["amqp://a//"]
    assert broker_urls(" amqp://a// ; amqp://b//;; ") == ["amqp://a//", "amqp://b//"]
    settings.BROKER_URL = " amqp://a// ; amqp://b//; "
    assert event_settings().broker_url == "amqp://a//;amqp://b//"
    settings.BROKER_URL = "  ;  "
    assert event_settings().broker_url == ""  # still the embedded broker


def test_health_check_fails_over_to_a_live_url(settings: Any) -> None:
    settings.BROKER_URL = f"{dead_url()};{RABBITMQ_URL}"
    assert broker.broker_reachable() is None
    # Every URL gets its try, not only the first two.
    settings.BROKER_URL = f"{dead_url()};{dead_url()};{RABBITMQ_URL}"
    assert broker.broker_reachable() is None
    settings.BROKER_URL = f"{dead_url()};{dead_url()}"
    assert broker.broker_reachable() == "broker unreachable: OperationalError"


def test_events_are_relayed_and_consumed_through_a_dead_url_first(
    tables: None,
    bus: Topology,
    settings: Any,
    start_relay: Callable[..., Running],
) -> None:
    settings.BROKER_URL = f"{dead_url()};{dead_url()};{RABBITMQ_URL}"
    consumer = EventConsumer(
        broker.connection(heartbeat=30), registry=handlers.handlers, queue="notifier.events"
    )
    running = Running(consumer)
    start_relay()  # broker.connection(), from the settings
    try:
        with transaction.atomic():
            created = publish(factories.ticket_created(id=3, title="failed over"))
        wait_until(lambda: consumer.stats["applied"] == 1)
        # Its dead letters are read through the same URLs (none here).
        assert list_dead_letters("notifier.events") == []
    finally:
        running.stop()
    assert effects() == [(str(created), "ticket.created", "failed over")]


def test_relay_and_consumer_move_to_the_next_node_when_theirs_goes_away(
    tables: None,
    bus: Topology,
    settings: Any,
    nodes: list[TcpProxy],
    start_relay: Callable[..., Running],
) -> None:
    settings.BROKER_URL = ";".join(f"amqp://guest:guest@127.0.0.1:{node.port}//" for node in nodes)
    consumer = EventConsumer(
        broker.connection(heartbeat=30), registry=handlers.handlers, queue="notifier.events"
    )
    running = Running(consumer)
    start_relay()
    try:
        with transaction.atomic():
            before = publish(factories.ticket_created(id=1, title="on the first node"))
        wait_until(lambda: consumer.stats["applied"] == 1)
        nodes[0].cut()  # the node both were connected to is gone, for good
        with transaction.atomic():
            after = publish(factories.ticket_created(id=2, title="on the second node"))
        wait_until(lambda: consumer.stats["applied"] == 2, message="applied through node 2")
    finally:
        running.stop()
    assert effects() == [
        (str(before), "ticket.created", "on the first node"),
        (str(after), "ticket.created", "on the second node"),
    ]


def test_the_queue_migration_fails_over_too(bus: Topology, settings: Any) -> None:
    settings.BROKER_URL = f"{dead_url()};{RABBITMQ_URL}"
    out = StringIO()
    call_command("migrate_to_quorum", "--queue", "tickets.users", stdout=out)
    assert out.getvalue().splitlines() == [
        f"{bus.queue_name('tickets.users')} did not exist: declared as a quorum queue",
        f"{bus.queue_name('tickets.users')}.dlq did not exist: declared as a quorum queue",
    ]


def test_the_relay_names_every_host_and_no_password() -> None:
    assert _where("") == "the embedded broker"
    where = _where("amqp://u:s3cret@rabbit-0:5672/sd;amqp://u:s3cret@rabbit-1:5672/sd")
    assert where == "rabbit-0:5672/sd, rabbit-1:5672/sd"


def test_production_refuses_an_example_password_in_any_of_the_urls() -> None:
    strong = "amqp://servidesk:Zq8vN3wK1pLr7tYx@rabbit-0:5672/servidesk"
    refuse_examples({"BROKER_URL": f"{strong};{strong}"}, secret_key="Xk29fLq0vPz8Rn4tWb7yHs1d")
    with pytest.raises(ImproperlyConfigured, match="the password in BROKER_URL"):
        refuse_examples(
            {"BROKER_URL": f"{strong};amqp://guest:guest@rabbit-1:5672//"},
            secret_key="Xk29fLq0vPz8Rn4tWb7yHs1d",
        )
