"""The results of a load run as text: locust's per-endpoint figures, memory, events."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.load.delivery import Delivery
from bench.load.memory import Growth

#: Workers may grow this much between the start and the end of the steady state.
MEMORY_GROWTH_LIMIT = 10.0


@dataclass(frozen=True)
class Endpoint:
    method: str
    name: str
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    rps: float


def _number(value: str) -> float:
    return float(value) if value not in {"", "N/A"} else 0.0


def read_stats(csv_prefix: Path) -> tuple[list[Endpoint], Endpoint]:
    """Rows of ``<prefix>_stats.csv`` (busiest first) and the aggregated row."""
    rows, total = [], None
    with open(f"{csv_prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            endpoint = Endpoint(
                method=row["Type"],
                name=row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                p50=_number(row["50%"]),
                p95=_number(row["95%"]),
                p99=_number(row["99%"]),
                rps=_number(row["Requests/s"]),
            )
            if row["Name"] == "Aggregated":
                total = endpoint
            else:
                rows.append(endpoint)
    if total is None:
        raise RuntimeError(f"{csv_prefix}_stats.csv has no Aggregated row")
    return sorted(rows, key=lambda e: -e.requests), total


def read_failures(csv_prefix: Path) -> list[dict[str, str]]:
    path = Path(f"{csv_prefix}_failures.csv")
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def read_exceptions(csv_prefix: Path) -> list[dict[str, str]]:
    """Errors in the locustfile itself (a bug there, or an answer it could not read)."""
    path = Path(f"{csv_prefix}_exceptions.csv")
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def endpoints_table(rows: Iterable[Endpoint], total: Endpoint) -> str:
    lines = [
        "| endpoint | requests | failures | p50 ms | p95 ms | p99 ms | req/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for e in [*rows, total]:
        name = "**all**" if e is total else f"`{e.method} {e.name}`"
        lines.append(
            f"| {name} | {e.requests:,} | {e.failures:,} | {e.p50:.0f} | {e.p95:.0f} | "
            f"{e.p99:.0f} | {e.rps:.1f} |"
        )
    return "\n".join(lines)


def _mib(kib: int | None) -> str:
    return "" if kib is None else f"{kib / 1024:.1f}"


def memory_table(rows: Iterable[Growth]) -> str:
    lines = [
        "| process | pid | idle MiB | start MiB | middle MiB | end MiB | growth | 2nd half |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in rows:
        lines.append(
            f"| {g.label} | {g.pid} | {_mib(g.idle_kib)} | {_mib(g.start_kib)} | "
            f"{_mib(g.middle_kib)} | {_mib(g.end_kib)} | {g.growth_percent:+.1f}% | "
            f"{g.second_half_percent:+.1f}% |"
        )
    return "\n".join(lines)


def events_table(found: Delivery, waited: float) -> str:
    published = ", ".join(f"{kind} {count:,}" for kind, count in sorted(found.published.items()))
    lines = [
        f"Published during the run: {found.total_published:,} ({published}); "
        f"still in an outbox: {found.unsent}. Waited {waited:.1f} s after the load for delivery.",
        "",
        "| consumer | queue | expected | delivered | left in queue | dead letters |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for service, c in found.consumers.items():
        lines.append(
            f"| {service} | `{c.queue}` | {c.expected:,} | {c.delivered:,} | "
            f"{c.waiting_in_queue} | {c.dead_letters} |"
        )
    return "\n".join(lines)


def notes_line(notes: Mapping[str, int]) -> str:
    if not notes:
        return "No lost races (409) were met."
    listed = "; ".join(f"{count} x {what}" for what, count in sorted(notes.items()))
    return (
        f"Answers counted apart, not as failures (the API's designed reply to a lost race): "
        f"{listed}."
    )


def failures_lines(
    failures: Iterable[Mapping[str, str]], exceptions: Iterable[Mapping[str, str]] = ()
) -> str:
    lines = [f"- {f['Occurrences']} x `{f['Method']} {f['Name']}`: {f['Error']}" for f in failures]
    lines += [f"- {e['Count']} x exception in the locustfile: {e['Message']}" for e in exceptions]
    return "\n".join(lines) if lines else "No failures."


def verdict(
    total: Endpoint, memory: Iterable[Growth], found: Delivery, *, exceptions: int = 0
) -> list[str]:
    """The issue's aims, each with whether this run met it."""
    workers = [g for g in memory if g.label.endswith("worker") and "nginx" not in g.label]
    worst = max(workers, key=lambda g: g.growth_percent, default=None)
    return [
        f"- p95 under {P95_AIM_MS:.0f} ms over every request: "
        f"{'met' if total.p95 < P95_AIM_MS else 'NOT met'} ({total.p95:.0f} ms)",
        f"- zero errors: {'met' if total.failures == 0 and not exceptions else 'NOT met'} "
        f"({total.failures} of {total.requests:,} requests failed, "
        f"{exceptions} exceptions in the locustfile)",
        (
            f"- worker memory flat (growth at most {MEMORY_GROWTH_LIMIT:.0f}%): "
            + (
                "no worker sampled"
                if worst is None
                else f"{'met' if worst.growth_percent <= MEMORY_GROWTH_LIMIT else 'NOT met'} "
                f"(largest: {worst.label} {worst.growth_percent:+.1f}%)"
            )
        ),
        f"- every event delivered: "
        f"{'met' if found.complete and not found.dead_letters else 'NOT met'} "
        f"({sum(c.delivered for c in found.consumers.values()):,} of "
        f"{sum(c.expected for c in found.consumers.values()):,} deliveries, "
        f"{found.dead_letters} dead letters)",
    ]


#: Each API's paths, for the requests that reached its gunicorn (and its database).
API_PREFIXES = {
    "accounts": "/api/accounts/",
    "tickets": "/api/tickets/",
    "notifier": "/api/notifications/",
    "reports": "/api/reports/",
}
#: Sustained-load aim of issue 21 for the whole run, in ms.
P95_AIM_MS = 250.0


def requests_by_service(rows: Iterable[Endpoint]) -> dict[str, int]:
    counts = dict.fromkeys(API_PREFIXES, 0)
    for row in rows:
        for service, prefix in API_PREFIXES.items():
            if row.name.startswith(prefix):
                counts[service] += row.requests
    return counts


def cpu_unit(kind: str, work: Mapping[str, int]) -> tuple[str, int]:
    """What one unit of a process kind's work is, and how many it did in the window."""
    service, _, what = kind.partition(" ")
    units = {
        "gunicorn": ("request to it", work.get(f"{service} requests", 0)),
        "relay_events": ("event published", work.get(f"{service} outbox", 0)),
        "consume_events": ("event applied", work.get(f"{service} inbox", 0)),
        "send_notifications": ("mail", work["mails"]),
    }
    if service == "postgres" and what in API_PREFIXES:
        return f"request to {what}", work[f"{what} requests"]
    if kind.startswith("rabbitmq"):
        return "event published", work.get("accounts outbox", 0) + work.get("tickets outbox", 0)
    if kind in {"nginx", "locust"}:
        return "request", work["requests"]
    # The mailbox reader, the SLA watcher, the webhook sender: no unit in this mix.
    return units.get(what, ("", 0))


def cpu_table(
    seconds: Mapping[str, float],
    processes: Mapping[str, int],
    wall: float,
    work: Mapping[str, int],
    machine_busy: float,
) -> str:
    """CPU of each process kind over the locust run, per unit of its work."""
    lines = [
        "| process kind | processes | CPU s | cores (average) | unit | units | CPU ms per unit |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for kind in sorted(seconds, key=lambda k: -seconds[k]):
        unit, count = cpu_unit(kind, work)
        per = f"{seconds[kind] * 1000 / count:.2f}" if count else ""
        lines.append(
            f"| {kind} | {processes.get(kind, 0)} | {seconds[kind]:.1f} | "
            f"{seconds[kind] / wall:.2f} | {unit} | {count:,} | {per} |"
        )
    ours = sum(s for k, s in seconds.items() if not k.startswith("rabbitmq"))
    lines += [
        "",
        f"Over {wall:.0f} s: these processes (the broker apart) {ours:.0f} CPU s, "
        f"{ours / wall:.2f} cores on average; the machine was busy {machine_busy:.0f} CPU s "
        f"({machine_busy / wall:.2f} cores), so other work (the broker included) "
        f"{max(machine_busy - ours, 0) / wall:.2f} cores. CPU ms per unit: a process kind "
        f"tops out near 1000 / that figure units per second per core it gets.",
    ]
    return "\n".join(lines)
