"""Notifier benchmark: ticket change commit → mail accepted by a local SMTP server.

    cd /work/main && flock /tmp/servidesk-bench.lock .venv/bin/python -m bench.notifier_pipeline \
        [--events 3000] [--rate 100 [--rate 20 ...]] [--seconds 30] [--threads 1] \
        [--senders 1] [--write [--note "how to read it"]]

Needs PostgreSQL and RabbitMQ (``BENCH_BROKER_URL``, default the local guest account).
It recreates the ``servidesk_bench_notifier`` database, uses exchanges and queues under a
unique ``bench-notifier-<hex>.`` prefix (deleted at the end) and runs the real processes:
``manage.py relay_events``, ``consume_events`` and ``--senders`` copies of
``send_notifications --channel email --threads N``, with an SMTP server in a child process:
aiosmtpd that only notes each mail's ``X-Servidesk-Event`` header and arrival time
(``bench/notifier_smtp.py``).

This process plays the tickets service: each ticket event is written with ``publish()``
in its own transaction, as a status change seen by two people (client and assignee, the
actor being a third), so every event makes two mails. Latency is from just after that
commit to the SMTP server accepting the mail's DATA, matched by the ``X-Servidesk-Event``
header; both stamps come from the same host clock.

1. Throughput: ``--events`` events committed as fast as one connection can, then the
   time until the last mail is accepted: notifications per second, end to end.
2. Sender alone: with the sender stopped, the same number queued; then the sender is
   started and the mails accepted per second between the first and the last one.
3. Latency: ``--rate`` events per second (each rate given) for ``--seconds``,
   p50/p90/p99/max.

``--write`` replaces the notifier region of ``docs/benchmarks.md`` (between
``<!-- notifier-bench:start -->`` and ``<!-- notifier-bench:end -->``) with this run, and
keeps the run that was newest there before as a short "earlier run" (its date, load,
command and table); older ones are dropped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import busy_seconds, describe
from bench.machine import process_cpu_seconds as cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "services" / "notifier"
LOGS = ROOT / "var" / "bench"
PREFIX = f"bench-notifier-{uuid.uuid4().hex[:8]}."
CLIENTS, TECHNICIANS = 200, 20
DOCS = ROOT / "docs" / "benchmarks.md"
REGION_START, REGION_END = "<!-- notifier-bench:start -->", "<!-- notifier-bench:end -->"
AIM_THROUGHPUT, AIM_RATE, AIM_P99 = 300.0, 100.0, 250.0


def environment(smtp_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.notifier_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(SERVICE)]),
        "BENCH_EVENT_PREFIX": PREFIX,
        "BENCH_SMTP_PORT": str(smtp_port),
    }


def setup_django(smtp_port: int) -> None:
    os.environ.update(environment(smtp_port))
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


def create_contacts() -> None:
    from notifications.models import Contact  # noqa: PLC0415

    people = [
        Contact(
            user_id=str(n),
            username=f"client{n}",
            full_name=f"Client {n}",
            email=f"client{n}@example.com",
            role="client",
            language="es" if n % 2 else "en",
            notify_sms=False,
            email_verified=True,
        )
        for n in range(1, CLIENTS + 1)
    ] + [
        Contact(
            user_id=str(10_000 + n),
            username=f"tech{n}",
            full_name=f"Tech {n}",
            email=f"tech{n}@example.com",
            role="technician",
            language="en",
            notify_sms=False,
            email_verified=True,
        )
        for n in range(1, TECHNICIANS + 1)
    ]
    Contact.objects.bulk_create(people)


def ticket_event(n: int) -> Any:
    from servidesk_shared.events.schemas import (  # noqa: PLC0415
        TicketSnapshot,
        TicketStatusChanged,
    )

    now = datetime.now(tz=UTC)
    ticket = TicketSnapshot(
        id=n,
        number=f"SD-{n}",
        title=f"Benchmark ticket {n}: la impresora no imprime",
        description="...",
        status="in_progress",
        priority="medium",
        category="hardware",
        client_id=1 + n % CLIENTS,
        assignee_id=10_001 + n % TECHNICIANS,
        created_at=now,
        updated_at=now,
    )
    return TicketStatusChanged(
        ticket=ticket, actor_id=99_999, from_status="pending", to_status="in_progress"
    )


class Producer:
    """Commits ticket events like the tickets service and remembers when each committed."""

    def __init__(self) -> None:
        self.committed: dict[str, float] = {}
        self.next = 1

    def commit(self, count: int = 1) -> None:
        from django.db import transaction  # noqa: PLC0415

        from servidesk_shared.events.publisher import publish  # noqa: PLC0415

        ids = []
        with transaction.atomic():
            for _ in range(count):
                ids.append(str(publish(ticket_event(self.next))))
                self.next += 1
        now = time.time()
        for event_id in ids:
            self.committed[event_id] = now


def backend_pids() -> list[int]:
    """The PostgreSQL backends serving the benchmark's database (every process's)."""
    from django.db import connection  # noqa: PLC0415

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_type = 'client backend'"
        )
        return [int(pid) for (pid,) in cursor.fetchall()]


class Meter:
    """CPU over a phase: each named process, the database's backends (``postgres``), and
    the cores the rest of the machine kept busy (other people's work, and RabbitMQ)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self.processes = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.backends = {pid: cpu_seconds(pid) for pid in backend_pids()}
        self.busy = busy_seconds()
        self.wall = time.monotonic()

    def per_mail(self, mails: int) -> dict[str, Any]:
        """CPU ms per mail by process, ``postgres`` among them, and ``other_cores``."""
        used = {name: cpu_seconds(pid) - self.processes[name] for name, pid in self.pids.items()}
        # A backend that connected during the phase counts from zero.
        used["postgres"] = sum(
            cpu_seconds(pid) - self.backends.get(pid, 0.0) for pid in backend_pids()
        )
        wall = time.monotonic() - self.wall
        other = busy_seconds() - self.busy - sum(used.values())
        return {
            "cpu_ms_per_mail": {name: seconds * 1000 / mails for name, seconds in used.items()},
            "other_cores": max(0.0, other / wall) if wall > 0 else 0.0,
        }


def spawn(name: str, args: list[str], smtp_port: int) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"notifier-{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=SERVICE,
        env=environment(smtp_port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class SmtpSink:
    """The SMTP server in a process of its own, so it neither slows nor is slowed by this one.

    It reports how many mails it accepted, and on request each one's event id and time.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.count = multiprocessing.Value("l", 0)
        self.parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(
            target=_serve_smtp, args=(self.port, self.count, child), daemon=True
        )
        self.process.start()
        if not self.parent.poll(30):
            raise SystemExit("the SMTP server did not start")
        self.parent.recv()

    def accepted(self) -> int:
        return int(self.count.value)

    def mails(self) -> list[tuple[str, float]]:
        """``(X-Servidesk-Event, accepted at)`` of every mail so far."""
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


def _serve_smtp(port: int, count: Any, pipe: Any) -> None:
    from bench.notifier_smtp import CountingSmtpServer  # noqa: PLC0415

    smtp = CountingSmtpServer("127.0.0.1", port)
    smtp.start()
    pipe.send("ready")
    while True:
        if pipe.poll(0.02):
            command = pipe.recv()
            if command == "dump":
                pipe.send(smtp.mails())
            elif command == "clear":
                smtp.clear()
                count.value = 0
                pipe.send("ok")
            elif command == "stop":
                smtp.stop()
                return
        count.value = smtp.count()


def wait_for_mails(smtp: SmtpSink, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while smtp.accepted() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {smtp.accepted()} of {count} mails arrived in {timeout}s")
        time.sleep(0.05)


def latencies(smtp: SmtpSink, producer: Producer) -> list[float]:
    millis = []
    for event_id, accepted_at in smtp.mails():
        committed = producer.committed.get(event_id)
        if committed is not None:
            millis.append((accepted_at - committed) * 1000)
    return millis


def stages(smtp: SmtpSink, producer: Producer) -> dict[str, float]:
    """p50/p99 of commit → delivery recorded by the consumer, and recorded → accepted."""
    from notifications.models import Delivery  # noqa: PLC0415

    accepted: dict[str, list[float]] = {}
    for event_id, accepted_at in smtp.mails():
        accepted.setdefault(event_id, []).append(accepted_at)
    recorded = dict(
        Delivery.objects.filter(event_id__in=list(accepted), channel="email")
        .values_list("event_id", "created_at")
        .distinct()
    )
    first, second = [], []
    for event_id, times in accepted.items():
        committed = producer.committed.get(event_id)
        stamp = recorded.get(uuid.UUID(event_id))
        if committed is None or stamp is None:
            continue
        first.append((stamp.timestamp() - committed) * 1000)
        second += [(at - stamp.timestamp()) * 1000 for at in times]
    a, b = summary(first), summary(second)
    return {
        "record_p50": a["p50"],
        "record_p99": a["p99"],
        "send_p50": b["p50"],
        "send_p99": b["p99"],
    }


def summary(millis: Iterable[float]) -> dict[str, float]:
    values = sorted(millis)
    quantiles = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "count": len(values),
        "p50": quantiles[49],
        "p90": quantiles[89],
        "p99": quantiles[98],
        "max": values[-1],
    }


def queued_deliveries() -> int:
    from notifications.models import Delivery  # noqa: PLC0415

    return Delivery.objects.filter(status="queued").count()


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
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument(
        "--rate", type=float, action="append", help="events/s of a latency run (repeatable)"
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1, help="threads per sender process")
    parser.add_argument("--senders", type=int, default=1, help="sender processes")
    parser.add_argument("--write", action="store_true", help="put this run in docs/benchmarks.md")
    parser.add_argument("--note", default="", help="a paragraph on how to read this run")
    options = parser.parse_args()
    options.rate = options.rate or [100.0]

    smtp = SmtpSink()
    setup_django(smtp.port)
    create_contacts()
    producer = Producer()
    sender_args = ["send_notifications", "--channel", "email", "--threads", str(options.threads)]
    senders = [f"sender{n}" if options.senders > 1 else "sender" for n in range(options.senders)]
    processes = {
        "relay": spawn("relay", ["relay_events"], smtp.port),
        "consumer": spawn("consumer", ["consume_events"], smtp.port),
        **{name: spawn(name, sender_args, smtp.port) for name in senders},
    }
    results: dict[str, Any] = {"load_before": os.getloadavg()}
    try:
        # Warm up: every process connected, topology declared, first mails through.
        producer.commit(5)
        wait_for_mails(smtp, 10, timeout=60)
        smtp.clear()
        producer.committed.clear()

        # 1. Throughput, end to end.
        print(f"1. throughput: {options.events} events ...", flush=True)
        pids = {name: process.pid for name, process in processes.items()}
        pids["smtp"] = smtp.process.pid or 0
        pids["producer"] = os.getpid()
        meter = Meter(pids)
        started = time.time()
        remaining = options.events
        while remaining:
            batch = min(100, remaining)
            producer.commit(batch)
            remaining -= batch
        committed = time.time()
        wait_for_mails(smtp, 2 * options.events, timeout=600)
        last = max(accepted_at for _, accepted_at in smtp.mails())
        results["throughput"] = {
            "events": options.events,
            "mails": 2 * options.events,
            "commit_seconds": committed - started,
            "seconds": last - started,
            "per_second": 2 * options.events / (last - started),
            **meter.per_mail(2 * options.events),
        }
        smtp.clear()
        producer.committed.clear()

        # 2. The sender alone, draining a queue of ready deliveries.
        print(f"2. sender alone: {2 * options.events} queued mails ...", flush=True)
        for name in senders:
            stop(processes[name])
        for _ in range(options.events // 100):
            producer.commit(100)
        deadline = time.monotonic() + 600
        while queued_deliveries() < 2 * (options.events // 100) * 100:
            if time.monotonic() > deadline:
                raise SystemExit("the consumer did not record the deliveries in time")
            time.sleep(0.1)
        queued = queued_deliveries()
        for name in senders:
            processes[name] = spawn(name, sender_args, smtp.port)
        # CPU from the first mail on, so that the senders' start-up is not counted.
        wait_for_mails(smtp, 1, timeout=120)
        draining = {name: processes[name].pid for name in senders} | {"smtp": pids["smtp"]}
        meter = Meter(draining)
        wait_for_mails(smtp, queued, timeout=600)
        times = sorted(accepted_at for _, accepted_at in smtp.mails())
        results["sender"] = {
            "mails": queued,
            "seconds": times[-1] - times[0],
            "per_second": (queued - 1) / (times[-1] - times[0]),
            **meter.per_mail(queued - 1),
        }
        smtp.clear()
        producer.committed.clear()

        # 3. Latency at steady rates.
        results["latency"] = []
        for rate in options.rate:
            smtp.clear()
            producer.committed.clear()
            total = int(rate * options.seconds)
            print(f"3. latency: {rate:g} events/s for {options.seconds:g}s ...", flush=True)
            pids |= {name: processes[name].pid for name in senders}
            meter = Meter(pids)
            begin = time.monotonic()
            for n in range(total):
                delay = begin + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                producer.commit()
            achieved = total / (time.monotonic() - begin)
            wait_for_mails(smtp, 2 * total, timeout=600)
            cpu = meter.per_mail(2 * total)
            results["latency"].append(
                {
                    "rate": rate,
                    "achieved": achieved,
                    "seconds": options.seconds,
                    **summary(latencies(smtp, producer)),
                    **stages(smtp, producer),
                    **cpu,
                }
            )
    finally:
        for process in processes.values():
            stop(process)
        smtp.stop()
        delete_topology()

    report = render(results, options)
    print(report)
    if options.write:
        DOCS.write_text(with_run(DOCS.read_text(), report))
        print(f"written to {DOCS.relative_to(ROOT)}")


def verdict(results: dict[str, Any]) -> str:
    """Which of issue 6's aims this run meets, from its own figures."""
    per_second = results["throughput"]["per_second"]
    lines = [
        f"- at least {AIM_THROUGHPUT:.0f} notifications/s end to end: "
        + ("**met**" if per_second >= AIM_THROUGHPUT else "**not met**")
        + f" ({per_second:.0f}/s)"
    ]
    at_aim = [lat for lat in results["latency"] if lat["rate"] == AIM_RATE]
    if at_aim:
        lat = at_aim[0]
        met = lat["p99"] < AIM_P99 and lat["achieved"] >= 0.95 * AIM_RATE
        lines.append(
            f"- p99 under {AIM_P99:.0f} ms at {AIM_RATE:.0f} events/s: "
            + ("**met**" if met else "**not met**")
            + f" (p99 {lat['p99']:.0f} ms, {lat['achieved']:.1f} events/s achieved)"
        )
    else:
        lines.append(f"- p99 at {AIM_RATE:.0f} events/s: not measured in this run")
    return "\n".join(lines)


def cpu_text(cpu_ms_per_mail: dict[str, float]) -> str:
    """``relay 0.16, ..., postgres 0.90; all of these 3.96 (3.06 without postgres)``."""
    text = ", ".join(f"{name} {ms:.2f}" for name, ms in cpu_ms_per_mail.items())
    total = sum(cpu_ms_per_mail.values())
    text += f"; all of these {total:.2f}"
    if "postgres" in cpu_ms_per_mail:
        text += f" ({total - cpu_ms_per_mail['postgres']:.2f} without postgres)"
    return text


def other_work(phase: dict[str, Any]) -> str:
    return (
        f"other work (the rest of the machine, RabbitMQ included) kept "
        f"{phase['other_cores']:.1f} of {os.cpu_count()} cores busy"
    )


def render(results: dict[str, Any], options: argparse.Namespace) -> str:
    t, s = results["throughput"], results["sender"]
    machine = describe()
    load = ", ".join(f"{value:.1f}" for value in results["load_before"])
    after = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    rates = " ".join(f"--rate {rate:g}" for rate in options.rate)
    command = (
        f"flock /tmp/servidesk-bench.lock .venv/bin/python -m bench.notifier_pipeline "
        f"--events {options.events} {rates} --seconds {options.seconds:g} "
        f"--threads {options.threads} --senders {options.senders}"
    )
    rows = [
        (
            f"throughput, end to end ({t['events']} events → {t['mails']} mails)",
            f"**{t['per_second']:.0f} notifications/s** ({t['seconds']:.1f} s; "
            f"events committed in {t['commit_seconds']:.1f} s); {other_work(t)}",
        ),
        (
            f"sender alone (draining {s['mails']} queued mails)",
            f"**{s['per_second']:.0f} mails/s**; CPU ms per mail: "
            f"{cpu_text(s['cpu_ms_per_mail'])}; {other_work(s)}",
        ),
    ]
    rows += [
        (
            f"latency at {lat['rate']:g} events/s ({lat['achieved']:.1f} achieved, "
            f"{lat['count']} mails)",
            f"p50 **{lat['p50']:.0f} ms**, p90 {lat['p90']:.0f} ms, "
            f"p99 **{lat['p99']:.0f} ms**, max {lat['max']:.0f} ms; commit → recorded by the "
            f"consumer p50 {lat['record_p50']:.0f} / p99 {lat['record_p99']:.0f} ms, recorded → "
            f"accepted p50 {lat['send_p50']:.0f} / p99 {lat['send_p99']:.0f} ms; CPU ms per "
            f"mail: {cpu_text(lat['cpu_ms_per_mail'])}; {other_work(lat)}",
        )
        for lat in results["latency"]
    ]
    rows.append(("CPU per mail in phase 1, ms by process", cpu_text(t["cpu_ms_per_mail"])))
    table = "\n".join(f"| {measure} | {result} |" for measure, result in rows)
    senders = (
        f"{options.senders} x `send_notifications --channel email --threads {options.threads}`"
    )
    note = f"\n{options.note.strip()}\n" if options.note.strip() else ""
    return f"""## Notifier: ticket change commit → mail accepted by SMTP

{datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC, {machine}, load average (1, 5, 15 min)
before the run {load}, after it {after}.
PostgreSQL and RabbitMQ on loopback; processes `relay_events`, `consume_events`,
{senders}, and the SMTP server (`bench/notifier_smtp.py`: aiosmtpd speaking real SMTP on
loopback, noting each mail's `X-Servidesk-Event` header and arrival time without parsing
the MIME message). Each event is a status change told to two people, so it makes two
mails.

```
{command}
```

| measure | result |
|---|---|
{table}

Aims of issue 6 in this run:

{verdict(results)}
{note}"""


def with_run(document: str, report: str) -> str:
    """``document`` with its notifier region holding ``report`` and, summarised, the run
    that was newest there before (its heading, date and load, command and table)."""
    start, end = document.find(REGION_START), document.find(REGION_END)
    if start < 0 or end < start:
        return document.rstrip("\n") + f"\n\n{REGION_START}\n{report}\n{REGION_END}\n"
    region = document[start + len(REGION_START) : end]
    parts = [report.rstrip("\n")]
    previous = earlier_run(region)
    if previous:
        parts.append(previous)
    body = "\n\n".join(parts)
    before, after = document[:start], document[end + len(REGION_END) :]
    return f"{before}{REGION_START}\n{body}\n\n{REGION_END}{after}"


def earlier_run(region: str) -> str:
    """The newest run of an old region, cut down to what compares: date, load, command and
    table ("" when the region holds no run)."""
    newest = region.split("\n### ", 1)[0]
    date = re.search(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC).*$", newest, re.MULTILINE)
    triple = r"(\d+\.\d+, \d+\.\d+, \d+\.\d+)"
    load = re.search(rf"before the run {triple}, after it {triple}", newest)
    command = re.search(r"^```\n(.+?)\n```$", newest, re.MULTILINE | re.DOTALL)
    table = [line for line in newest.splitlines() if line.startswith("|")]
    if not (date and table):
        return ""
    when = date.group(1)
    if load:
        when += f", load average before {load.group(1)}, after {load.group(2)}"
    lines = ["### Earlier run", "", when + ":"]
    if command:
        lines += ["", "```", command.group(1).strip(), "```"]
    return "\n".join([*lines, "", *table])


if __name__ == "__main__":
    main()
