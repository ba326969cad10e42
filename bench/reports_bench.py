"""Reports benchmark: 1,000,000 projected tickets, then summary/, export.pdf and export.xlsx.

Run on demand (it takes minutes and a database of its own):

    .venv/bin/python bench/reports_bench.py                    # generate + measure
    .venv/bin/python bench/reports_bench.py --tickets 200000   # a smaller set
    .venv/bin/python bench/reports_bench.py --reuse            # measure the loaded set again
    .venv/bin/python bench/reports_bench.py --write-docs       # also update docs/benchmarks.md

What it does:

1. creates the database ``servidesk_reports_bench`` on the local PostgreSQL (or the one
   in ``REPORTS_BENCH_DATABASE_URL``), migrates it, and loads the projection the way the
   event handlers would have left it: ``TicketFact`` and ``OpenSpell`` rows generated
   with numpy (two years of tickets, realistic response and resolution times, reopens,
   SLA targets per priority, 60 technicians) and written with ``COPY`` in chunks;
2. measures each endpoint in a fresh Python process (so its peak memory is its own),
   through Django's test client with an admin token: the whole request, middleware,
   authentication, queries, pandas, rendering. Each is run ``--repeat`` times after
   one warm-up; the table shows the median and the slowest, and the process's peak RSS.

The status history (``StatusChange``) is not generated: no report reads it.
"""

# Django is set up at run time (the database URL is chosen first), so imports that need
# it live inside the functions.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for ``bench.machine`` when run as a file

from bench.machine import describe  # noqa: E402

SERVICE = ROOT / "services" / "reports"
DOCS = ROOT / "docs" / "benchmarks.md"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/servidesk_reports_bench"
LOAD_RECORD = ROOT / "var" / "reports-bench-load.json"  # the last generation, for --reuse
DOCS_START = "<!-- reports-bench:start -->"
DOCS_END = "<!-- reports-bench:end -->"

DATA_START = datetime(2024, 1, 1, tzinfo=UTC)
DATA_DAYS = 731  # 2024-01-01 .. 2025-12-31
TECHNICIANS = 60
CATEGORIES = [
    "network",
    "email",
    "hardware",
    "software",
    "access",
    "printing",
    "phones",
    "accounts",
    "security",
    "backup",
    "web",
    "other",
]
PRIORITIES = ["low", "medium", "high", "urgent"]
PRIORITY_WEIGHTS = [0.3, 0.4, 0.2, 0.1]
FIRST_RESPONSE_HOURS = {"low": 24, "medium": 8, "high": 4, "urgent": 1}
RESOLUTION_HOURS = {"low": 120, "medium": 72, "high": 24, "urgent": 8}
CHUNK = 100_000


def database_url() -> str:
    return os.environ.get("REPORTS_BENCH_DATABASE_URL", DEFAULT_URL)


def setup_django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "core.settings.test"
    os.environ["REPORTS_DATABASE_URL"] = database_url()
    os.environ.setdefault("REPORTS_TIME_ZONE", "Europe/Madrid")
    os.chdir(SERVICE)
    sys.path.insert(0, str(SERVICE))
    import django

    django.setup()


def ensure_database() -> None:
    import psycopg

    url = database_url()
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


# --- generation -------------------------------------------------------------------------


def generate_chunk(rng: Any, first_id: int, count: int) -> tuple[Any, Any]:
    """``count`` tickets as two DataFrames (facts, spells), ids from ``first_id``."""
    import numpy as np
    import pandas as pd

    hour = 3600.0
    data_end = DATA_DAYS * 86400.0
    ids = np.arange(first_id, first_id + count)
    created = np.sort(rng.uniform(0, data_end, count))
    priority = rng.choice(PRIORITIES, size=count, p=PRIORITY_WEIGHTS)
    category = rng.choice(CATEGORIES, size=count)
    assigned = rng.random(count) < 0.92
    assignee = np.where(
        assigned, (1000 + rng.integers(1, TECHNICIANS + 1, count)).astype(str), None
    )
    client = rng.integers(10_000, 60_000, count).astype(str)
    age = data_end - created

    fr_due = created + np.vectorize(FIRST_RESPONSE_HOURS.get)(priority) * hour
    res_due = created + np.vectorize(RESOLUTION_HOURS.get)(priority) * hour
    fr_seconds = rng.lognormal(np.log(2.0), 1.0, count) * hour
    answered = (rng.random(count) < 0.97) & (fr_seconds < age)
    res_seconds = np.maximum(fr_seconds, rng.lognormal(np.log(20.0), 1.2, count) * hour)
    resolves = np.where(age > 14 * 86400, rng.random(count) < 0.98, rng.random(count) < 0.5)
    resolved_once = answered & resolves & (res_seconds < age)

    # 5% of the resolved are reopened; most are resolved again, a fifth stay open.
    reopened = resolved_once & (rng.random(count) < 0.05)
    first_resolution = np.where(reopened, res_seconds * 0.6, res_seconds)
    reopen_at = first_resolution + rng.uniform(1, 48, count) * hour
    final_resolution = reopen_at + rng.lognormal(np.log(6.0), 1.0, count) * hour
    re_resolved = reopened & (rng.random(count) < 0.8) & (final_resolution < age)
    reopened &= reopen_at < age
    resolved_now = resolved_once & (~reopened | re_resolved)
    resolution = np.where(reopened, final_resolution, first_resolution)

    status = np.where(resolved_now, "resolved", np.where(answered, "in_progress", "pending"))

    def stamp(offset: Any) -> Any:
        return pd.to_datetime(DATA_START) + pd.to_timedelta(offset, unit="s")

    created_at = stamp(created)
    first_response_at = stamp(created + fr_seconds).where(answered)
    resolved_at = stamp(created + resolution).where(resolved_now)
    first_resolved_at = stamp(created + first_resolution).where(resolved_once)
    facts = pd.DataFrame(
        {
            "id": ids,
            "ticket_id": ids.astype(str),
            "number": np.char.add("SD-", ids.astype(str)),
            "title": np.char.add("Ticket ", ids.astype(str)),
            "status": status,
            "priority": priority,
            "category": category,
            "client_id": client,
            "assignee_id": assignee,
            "created_at": created_at,
            "updated_at": stamp(np.minimum(created + resolution, data_end)),
            "first_response_at": first_response_at,
            "resolved_at": resolved_at,
            "first_response_due": stamp(fr_due),
            "resolution_due": stamp(res_due),
            "first_response_seconds": np.where(answered, fr_seconds, np.nan),
            "resolution_seconds": np.where(resolved_now, resolution, np.nan),
            "first_response_met": pd.array(
                np.where(answered, fr_seconds <= fr_due - created, None), dtype="boolean"
            ),
            "resolution_met": pd.array(
                np.where(resolved_now, resolution <= res_due - created, None), dtype="boolean"
            ),
            "first_resolved_at": first_resolved_at,
            "times_resolved": resolved_once.astype(int) + re_resolved.astype(int),
            "reopen_count": reopened.astype(int),
            "pending_seconds": np.where(answered, fr_seconds, 0.0),
            "in_progress_seconds": np.where(resolved_once, first_resolution - fr_seconds, 0.0),
            "sequence": 3 + resolved_once.astype(int) * 2 + reopened.astype(int) * 2,
        }
    )

    first = pd.DataFrame(
        {
            "ticket_id": ids,
            "started_at": created_at,
            "ended_at": first_resolved_at,
            "reopened": False,
        }
    )
    again = pd.DataFrame(
        {
            "ticket_id": ids[reopened],
            "started_at": stamp(created + reopen_at)[reopened],
            "ended_at": stamp(created + final_resolution).where(re_resolved)[reopened],
            "reopened": True,
        }
    )
    spells = pd.concat([first, again], ignore_index=True)
    attributes = facts.set_index("id")[["status", "priority", "category", "assignee_id"]]
    spells = spells.join(attributes, on="ticket_id")
    return facts, spells


def copy_frame(cursor: Any, table: str, frame: Any) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f+00")
    columns = ", ".join(f'"{name}"' for name in frame.columns)
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
        copy.write(buffer.getvalue())


def generate(tickets: int, seed: int, *, vacuum: bool = True) -> dict[str, Any]:
    """Replace the projection with ``tickets`` generated tickets (and 60 technicians)."""
    import numpy as np
    from django.db import connection
    from reports.models import OpenSpell, Person, StatusChange, TicketFact

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE reports_tickettag, reports_openspell, reports_statuschange, "
            "reports_ticketfact, reports_person RESTART IDENTITY"
        )
    Person.objects.bulk_create(
        [
            Person(
                user_id=str(1000 + n),
                username=f"tech{n}",
                full_name=f"Técnico {n:02d}",
                role="technician",
                sequence=1,
            )
            for n in range(1, TECHNICIANS + 1)
        ]
    )
    rng = np.random.default_rng(seed)
    spells = 0
    connection.ensure_connection()
    raw = connection.connection  # psycopg's own connection, for COPY
    for first_id in range(1, tickets + 1, CHUNK):
        count = min(CHUNK, tickets - first_id + 1)
        facts, spell_frame = generate_chunk(rng, first_id, count)
        with raw.cursor() as cursor:
            copy_frame(cursor, TicketFact._meta.db_table, facts)
            copy_frame(cursor, OpenSpell._meta.db_table, spell_frame)
        spells += len(spell_frame)
        if tickets >= CHUNK:
            print(f"  loaded {first_id + count - 1:>9,} tickets", flush=True)
    with connection.cursor() as cursor:
        for model in (TicketFact, OpenSpell):
            table = model._meta.db_table
            # Past the ids COPY wrote, and never backwards (sequences ignore rollbacks).
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            cursor.execute(
                f"SELECT setval({sequence}, GREATEST("  # noqa: S608 (model table)
                f"(SELECT coalesce(max(id), 1) FROM {table}), nextval({sequence})))"
            )
    loaded = time.perf_counter() - started
    if vacuum:  # outside any transaction only
        with connection.cursor() as cursor:
            for model in (TicketFact, OpenSpell, StatusChange, Person):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
    return {
        "tickets": tickets,
        "spells": spells,
        "load_seconds": loaded,
        "total_seconds": time.perf_counter() - started,
    }


# --- measuring --------------------------------------------------------------------------


def measure(endpoint: str, params: dict[str, str], repeat: int) -> dict[str, Any]:
    """Runs in its own process: warm-up once, then ``repeat`` timed requests."""
    from django.db import connection
    from django.test import Client

    from servidesk_testing import auth_header

    # Outside the test runner "testserver" is not an allowed host; 127.0.0.1 is.
    client = Client(headers=auth_header(user_id=1, role="admin"), SERVER_NAME="127.0.0.1")

    cpu: list[float] = []

    def once() -> tuple[float, int]:
        started, cpu_started = time.perf_counter(), time.process_time()
        response = client.get(f"/api/reports/{endpoint}", params)
        assert response.status_code == 200, response.content[:500]
        size = 0
        if response.streaming:
            for chunk in response.streaming_content:
                size += len(chunk)
        else:
            size = len(response.content)
        response.close()
        cpu.append(time.process_time() - cpu_started)
        return time.perf_counter() - started, size

    # Load the URLconf (and with it pandas, matplotlib, reportlab, openpyxl) first, as a
    # running server has: "first" is then the first report request, not the imports.
    client.get("/api/reports/health/live")
    rss_before = peak_rss_mb()
    warm, size = once()
    timings = [once()[0] for _ in range(repeat)]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM reports_ticketfact WHERE created_at >= %s AND created_at < %s",
            [params["from"], (date.fromisoformat(params["to"]) + timedelta(days=1)).isoformat()],
        )
        cohort = cursor.fetchone()[0]
    return {
        "endpoint": endpoint,
        "params": params,
        "cohort": cohort,
        "bytes": size,
        "first": warm,
        "median": statistics.median(timings),
        "max": max(timings),
        "cpu": statistics.median(cpu[1:]),
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
        "load_average": os.getloadavg()[0],
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory. (``ru_maxrss`` would not do: Linux carries it
    across ``exec``, so a child would report its parent's peak.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_in_child(endpoint: str, params: dict[str, str], repeat: int) -> dict[str, Any]:
    job = json.dumps({"endpoint": endpoint, "params": params, "repeat": repeat})
    done = subprocess.run(
        [sys.executable, __file__, "--measure", job], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"measuring {endpoint} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def xlsx_period(tickets: int) -> dict[str, str]:
    """A period holding about 100,000 tickets (they are spread evenly over the two years)."""
    days = min(DATA_DAYS, max(1, round(100_000 / tickets * DATA_DAYS)))
    end = date(2025, 12, 31)
    return {"from": (end - timedelta(days=days - 1)).isoformat(), "to": end.isoformat()}


def render(
    results: list[dict[str, Any]], load: dict[str, Any] | None, tickets: int, command: str
) -> str:
    lines = [
        f"## Reports: summary, PDF, xlsx, CSV ({datetime.now(tz=UTC).date().isoformat()})",
        "",
        f"Command: {command}",
        "",
        f"Machine: {describe()}; PostgreSQL {postgres_version()}.",
        f"Projection: {tickets:,} tickets over two years (2024-2025), 60 technicians, "
        "Europe/Madrid days. Each figure is one request through Django's test client with an "
        "admin token (middleware, auth, queries, pandas, rendering), the median of the timed "
        "runs after one warm-up; Python CPU is the median CPU time the request cost the "
        "measuring process (the rest is PostgreSQL and waiting); peak RSS is that of the "
        "measuring process (its imports included).",
        "",
    ]
    loads = [row["load_average"] for row in results]
    lines += [
        f"The machine is shared: its 1-minute load average during the measurements was "
        f"{min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} CPUs, so these are "
        "pessimistic figures.",
        "",
    ]
    if load:
        lines += [
            f"Load: {load['tickets']:,} tickets and {load['spells']:,} open spells by COPY in "
            f"{load['load_seconds']:.0f} s ({load['total_seconds']:.0f} s with VACUUM ANALYZE).",
            "",
        ]
    lines += [
        "| request | tickets created in period | median | slowest | first | Python CPU "
        "| peak RSS (before) | aim |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in results:
        p = row["params"]
        filters = ", ".join(f"{k}={v}" for k, v in p.items() if k not in ("from", "to"))
        period = f"{p['from']} .. {p['to']}" + (f" ({filters})" if filters else "")
        lines.append(
            f"| `{row['endpoint']}` {period} | {row['cohort']:,} | "
            f"{row['median']:.2f} s | {row['max']:.2f} s | {row['first']:.2f} s | "
            f"{row['cpu']:.2f} s | "
            f"{row['peak_rss_mb']:.0f} MB ({row['rss_before_mb']:.0f} MB) | {row.get('aim', '')} |"
        )
    lines += [
        "",
        "Where the time goes: a summary is four queries (the cohort's counts grouped by "
        "status, priority, category and technician; its durations packed as binary floats "
        "per technician, for numpy's percentiles; the open spells per local day; the "
        "technicians' names). Over a period holding all 1,000,000 tickets the first two "
        "are full scans of the table, so that figure follows the machine's load most; a "
        "month or a filtered year reads a fraction of it. The PDF adds the five charts "
        "(matplotlib, most of its Python CPU) and the layout. The xlsx streams rows from a "
        "server-side cursor into the sheet, so its memory stays at the process's baseline "
        "plus a few tens of MB whatever the row count.",
    ]
    return "\n".join(lines) + "\n"


def postgres_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0]).split()[0]


def write_docs(section: str) -> None:
    block = f"{DOCS_START}\n{section}{DOCS_END}\n"
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if DOCS_START in text and DOCS_END in text:
        before, rest = text.split(DOCS_START, 1)
        after = rest.split(DOCS_END, 1)[1].lstrip("\n")
        text = before + block + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)


def command_line(args: argparse.Namespace) -> str:
    """How to get these figures again, as Markdown."""
    command = ".venv/bin/python bench/reports_bench.py"
    if args.tickets != 1_000_000:
        command += f" --tickets {args.tickets}"
    if args.repeat != 3:
        command += f" --repeat {args.repeat}"
    if args.reuse:
        return f"`{command}`, then `--reuse` to measure again on the data it generated"
    return f"`{command}`"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="measure the data already loaded")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure:
        job = json.loads(args.measure)
        setup_django()
        print(json.dumps(measure(job["endpoint"], job["params"], job["repeat"])))
        return 0

    ensure_database()
    setup_django()
    load = None
    if args.reuse:
        from reports.models import TicketFact

        args.tickets = TicketFact.objects.count()
        print(f"reusing {args.tickets:,} tickets")
        if LOAD_RECORD.exists():
            load = json.loads(LOAD_RECORD.read_text())
            if load.get("tickets") != args.tickets:
                load = None
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"generating {args.tickets:,} tickets")
        load = generate(args.tickets, args.seed)
        LOAD_RECORD.parent.mkdir(parents=True, exist_ok=True)
        LOAD_RECORD.write_text(json.dumps(load))
        print(
            f"  loaded in {load['load_seconds']:.1f} s, "
            f"{load['total_seconds']:.1f} s with VACUUM ANALYZE"
        )

    month = {"from": "2025-12-01", "to": "2025-12-31"}
    year = {"from": "2025-01-01", "to": "2025-12-31"}
    everything = {"from": "2024-01-01", "to": "2025-12-31"}
    hundred_k = xlsx_period(args.tickets)
    jobs = [
        ("summary/", month, "< 1.5 s"),
        ("summary/", year, "< 1.5 s"),
        ("summary/", everything, "< 1.5 s"),
        ("summary/", {**year, "category": "network", "priority": "high"}, "< 1.5 s"),
        ("export.pdf", month, "< 3 s"),
        ("export.pdf", year, "< 3 s"),
        ("export.pdf", everything, "< 3 s"),
        ("export.xlsx", hundred_k, "< 10 s, < 300 MB"),
        ("export.csv", hundred_k, ""),
    ]
    results = []
    for endpoint, params, aim in jobs:
        result = measure_in_child(endpoint, params, args.repeat)
        result["aim"] = aim
        results.append(result)
        print(
            f"  {endpoint:<12} {params['from']}..{params['to']} {result['cohort']:>9,} tickets: "
            f"median {result['median']:.2f} s, max {result['max']:.2f} s, "
            f"first {result['first']:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    command = command_line(args)
    section = render(results, load, args.tickets, command)
    print()
    print(section)
    if args.write_docs:
        write_docs(section)
        print(f"written to {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
