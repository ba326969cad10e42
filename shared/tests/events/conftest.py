"""Fixtures of the event bus tests: real PostgreSQL and RabbitMQ, names unique per test."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from kombu import Connection

from servidesk_shared.backoff import Backoff
from servidesk_shared.events import broker
from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.relay import Relay
from servidesk_shared.events.topology import Topology
from servidesk_testing.proxy import TcpProxy
from tests.events import handlers

RABBITMQ_URL = os.environ.get("SERVIDESK_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
SHARED_DIR = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], Any], *, timeout: float = 30, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s: {message or predicate}")


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def topology(prefix: str) -> Iterator[Topology]:
    """The test's own exchanges and queues on the shared RabbitMQ, deleted afterwards."""
    topo = Topology(prefix)
    yield topo
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.channel()
        for queue in topo.queues():
            channel.queue_delete(queue.name)
        channel.exchange_delete(topo.exchange.name)
        channel.exchange_delete(topo.dead_letter_exchange.name)


@pytest.fixture
def bus(settings: Any, topology: Topology) -> Topology:
    """In-process settings for fast relays and consumers on the real broker."""
    settings.BROKER_URL = RABBITMQ_URL
    settings.SERVIDESK_EVENT_PREFIX = topology.prefix
    settings.SERVIDESK_EVENT_QUEUE = "notifier.events"
    settings.SERVIDESK_EVENT_HANDLERS = "tests.events.handlers.handlers"
    settings.SERVIDESK_EVENT_MAX_ATTEMPTS = 3
    settings.SERVIDESK_EVENT_RETRY_DELAY = 0.01
    settings.SERVIDESK_EVENT_PREFETCH = 8
    settings.SERVIDESK_OUTBOX_POLL_INTERVAL = 0.2
    # Consumers take ticket.* from tickets only; tests publishing user.* say "accounts".
    settings.SERVIDESK_EVENT_PRODUCER = "tickets"
    return topology


@pytest.fixture
def tables(transactional_db: None) -> Iterator[None]:
    """The test service's effect tables, empty; tests using them run with real commits."""
    with connection.cursor() as cursor:
        for statement in handlers.CREATE_TABLES:
            cursor.execute(statement)
        cursor.execute(f"TRUNCATE {handlers.EFFECTS}, {handlers.TICKETS}")
    handlers.FAILING_TITLES.clear()
    handlers.DATABASE_DOWN.clear()
    yield
    handlers.FAILING_TITLES.clear()
    handlers.DATABASE_DOWN.clear()


def effects(event_id: uuid.UUID | str | None = None) -> list[tuple[str, str, str]]:
    """Rows of the effect table: ``(event_id, event_type, title)``, in insertion order."""
    select = f"SELECT event_id::text, event_type, title FROM {handlers.EFFECTS}"  # noqa: S608
    with connection.cursor() as cursor:
        if event_id is None:
            cursor.execute(f"{select} ORDER BY id")
        else:
            cursor.execute(f"{select} WHERE event_id = %s ORDER BY id", [str(event_id)])
        return list(cursor.fetchall())


def declared_channel(conn: Connection, topology: Topology) -> Any:
    """A channel of ``conn`` on which ``topology`` is declared.

    A test publishing straight to the exchange declares while its relay and consumer
    threads may be declaring the same new queues. RabbitMQ can then answer one of them
    404 "home node ... of durable queue ... is down or inaccessible" while the other's
    queue process starts (seen in CI); the channel is closed by that, so retry on a new one.
    """
    for _ in range(50):
        channel = conn.channel()
        try:
            topology.declare(channel)
        except conn.channel_errors:
            time.sleep(0.05)
            continue
        return channel
    raise AssertionError(f"could not declare {topology.prefix}* in 50 tries")


def queue_depth(name: str) -> int | None:
    """Messages ready in ``name``; ``None`` while the queue does not exist."""
    with Connection(RABBITMQ_URL) as conn:
        try:
            _, count, _ = conn.channel().queue_declare(name, passive=True)
        except conn.channel_errors:
            return None
        return int(count)


class Running:
    """A relay or consumer in a thread of this process, stopped and joined at the end."""

    def __init__(self, worker: Relay | EventConsumer) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        finally:
            connection.close()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), f"{type(self.worker).__name__} did not stop"


@pytest.fixture
def start_relay(bus: Topology) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(connect: Callable[[], Connection] = broker.connection) -> Running:
        relay = Relay(connect=connect)
        relay.backoff = Backoff(start=0.05, cap=0.3)
        started.append(Running(relay))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def start_consumer(bus: Topology) -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start() -> Running:
        consumer = EventConsumer(
            Connection(RABBITMQ_URL), registry=handlers.handlers, queue="notifier.events"
        )
        started.append(Running(consumer))
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with Connection(RABBITMQ_URL) as conn:
        host, port = conn.hostname, conn.port or 5672
    tcp = TcpProxy(host, port)
    tcp.restore()
    yield tcp
    tcp.close()


class Subprocess:
    """``python -m tests.events.worker COMMAND`` with the test's database and names."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.events.worker", *command],
            cwd=SHARED_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        """Everything it printed so far."""
        return Path(self.log.name).read_text(errors="replace")

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"still running; its output:\n{self.stop()}") from exc

    def stop(self) -> str:
        """Terminate (if still running) and return everything it printed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.output()


@pytest.fixture
def spawn(bus: Topology) -> Iterator[Callable[..., Subprocess]]:
    started: list[Subprocess] = []
    base_env = {
        **os.environ,
        "SERVIDESK_TEST_DB_NAME": str(connection.settings_dict["NAME"]),
        "SERVIDESK_TEST_BROKER_URL": RABBITMQ_URL,
        "SERVIDESK_TEST_EVENT_PREFIX": bus.prefix,
        "DJANGO_SETTINGS_MODULE": "tests.events.worker_settings",
    }

    def spawn(*command: str, **env: str) -> Subprocess:
        started.append(Subprocess(list(command), {**base_env, **env}))
        return started[-1]

    yield spawn
    for process in started:
        process.stop()
        process.log.close()
