"""Webhooks benchmark: notifier's webhook sender to a receiver on loopback.

    cd /work/main && flock /tmp/servidesk-bench.lock .venv/bin/python -m bench.webhooks \
        [--deliveries 3000] [--endpoints 8] [--rate 50 [--rate 20 ...]] [--seconds 60] \
        [--down refused|blackhole] [--write [--note "how to read it"]]

Needs PostgreSQL and RabbitMQ (``BENCH_BROKER_URL``, default the local guest account).
It recreates the ``servidesk_bench_webhooks`` database, uses exchanges and queues under a
unique ``bench-webhooks-<hex>.`` prefix (deleted at the end) and runs the real processes
of notifier: ``manage.py relay_events``, ``consume_events`` and ``send_webhooks`` (its
default 8 threads; ``BENCH_WEBHOOK_THREADS``), with the production webhook settings
(10 s timeout, retries from 10 s) and ``WEBHOOK_ALLOW_PRIVATE`` on. The receiver runs in
a child process: an asyncio HTTP/1.1 server that answers 204 at once and notes each
request's event id, ``X-Servidesk-Delivery`` and arrival time.

This process plays the tickets service: each event is a ``ticket.status_changed`` written
with ``publish()`` in its own transaction (500 tickets in turn, so each ticket has a line
of events whose order the sender keeps). Latency is from just after that commit (a stamp
taken here, not the event's ``occurred_at``, which ``publish()`` sets before the commit)
to the receiver reading the request; both stamps come from the same host clock.

1. Sender alone, one endpoint: with ``send_webhooks`` stopped, ``--deliveries`` events
   recorded for one endpoint; then the sender is started and the deliveries received per
   second between the first and the last one. Each endpoint has one request in flight at
   a time (docs/webhooks.md), so this is one endpoint's ceiling.
2. Sender alone, ``--endpoints`` endpoints (all on the receiver) subscribed to the same
   events: ``--deliveries`` deliveries in all, the sender's own ceiling.
3. Latency: one live endpoint and one down (``--down``: ``refused``, a port nothing
   listens on; ``blackhole``, a server that accepts and never answers, so every try waits
   out the 10 s timeout), both subscribed to every event; ``--rate`` events per second for
   ``--seconds``; p50/p90/p99/max from commit to the receiver, and its two stages (commit
   → delivery recorded by the consumer, recorded → received).

``--write`` replaces the webhooks region of ``docs/benchmarks.md`` (between
``<!-- webhooks-bench:start -->`` and ``<!-- webhooks-bench:end -->``) with this run, and
keeps the run that was newest there before as a short "earlier run".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.notifier_pipeline import Meter, create_contacts, earlier_run, summary

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "services" / "notifier"
LOGS = ROOT / "var" / "bench"
PREFIX = f"bench-webhooks-{uuid.uuid4().hex[:8]}."
TICKETS = 500
DOCS = ROOT / "docs" / "benchmarks.md"
REGION_START, REGION_END = "<!-- webhooks-bench:start -->", "<!-- webhooks-bench:end -->"
AIM_THROUGHPUT, AIM_RATE, AIM_P99 = 200.0, 50.0, 1000.0
STATUSES = ("pending", "in_progress", "waiting", "in_progress")


def environment() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.webhooks_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(SERVICE)]),
        "BENCH_EVENT_PREFIX": PREFIX,
    }


def setup_django() -> None:
    os.environ.update(environment())
    sys.path[:0] = [str(ROOT), str(SERVICE)]
    import django  # noqa: PLC0415
    import psycopg  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415

    database = settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database["NAME"]}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database["NAME"]}"')
    django.setup()
    from django.core.management import call_command  # noqa: PLC0415

    call_command("migrate", verbosity=0)


def status_event(n: int) -> Any:
    """The ``n``-th status change: ticket ``1 + n % TICKETS``, moving along ``STATUSES``."""
    from servidesk_shared.events.schemas import (  # noqa: PLC0415
        TicketSnapshot,
        TicketStatusChanged,
    )

    ticket_id = 1 + n % TICKETS
    turn = n // TICKETS
    before, after = STATUSES[turn % 4], STATUSES[(turn + 1) % 4]
    now = datetime.now(tz=UTC)
    ticket = TicketSnapshot(
        id=ticket_id,
        number=f"SD-{ticket_id}",
        title=f"Benchmark ticket {ticket_id}: la impresora no imprime",
        description="...",
        status=after,
        priority="medium",
        category="hardware",
        client_id=1 + ticket_id % 200,
        assignee_id=10_001 + ticket_id % 20,
        created_at=now,
        updated_at=now,
    )
    return TicketStatusChanged(ticket=ticket, actor_id=99_999, from_status=before, to_status=after)


class Producer:
    """Commits events like the tickets service and remembers when each one committed."""

    def __init__(self) -> None:
        self.committed: dict[str, float] = {}
        self.next = 0

    def commit(self, count: int = 1) -> None:
        from django.db import transaction  # noqa: PLC0415

        from servidesk_shared.events.publisher import publish  # noqa: PLC0415

        ids = []
        with transaction.atomic():
            for _ in range(count):
                ids.append(str(publish(status_event(self.next))))
                self.next += 1
        now = time.time()
        for event_id in ids:
            self.committed[event_id] = now


# --- the receiver (a child process) -----------------------------------------------------


def _serve(live_port: int, hole_port: int, count: Any, pipe: Any) -> None:
    asyncio.run(_receive(live_port, hole_port, count, pipe))


async def _receive(live_port: int, hole_port: int, count: Any, pipe: Any) -> None:
    seen: list[tuple[str, str, float]] = []
    held: list[asyncio.StreamWriter] = []

    async def live(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.time()
                event_id = json.loads(body)["id"]
                seen.append((event_id, headers.get("x-servidesk-delivery", ""), arrived))
                count.value = len(seen)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing: the client times out
        await reader.read()

    servers = [
        await asyncio.start_server(live, "127.0.0.1", live_port, backlog=1024),
        await asyncio.start_server(black_hole, "127.0.0.1", hole_port, backlog=1024),
    ]
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    while True:
        ready = await loop.run_in_executor(None, pipe.poll, 0.2)
        if not ready:
            continue
        command = pipe.recv()
        if command == "dump":
            pipe.send(list(seen))
        elif command == "clear":
            seen.clear()
            count.value = 0
            pipe.send("ok")
        elif command == "stop":
            for server in servers:
                server.close()
            return


class Receiver:
    """The receiver in a process of its own, so it neither slows nor is slowed by this one.
    ``live_url`` answers 204; ``hole_url`` never answers; ``refused_url`` has no server."""

    def __init__(self) -> None:
        live, hole = free_port(), free_port()
        self.live_url = f"http://127.0.0.1:{live}/servidesk"
        self.hole_url = f"http://127.0.0.1:{hole}/servidesk"
        self.refused_url = f"http://127.0.0.1:{free_port()}/servidesk"
        self.count = multiprocessing.Value("l", 0)
        self.parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(
            target=_serve, args=(live, hole, self.count, child), daemon=True
        )
        self.process.start()
        if not self.parent.poll(30):
            raise SystemExit("the receiver did not start")
        self.parent.recv()

    def received(self) -> int:
        return int(self.count.value)

    def requests(self) -> list[tuple[str, str, float]]:
        """``(event id, X-Servidesk-Delivery, received at)`` of every request so far."""
        self.parent.send("dump")
        return list(self.parent.recv())

    def clear(self) -> None:
        self.parent.send("clear")
        self.parent.recv()

    def stop(self) -> None:
        self.parent.send("stop")
        self.process.join(10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- processes and endpoints ------------------------------------------------------------


def spawn(name: str, args: list[str]) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"webhooks-{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=SERVICE,
        env=environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def endpoints(*urls: str) -> list[int]:
    """Only these endpoints active from now on (the earlier ones switched off and their
    queues dropped), subscribed to every event."""
    from notifications.models import Webhook, WebhookDelivery  # noqa: PLC0415
    from notifications.webhooks import services  # noqa: PLC0415

    WebhookDelivery.objects.all().delete()
    Webhook.objects.update(active=False)
    return [
        services.webhook_create(url=url, events=["*"], active=True, created_by="bench").pk
        for url in urls
    ]


def queued() -> int:
    from notifications.models import WebhookDelivery  # noqa: PLC0415

    return WebhookDelivery.objects.filter(status="queued").count()


def wait_for(receiver: Receiver, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while receiver.received() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {receiver.received()} of {count} requests came in {timeout}s")
        time.sleep(0.05)


def drain_rate(
    receiver: Receiver, hooks: int, events: int, sender: list[subprocess.Popen[bytes]]
) -> dict[str, Any]:
    """Record ``events`` times ``hooks`` deliveries with the sender stopped, start it and time
    the receiver between its first and last request."""
    producer = Producer()
    for _ in range(events // 100):
        producer.commit(100)
    if events % 100:
        producer.commit(events % 100)
    total = events * hooks
    deadline = time.monotonic() + 600
    while queued() < total:
        if time.monotonic() > deadline:
            raise SystemExit("the consumer did not record the deliveries in time")
        time.sleep(0.1)
    receiver.clear()
    sender[0] = spawn("sender", ["send_webhooks"])
    wait_for(receiver, 1, timeout=120)
    meter = Meter({"send_webhooks": sender[0].pid})
    wait_for(receiver, total, timeout=900)
    cpu = meter.per_mail(total - 1)
    stop(sender[0])
    requests = receiver.requests()
    times = sorted(at for _, _, at in requests)
    unique = len({delivery for _, delivery, _ in requests})
    return {
        "endpoints": hooks,
        "deliveries": total,
        "unique": unique,
        "seconds": times[-1] - times[0],
        "per_second": (total - 1) / (times[-1] - times[0]),
        "cpu_ms": cpu["cpu_ms_per_mail"],
        "other_cores": cpu["other_cores"],
    }


def latency_run(
    receiver: Receiver, producer: Producer, rate: float, seconds: float, pids: dict[str, int]
) -> dict[str, Any]:
    from notifications.models import WebhookDelivery  # noqa: PLC0415

    receiver.clear()
    producer.committed.clear()
    total = int(rate * seconds)
    meter = Meter(pids)
    begin = time.monotonic()
    for n in range(total):
        delay = begin + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        producer.commit()
    achieved = total / (time.monotonic() - begin)
    wait_for(receiver, total, timeout=600)
    cpu = meter.per_mail(total)
    requests = receiver.requests()
    first: dict[str, float] = {}
    for event_id, _, at in requests:
        first.setdefault(event_id, at)
    millis = [(at - producer.committed[e]) * 1000 for e, at in first.items()]
    live_hook, down_hook = pids["_live_hook"], pids["_down_hook"]
    recorded = dict(
        WebhookDelivery.objects.filter(webhook_id=live_hook).values_list("event_id", "created_at")
    )
    record, send = [], []
    for event_id, at in first.items():
        stamp = recorded[uuid.UUID(event_id)].timestamp()
        record.append((stamp - producer.committed[event_id]) * 1000)
        send.append((at - stamp) * 1000)
    down = WebhookDelivery.objects.filter(webhook_id=down_hook)
    return {
        "rate": rate,
        "achieved": achieved,
        "seconds": seconds,
        "duplicates": len(requests) - len({d for _, d, _ in requests}),
        **summary(millis),
        "record": summary(record),
        "send": summary(send),
        "down_recorded": down.count(),
        "down_attempts": sum(down.values_list("attempts", flat=True)),
        "cpu_ms": cpu["cpu_ms_per_mail"],
        "other_cores": cpu["other_cores"],
    }


def delete_topology() -> None:
    from django.conf import settings  # noqa: PLC0415
    from kombu import Connection  # noqa: PLC0415

    from servidesk_shared.events.topology import Topology  # noqa: PLC0415

    topology = Topology(PREFIX)
    with Connection(settings.BROKER_URL) as conn:
        channel = conn.channel()
        for queue in topology.queues():
            channel.queue_delete(queue.name)
        channel.exchange_delete(topology.exchange.name)
        channel.exchange_delete(topology.dead_letter_exchange.name)


def main() -> None:  # noqa: PLR0915 (one linear script)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--endpoints", type=int, default=8)
    parser.add_argument(
        "--rate", type=float, action="append", help="events/s of a latency run (repeatable)"
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--down", choices=["refused", "blackhole"], default="refused")
    parser.add_argument("--write", action="store_true", help="put this run in docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a paragraph on how to read this run")
    options = parser.parse_args()
    options.rate = options.rate or [AIM_RATE]

    receiver = Receiver()
    setup_django()
    create_contacts()
    processes = {
        "relay": spawn("relay", ["relay_events"]),
        "consumer": spawn("consumer", ["consume_events"]),
    }
    sender: list[subprocess.Popen[bytes]] = [spawn("sender", ["send_webhooks"])]
    results: dict[str, Any] = {"load_before": os.getloadavg()}
    try:
        # Warm up: every process connected, topology declared, first requests through.
        endpoints(receiver.live_url)
        Producer().commit(5)
        wait_for(receiver, 5, timeout=90)
        stop(sender[0])

        print(f"1. sender alone, one endpoint: {options.deliveries} deliveries ...", flush=True)
        endpoints(receiver.live_url)
        results["one"] = drain_rate(receiver, 1, options.deliveries, sender)
        hooks = options.endpoints
        print(f"2. sender alone, {hooks} endpoints: {options.deliveries} ...", flush=True)
        endpoints(*[f"{receiver.live_url}/{n}" for n in range(hooks)])
        results["many"] = drain_rate(receiver, hooks, options.deliveries // hooks, sender)

        down_url = receiver.refused_url if options.down == "refused" else receiver.hole_url
        sender[0] = spawn("sender", ["send_webhooks"])
        pids = {name: p.pid for name, p in processes.items()}
        pids |= {"send_webhooks": sender[0].pid, "receiver": receiver.process.pid or 0}
        pids["producer"] = os.getpid()
        results["latency"] = []
        for rate in options.rate:
            # Fresh endpoints each time: the one down starts without a backlog.
            live_hook, down_hook = endpoints(receiver.live_url, down_url)
            producer = Producer()
            receiver.clear()
            producer.commit()
            wait_for(receiver, 1, timeout=90)
            print(
                f"3. latency: {rate:g} events/s for {options.seconds:g} s, "
                f"one endpoint {options.down} ...",
                flush=True,
            )
            hooks_ids = {"_live_hook": live_hook, "_down_hook": down_hook}
            results["latency"].append(
                latency_run(receiver, producer, rate, options.seconds, {**pids, **hooks_ids})
            )
    finally:
        for process in [*processes.values(), *sender]:
            stop(process)
        receiver.stop()
        delete_topology()

    report = render(results, options)
    print(report)
    if options.write:
        DOCS.write_text(with_region(DOCS.read_text(), report))
        print(f"written to {DOCS.relative_to(ROOT)}")


def with_region(document: str, report: str) -> str:
    """``document`` with its webhooks region holding ``report`` and, summarised, the run
    that was newest there before."""
    start, end = document.find(REGION_START), document.find(REGION_END)
    if start < 0 or end < start:
        return document.rstrip("\n") + f"\n\n{REGION_START}\n{report}\n{REGION_END}\n"
    parts = [report.rstrip("\n")]
    previous = earlier_run(document[start + len(REGION_START) : end])
    if previous:
        parts.append(previous)
    body = "\n\n".join(parts)
    before, after = document[:start], document[end + len(REGION_END) :]
    return f"{before}{REGION_START}\n{body}\n\n{REGION_END}{after}"


def cpu_text(cpu_ms: dict[str, float]) -> str:
    shown = {name: ms for name, ms in cpu_ms.items() if not name.startswith("_")}
    text = ", ".join(f"{name} {ms:.2f}" for name, ms in shown.items())
    return text + f"; all of these {sum(shown.values()):.2f}"


def verdict(results: dict[str, Any]) -> str:
    best = max(results["one"]["per_second"], results["many"]["per_second"])
    at_aim = [lat for lat in results["latency"] if lat["rate"] == AIM_RATE]
    met_rate = best >= AIM_THROUGHPUT
    lines = [
        f"- at least {AIM_THROUGHPUT:.0f} deliveries/s: "
        + ("**met**" if met_rate else "**not met**")
        + f" (one endpoint {results['one']['per_second']:.0f}/s, "
        f"{results['many']['endpoints']} endpoints {results['many']['per_second']:.0f}/s)"
    ]
    if not at_aim:
        return "\n".join([*lines, f"- p99 at {AIM_RATE:.0f} events/s: not measured in this run"])
    lat = at_aim[0]
    met_p99 = lat["p99"] < AIM_P99 and lat["achieved"] >= 0.95 * AIM_RATE
    return "\n".join(
        [
            lines[0],
            f"- p99 under {AIM_P99:.0f} ms at {AIM_RATE:.0f} events/s with an endpoint down: "
            + ("**met**" if met_p99 else "**not met**")
            + f" (p99 {lat['p99']:.0f} ms, {lat['achieved']:.1f} events/s achieved)",
        ]
    )


def render(results: dict[str, Any], options: argparse.Namespace) -> str:
    one, many = results["one"], results["many"]
    load = ", ".join(f"{value:.1f}" for value in results["load_before"])
    after = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    command = (
        "flock /tmp/servidesk-bench.lock .venv/bin/python -m bench.webhooks "
        f"--deliveries {options.deliveries} --endpoints {options.endpoints} "
        + " ".join(f"--rate {rate:g}" for rate in options.rate)
        + f" --seconds {options.seconds:g} --down {options.down}"
    )
    down = (
        "refusing connections (nothing listens on its port)"
        if options.down == "refused"
        else "a black hole (accepts, never answers: every try waits out the 10 s timeout)"
    )
    rows = [
        (
            f"sender alone, one endpoint ({one['deliveries']} deliveries)",
            f"**{one['per_second']:.0f} deliveries/s** ({one['seconds']:.1f} s, "
            f"{one['unique']} unique); CPU ms per delivery: {cpu_text(one['cpu_ms'])}; "
            f"other work kept {one['other_cores']:.1f} of {os.cpu_count()} cores busy",
        ),
        (
            f"sender alone, {many['endpoints']} endpoints ({many['deliveries']} deliveries)",
            f"**{many['per_second']:.0f} deliveries/s** ({many['seconds']:.1f} s, "
            f"{many['unique']} unique); CPU ms per delivery: {cpu_text(many['cpu_ms'])}; "
            f"other work kept {many['other_cores']:.1f} of {os.cpu_count()} cores busy",
        ),
    ]
    for lat in results["latency"]:
        rows += [
            (
                f"commit → received at {lat['rate']:g} events/s for {lat['seconds']:g} s "
                f"({lat['achieved']:.1f} achieved, {lat['count']} events), one endpoint down",
                f"p50 **{lat['p50']:.0f} ms**, p90 {lat['p90']:.0f} ms, "
                f"p99 **{lat['p99']:.0f} ms**, max {lat['max']:.0f} ms; "
                f"{lat['duplicates']} duplicates",
            ),
            (
                "its stages",
                f"commit → recorded by the consumer p50 {lat['record']['p50']:.0f} / p99 "
                f"{lat['record']['p99']:.0f} ms; recorded → received p50 "
                f"{lat['send']['p50']:.0f} / p99 {lat['send']['p99']:.0f} ms",
            ),
            (
                "the endpoint down meanwhile",
                f"{lat['down_recorded']} deliveries recorded, {lat['down_attempts']} tries made",
            ),
            (
                f"CPU ms per event at {lat['rate']:g} events/s",
                f"{cpu_text(lat['cpu_ms'])}; other work kept {lat['other_cores']:.1f} of "
                f"{os.cpu_count()} cores busy",
            ),
        ]
    table = "\n".join(f"| {measure} | {result} |" for measure, result in rows)
    note = f"\n{options.note.strip()}\n" if options.note.strip() else ""
    return f"""## Webhooks: notifier's sender → a receiver on loopback

{datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC, {describe()}, load average (1, 5, 15 min)
before the run {load}, after it {after}.
PostgreSQL and RabbitMQ on loopback; notifier's processes `relay_events`,
`consume_events` and `send_webhooks` (8 threads) with the production webhook settings; the
receiver (`bench/webhooks.py`) an asyncio HTTP/1.1 server in a process of its own that
answers 204 at once. Latency is from the tickets-side commit of the event (a stamp taken
just after it, not `occurred_at`, which is set before the commit) to the receiver reading
the request. The endpoint down in the latency run is {down}, subscribed to the same
events.

```
{command}
```

| measure | result |
|---|---|
{table}

Aims of issue 20 in this run:

{verdict(results)}
{note}"""


if __name__ == "__main__":
    main()
