"""The handler registry, the declared topology and the broker health check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Producer

from servidesk_shared.events import broker
from servidesk_shared.events.registry import HandlerRegistry, load_registry
from servidesk_shared.events.topology import SUBSCRIPTIONS, Topology
from tests.events.conftest import RABBITMQ_URL, queue_depth


def test_registry_refuses_unknown_types_and_double_handlers() -> None:
    registry = HandlerRegistry()

    @registry.on("ticket.created", "ticket.assigned")
    def handle(event: Any) -> None: ...

    assert registry.get("ticket.created") is handle
    assert "ticket.assigned" in registry
    assert registry.get("user.updated") is None
    with pytest.raises(ValueError, match="unknown event type"):
        registry.register("ticket.exploded", handle)
    with pytest.raises(ValueError, match="already has a handler"):
        registry.register("ticket.created", handle)


def test_registry_loads_from_a_dotted_path() -> None:
    assert len(load_registry("tests.events.handlers.handlers")) == 6
    with pytest.raises(ValueError, match="not set"):
        load_registry("")


def test_topology_is_the_contracts_and_declaring_twice_is_harmless(topology: Topology) -> None:
    assert SUBSCRIPTIONS == {
        "notifier.events": ("ticket.#", "user.#", "verification.#"),
        "reports.events": ("ticket.#", "user.#"),
        "tickets.users": ("user.#",),
    }
    assert topology.exchange.type == "topic"
    assert topology.exchange.durable
    assert topology.queue("notifier.events").durable
    assert topology.queue("notifier.events").queue_arguments == {
        "x-dead-letter-exchange": f"{topology.prefix}servidesk.dlx",
        "x-dead-letter-routing-key": f"{topology.prefix}notifier.events",
    }
    with Connection(RABBITMQ_URL) as conn:
        topology.declare(conn.channel())
        topology.declare(conn.channel())  # a second process starting: same answer
        # The DLX is direct: one queue's dead letters reach its own DLQ only.
        Producer(conn.channel()).publish(
            b"x",
            exchange=topology.dead_letter_exchange,
            routing_key=topology.queue_name("reports.events"),
        )
    assert queue_depth(f"{topology.prefix}reports.events.dlq") == 1
    assert queue_depth(f"{topology.prefix}notifier.events.dlq") == 0


def test_broker_health_check_on_rabbitmq_and_embedded(settings: Any, tmp_path: Path) -> None:
    settings.BROKER_URL = RABBITMQ_URL
    assert broker.broker_reachable() is None
    settings.BROKER_URL = ""
    settings.SERVIDESK_VAR_DIR = tmp_path
    assert broker.broker_reachable() is None
    assert (tmp_path / "broker" / "messages").is_dir()
