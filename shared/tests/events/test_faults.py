"""Outages and crashes: nothing is lost, nothing is applied twice."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from servidesk_shared.events import broker
from servidesk_shared.events.publisher import NOTIFY_CHANNEL, publish
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry, OutboxMessage
from servidesk_testing.proxy import TcpProxy
from tests.events import factories, handlers
from tests.events.conftest import Running, Subprocess, effects, queue_depth, wait_until
from tests.events.worker import DIE_BEFORE_MARK


def unsent() -> int:
    return OutboxMessage.objects.filter(sent_at__isnull=True).count()


def relay_retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The relay's "failed, retrying" warnings logged since ``caplog.clear()``."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "servidesk_shared.events.relay" and "retrying in" in record.getMessage()
    ]


def listeners() -> int:
    """Sessions of this database idle right after ``LISTEN`` on the outbox channel."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle' AND query = %s",
            [f"LISTEN {NOTIFY_CHANNEL}"],
        )
        (count,) = cursor.fetchone()
    return int(count)


@pytest.mark.usefixtures("tables")
def test_a_change_committed_while_the_broker_is_down_is_delivered_when_it_is_back(
    bus: Topology,
    settings: Any,
    proxy: TcpProxy,
    start_relay: Callable[..., Running],
    start_consumer: Callable[..., Running],
    caplog: pytest.LogCaptureFixture,
) -> None:
    through_proxy = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
    settings.BROKER_URL = through_proxy
    # The consumer talks to RabbitMQ directly: only the relay's link is cut.
    consumer = start_consumer().worker
    start_relay(connect=broker.connection)
    with transaction.atomic():
        publish(factories.ticket_created(id=1, title="before the outage"))
    wait_until(lambda: unsent() == 0, message="relay connected and publishing")

    proxy.cut()
    caplog.clear()
    assert broker.broker_reachable() is not None  # health/ready says so...
    started = time.monotonic()
    with transaction.atomic():  # ...but the user's change goes through, and fast
        during = publish(factories.ticket_created(id=2, title="during the outage"))
    assert time.monotonic() - started < 0.5
    wait_until(
        lambda: len(relay_retries(caplog)) >= 2, message="the relay failing during the outage"
    )
    assert unsent() == 1
    assert not effects(during)

    proxy.restore()
    wait_until(lambda: unsent() == 0, message="relay reconnected")
    wait_until(lambda: effects(during))
    assert len(effects(during)) == 1
    assert broker.broker_reachable() is None
    assert consumer.stats["applied"] == 2  # type: ignore[union-attr]


def test_a_relay_killed_between_publish_and_mark_sent_causes_no_double_effect(
    tables: None,
    bus: Topology,
    tmp_path: Path,
    spawn: Callable[..., Subprocess],
    start_consumer: Callable[..., Running],
) -> None:
    consumer = start_consumer().worker
    with transaction.atomic():
        ids = [publish(factories.ticket_created(id=n, title=f"t{n}")) for n in range(3)]

    dying = spawn("relay_events", **{DIE_BEFORE_MARK: str(tmp_path / "died")})
    assert dying.wait() == -signal.SIGKILL
    # It published (the consumer applied everything) but never marked a row sent.
    wait_until(lambda: consumer.stats["applied"] == 3)  # type: ignore[union-attr]
    assert unsent() == 3

    spawn("relay_events")  # the replacement publishes the batch again
    wait_until(lambda: unsent() == 0)
    wait_until(lambda: consumer.stats["duplicate"] == 3)  # type: ignore[union-attr]
    assert sorted(effects()) == sorted(
        (str(event_id), "ticket.created", f"t{n}") for n, event_id in enumerate(ids)
    )


def test_a_consumer_killed_after_commit_before_ack_causes_no_double_effect(
    tables: None,
    bus: Topology,
    tmp_path: Path,
    spawn: Callable[..., Subprocess],
    start_relay: Callable[..., Running],
) -> None:
    marker = tmp_path / "died"
    dying = spawn("consume_events", **{handlers.DIE_AFTER_COMMIT: str(marker)})
    start_relay()
    with transaction.atomic():
        first = publish(factories.ticket_created(id=1, title="one"))
        second = publish(factories.ticket_created(id=2, title="two"))

    assert dying.wait() == -signal.SIGKILL
    assert marker.exists()
    # Committed (one event or both, as one batch), never acked: both come back.
    before_crash = [row[0] for row in effects()]
    assert before_crash
    assert before_crash == [str(first), str(second)][: len(before_crash)]
    queue = bus.queue_name("notifier.events")
    wait_until(lambda: queue_depth(queue) == 2, message="unacked messages back in the queue")

    again = spawn("consume_events")
    skipped = [f"ticket.created {event_id} already applied; skipped" for event_id in before_crash]
    wait_until(lambda: all(line in again.output() for line in skipped))
    wait_until(lambda: InboxEntry.objects.count() == 2)
    assert [row[0] for row in effects()] == [str(first), str(second)]


def test_a_relay_in_another_process_is_woken_by_the_commit_not_its_poll(
    tables: None,
    bus: Topology,
    spawn: Callable[..., Subprocess],
) -> None:
    listening_before = listeners()
    relay = spawn("relay_events", "--poll-interval", "60")  # two relay threads by default
    queue = bus.queue_name("reports.events")
    wait_until(lambda: queue_depth(queue) == 0, message="relay started and declared")
    # Past their first, empty batch, both relay threads wait for a NOTIFY.
    wait_until(lambda: listeners() >= listening_before + 2, message="the relays listening")
    started = time.monotonic()
    with transaction.atomic():
        publish(factories.ticket_created())
    wait_until(lambda: queue_depth(queue) == 1, timeout=10)
    assert time.monotonic() - started < 5  # far from the 60 s poll, even on a busy machine

    relay.process.terminate()  # SIGTERM, as a container stop sends: both threads end
    assert relay.wait(timeout=5) == 0
    assert "(2 relays)" in relay.output()
