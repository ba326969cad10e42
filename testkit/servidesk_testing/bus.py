"""Tests on the real RabbitMQ: a test's own exchanges and queues, envelopes published to
them, and a consumer (or any worker with ``run``/``stop``) running in a thread."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

import pytest
from django.db import connection
from kombu import Connection

from servidesk_shared.events.topology import Topology

RABBITMQ_URL = os.environ.get("SERVIDESK_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def broker_error() -> Exception | None:
    """Why the test broker cannot be reached, or ``None`` when it can."""
    try:
        with Connection(RABBITMQ_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu's and the socket's errors alike
        return exc
    return None


@contextlib.contextmanager
def own_topology() -> Iterator[Topology]:
    """The test's own exchanges and queues (a prefix of its own), deleted afterwards."""
    topology = Topology(f"t{uuid.uuid4().hex[:10]}.")
    try:
        yield topology
    finally:
        with Connection(RABBITMQ_URL) as conn:
            channel = conn.channel()
            for queue in topology.queues():
                channel.queue_delete(queue.name)
            channel.exchange_delete(topology.exchange.name)
            channel.exchange_delete(topology.dead_letter_exchange.name)


@pytest.fixture
def bus(settings: Any) -> Iterator[Topology]:
    """A test's own exchanges and queues on the real RabbitMQ, the Django settings pointed
    at them, deleted afterwards. Import it into a suite's conftest (or test module)."""
    if (error := broker_error()) is not None:  # pragma: no cover - depends on the machine
        pytest.skip(f"RabbitMQ not reachable: {error}")
    with own_topology() as topology:
        settings.BROKER_URL = RABBITMQ_URL
        settings.SERVIDESK_EVENT_PREFIX = topology.prefix
        settings.SERVIDESK_EVENT_RETRY_DELAY = 0.01
        yield topology


def publish(topology: Topology, *envelopes: dict[str, Any]) -> None:
    """Publish ``envelopes`` as the relay does: persistent, confirmed, routed by type."""
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


class Worker(Protocol):
    def run(self) -> None: ...

    def stop(self) -> None: ...


W = TypeVar("W", bound=Worker)


class Running(Generic[W]):
    """``worker.run()`` in a thread of this process (its own database connection, closed
    when it ends) until ``stop()``, which also joins the thread."""

    def __init__(self, worker: W) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        finally:
            connection.close()

    def stop(self, timeout: float = 10.0) -> None:
        self.worker.stop()
        self.thread.join(timeout=timeout)
