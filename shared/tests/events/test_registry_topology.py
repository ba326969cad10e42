"""The handler registry, the declared topology and the broker health check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Producer

from servidesk_shared.events import broker
from servidesk_shared.events.registry import HandlerRegistry, load_registry
from servidesk_shared.events.topology import Topology
from tests.events.conftest import RABBITMQ_URL, queue_depth, wait_until


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


def test_topology_routes_as_the_contract_says_and_declaring_twice_is_harmless(
    topology: Topology,
) -> None:
    with Connection(RABBITMQ_URL) as conn:
        topology.declare(conn.channel())
        topology.declare(conn.channel())  # a second process starting: same answer
        producer = Producer(conn.channel(), exchange=topology.exchange)
        for key in (
            "ticket.created",
            "user.updated",
            "verification.phone_code",
            "report.made",
            "user.invite_requested",
            "mail.bounced",
            "team.updated",
            "notification.created",
        ):
            producer.publish(b"x", routing_key=key)
        wait_until(lambda: queue_depth(topology.queue_name("reports.events")) == 4)
        # RabbitMQ dead-letters a rejected message to that queue's own DLQ only.
        rejected = topology.queue("reports.events")(conn.channel()).get(no_ack=False)
        rejected.reject(requeue=False)

    expected = {
        "notifier.events": 6,  # ticket.#, user.#, verification.#, mail.#, team.#
        "reports.events": 3,  # ticket.#, user.#, team.#; one rejected
        "tickets.users": 2,  # user.#
        "accounts.invites": 1,  # user.invite_requested
        "web.live": 2,  # ticket.#, notification.#
        "reports.events.dlq": 1,
        "notifier.events.dlq": 0,
        "tickets.users.dlq": 0,
        "accounts.invites.dlq": 0,
        "web.live.dlq": 0,
    }
    wait_until(
        lambda: {name: queue_depth(topology.prefix + name) for name in expected} == expected,
        message="messages in the contract's queues",
    )


def test_broker_health_check_on_rabbitmq_and_embedded(settings: Any, tmp_path: Path) -> None:
    settings.BROKER_URL = RABBITMQ_URL
    assert broker.broker_reachable() is None
    settings.BROKER_URL = ""
    settings.SERVIDESK_VAR_DIR = tmp_path
    assert broker.broker_reachable() is None
    unusable = tmp_path / "a-file"
    unusable.write_text("")
    settings.SERVIDESK_VAR_DIR = unusable  # the embedded broker cannot live under a file
    assert broker.broker_reachable() is not None
