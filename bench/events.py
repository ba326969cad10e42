"""Event bus benchmark: relay throughput vs bare kombu, and commit -> effect latency.

    cd /work/main && .venv/bin/python -m bench.events
        [--events 2000] [--rounds 7] [--rate 200] [--seconds 20] [--writers 4]
        [--relays 1] [--relay-threads 2] [--consumers 1] [--skip-throughput]

Needs PostgreSQL and RabbitMQ (``BENCH_BROKER_URL``, default the local guest account).
It creates the ``servidesk_bench`` database if missing, uses exchanges and queues under
a unique ``bench-<hex>.`` prefix and deletes them at the end.

1. Throughput, in alternating rounds so both sides see the same machine: a bare kombu
   loop publishing the same envelopes (persistent, publisher confirms, same exchange and
   queues), then the same number of events written with ``publish()`` (500 per
   transaction) and drained by one relay calling ``Relay.relay_batch`` until the outbox
   is empty (claim, publish confirmed, mark sent). Rates, CPU per event in this process,
   and the relay/bare ratio of each round.
2. Latency: ``manage.py relay_events`` and ``manage.py consume_events`` run as processes
   while ``--writers`` threads here commit one event per transaction, together at
   ``--rate``. Latency is from just after the commit (an ``on_commit`` callback
   registered before ``publish``'s nudge) to the consumer's effect row (stamped with the
   database clock inside the consumer's transaction, a fraction of a millisecond before
   its commit). The first second is left out as warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PREFIX = f"bench-{uuid.uuid4().hex[:8]}."


def setup_django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.events_settings"
    os.environ["BENCH_EVENT_PREFIX"] = PREFIX
    import django  # noqa: PLC0415
    import psycopg  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415

    database = settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"], port=database["PORT"] or 5432, user=database["USER"],
        dbname="postgres", autocommit=True,
    ) as admin:  # fmt: skip
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{database["NAME"]}"')
    django.setup()
    from django.core.management import call_command  # noqa: PLC0415

    call_command("migrate", verbosity=0)


def clean_tables() -> None:
    from django.db import connection  # noqa: PLC0415

    from bench.events_handlers import CREATE, EFFECTS  # noqa: PLC0415

    with connection.cursor() as cursor:
        cursor.execute(CREATE)
        cursor.execute(
            f"TRUNCATE {EFFECTS}, servidesk_outbox_outboxmessage, "
            "servidesk_outbox_inboxentry, servidesk_outbox_aggregatesequence, "
            "servidesk_outbox_projectionversion"
        )


def sample_event(n: int) -> Any:
    from datetime import UTC, datetime  # noqa: PLC0415

    from servidesk_shared.events import schemas  # noqa: PLC0415

    now = datetime.now(tz=UTC)
    return schemas.TicketCreated(
        ticket=schemas.TicketSnapshot(
            id=n, number=f"SD-{n}", title="Printer on fire", description="It is on fire. " * 8,
            status="pending", priority="high", category="hardware", client_id=7,
            assignee_id=None, created_at=now, updated_at=now,
        ),
        actor_id=7,
    )  # fmt: skip


def purge_queues() -> None:
    from servidesk_shared.events import broker  # noqa: PLC0415
    from servidesk_shared.events.topology import Topology  # noqa: PLC0415

    with broker.connection() as conn:
        channel = conn.channel()
        for queue in Topology(PREFIX).queues():
            queue(channel).purge()


def delete_topology() -> None:
    from servidesk_shared.events import broker  # noqa: PLC0415
    from servidesk_shared.events.topology import Topology  # noqa: PLC0415

    topology = Topology(PREFIX)
    with broker.connection() as conn:
        channel = conn.channel()
        for queue in topology.queues():
            channel.queue_delete(queue.name)
        channel.exchange_delete(topology.exchange.name)
        channel.exchange_delete(topology.dead_letter_exchange.name)


# --- 1 and 2: throughput ------------------------------------------------------------------


def bare_kombu(count: int) -> tuple[float, float]:
    """Events/s of a plain confirmed, persistent publish loop on the same topology.

    Also the CPU milliseconds this process spent per event, which the shared machine's
    load hardly moves.
    """
    from kombu import Producer  # noqa: PLC0415

    from servidesk_shared.events import broker  # noqa: PLC0415
    from servidesk_shared.events.envelope import build  # noqa: PLC0415
    from servidesk_shared.events.topology import Topology  # noqa: PLC0415

    topology = Topology(PREFIX)
    bodies = [build(sample_event(n), producer="bench", sequence=1) for n in range(count)]
    with broker.connection() as conn:
        channel = conn.channel()
        topology.declare(channel)
        producer = Producer(channel, exchange=topology.exchange, serializer="json")
        started, cpu = time.perf_counter(), time.process_time()
        for body in bodies:
            producer.publish(
                body, routing_key="ticket.created", delivery_mode=2, message_id=body["id"]
            )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return count / elapsed, cpu * 1000 / count


def relay_throughput(count: int) -> tuple[float, float, float]:
    """Events/s and CPU ms per event of the relay draining ``count`` outbox rows.

    Also the rate at which ``publish()`` wrote them.
    """
    from django.db import transaction  # noqa: PLC0415

    from servidesk_shared.events.publisher import publish  # noqa: PLC0415
    from servidesk_shared.events.relay import Relay  # noqa: PLC0415
    from servidesk_shared.outbox.models import OutboxMessage  # noqa: PLC0415

    events = [sample_event(n) for n in range(count)]
    started = time.perf_counter()
    for start in range(0, count, 500):
        with transaction.atomic():
            for event in events[start : start + 500]:
                publish(event)
    write_rate = count / (time.perf_counter() - started)

    relay = Relay()
    with relay.connect() as conn:
        producer = relay.open(conn)
        started, cpu = time.perf_counter(), time.process_time()
        while relay.relay_batch(producer):
            pass
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert not OutboxMessage.objects.filter(sent_at__isnull=True).exists()
    return count / elapsed, cpu * 1000 / count, write_rate


# --- 3: latency ---------------------------------------------------------------------------


def spawn(command: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.events_worker", command, *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.events_settings"},
    )


def generate(rate: float, seconds: float, offset: float, committed: dict[str, float]) -> None:
    """One "web worker": commits one event per transaction at ``rate``, on its own schedule."""
    from django.db import connection, transaction  # noqa: PLC0415

    from servidesk_shared.events.publisher import publish  # noqa: PLC0415

    try:
        interval = 1 / rate
        started = time.perf_counter() + offset
        for n in range(int(rate * seconds)):
            # A steady rate: each commit at its slot, however long the previous one took.
            delay = started + n * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            stamp: dict[str, float] = {}
            with transaction.atomic():
                # Registered before publish()'s nudge, so it runs first after the commit.
                transaction.on_commit(lambda stamp=stamp: stamp.update(at=time.time()))  # type: ignore[misc]
                event_id = publish(sample_event(n))
            committed[str(event_id)] = stamp["at"]
    finally:
        connection.close()


def wait_until_ready() -> None:
    """One event through the whole pipeline: both processes are up, connected, listening."""
    from django.db import connection, transaction  # noqa: PLC0415

    from bench.events_handlers import EFFECTS  # noqa: PLC0415
    from servidesk_shared.events.publisher import publish  # noqa: PLC0415

    with transaction.atomic():
        probe = publish(sample_event(0))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {EFFECTS} WHERE event_id = %s", [probe])  # noqa: S608
            if cursor.fetchone():
                time.sleep(1)  # let the relay settle into waiting for NOTIFY
                clean_tables()
                return
        time.sleep(0.1)
    raise RuntimeError("relay and consumer did not deliver a probe event within 120 s")


def latency(
    *, rate: float, seconds: float, writers: int, relays: int, consumers: int, relay_threads: int
) -> dict[str, float]:
    from django.db import connection  # noqa: PLC0415

    from bench.events_handlers import EFFECTS  # noqa: PLC0415

    processes = [spawn("relay_events", "--threads", str(relay_threads)) for _ in range(relays)]
    processes += [spawn("consume_events") for _ in range(consumers)]
    try:
        wait_until_ready()
        committed: dict[str, float] = {}
        threads = [
            threading.Thread(target=generate, args=(rate / writers, seconds, n / rate, committed))
            for n in range(writers)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        achieved = len(committed) / (time.perf_counter() - started)

        deadline = time.monotonic() + 30
        applied: dict[str, float] = {}
        while time.monotonic() < deadline and len(applied) < len(committed):
            time.sleep(0.2)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT event_id::text, applied_at FROM {EFFECTS}")  # noqa: S608
                applied = dict(cursor.fetchall())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT event_id::text, extract(epoch FROM sent_at) "
                "FROM servidesk_outbox_outboxmessage WHERE sent_at IS NOT NULL"
            )
            sent = {key: float(at) for key, at in cursor.fetchall()}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)

    first = min(committed.values())
    # The first second is warm-up and is left out.
    kept = [key for key, at in committed.items() if at - first >= 1]
    millis = sorted((applied[key] - committed[key]) * 1000 for key in kept if key in applied)
    quantiles = statistics.quantiles(millis, n=100, method="inclusive")
    # Where the time goes: commit -> marked sent (relay), marked sent -> effect (consumer).
    relay_ms = [(sent[key] - committed[key]) * 1000 for key in kept if key in sent]
    consumer_ms = [
        (applied[key] - sent[key]) * 1000 for key in kept if key in sent and key in applied
    ]
    return {
        "relay_p50": statistics.median(relay_ms),
        "relay_p99": statistics.quantiles(relay_ms, n=100, method="inclusive")[98],
        "consumer_p50": statistics.median(consumer_ms),
        "consumer_p99": statistics.quantiles(consumer_ms, n=100, method="inclusive")[98],
        "events": len(kept),
        "delivered": len(millis),
        "rate": achieved,
        "p50": quantiles[49],
        "p90": quantiles[89],
        "p99": quantiles[98],
        "max": millis[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per throughput round")
    parser.add_argument("--rate", type=float, default=200, help="events/s for the latency run")
    parser.add_argument("--seconds", type=float, default=20, help="length of the latency run")
    parser.add_argument("--writers", type=int, default=4, help="threads committing events")
    parser.add_argument("--rounds", type=int, default=7, help="throughput rounds (median)")
    parser.add_argument("--relays", type=int, default=1, help="relay_events processes")
    parser.add_argument("--relay-threads", type=int, default=2, help="relay threads in each")
    parser.add_argument("--consumers", type=int, default=1, help="consume_events processes")
    parser.add_argument("--skip-throughput", action="store_true", help="latency run only")
    args = parser.parse_args()

    setup_django()
    try:
        clean_tables()
        print(f"topology prefix {PREFIX}; {args.events} events per throughput run")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        bare_kombu(200)  # warm-up: connection, topology, caches
        purge_queues()
        baselines, relays, ratios, writes = [], [], [], []
        bare_cpu, relay_cpu = [], []
        # Alternating rounds: the broker's disk and the cores are shared and noisy, so
        # each relay round is compared with the bare round just before it.
        for _ in range(0 if args.skip_throughput else args.rounds):
            rate, cpu = bare_kombu(args.events)
            baselines.append(rate)
            bare_cpu.append(cpu)
            purge_queues()
            relay, cpu, written = relay_throughput(args.events)
            relays.append(relay)
            relay_cpu.append(cpu)
            ratios.append(relay / baselines[-1])
            writes.append(written)
            purge_queues()
            clean_tables()
        if not args.skip_throughput:
            median = statistics.median
            print(f"bare kombu confirmed publish: {median(baselines):6.0f} events/s, "
                  f"{median(bare_cpu):.2f} ms CPU/event; rounds {fmt(baselines)}")  # fmt: skip
            print(f"outbox relay:                 {median(relays):6.0f} events/s, "
                  f"{median(relay_cpu):.2f} ms CPU/event; rounds {fmt(relays)}")  # fmt: skip
            print(f"relay / bare, per round: median {median(ratios):.0%}; "
                  + " ".join(f"{ratio:.0%}" for ratio in ratios))  # fmt: skip
            print(f"publish() into the outbox:    {median(writes):6.0f} events/s"
                  " (500 per transaction)")  # fmt: skip

        figures = latency(
            rate=args.rate,
            seconds=args.seconds,
            writers=args.writers,
            relays=args.relays,
            consumers=args.consumers,
            relay_threads=args.relay_threads,
        )
        print(
            f"latency at {figures['rate']:.0f} events/s from {args.writers} writers, "
            f"{args.relays} relay_events x {args.relay_threads} relay threads, "
            f"{args.consumers} consume_events, "
            f"{figures['delivered']:.0f} of {figures['events']:.0f} events after warm-up: "
            f"p50 {figures['p50']:.1f} ms, p90 {figures['p90']:.1f} ms, "
            f"p99 {figures['p99']:.1f} ms, max {figures['max']:.1f} ms"
        )
        print(
            f"  commit -> marked sent: p50 {figures['relay_p50']:.1f} ms, "
            f"p99 {figures['relay_p99']:.1f} ms; marked sent -> effect: "
            f"p50 {figures['consumer_p50']:.1f} ms, p99 {figures['consumer_p99']:.1f} ms"
        )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        delete_topology()


def fmt(values: list[float]) -> str:
    return "/".join(f"{value:.0f}" for value in values)


if __name__ == "__main__":
    main()
