"""Benchmark of ``watch_sla`` (issue 19) at a million tickets: finding the due tickets, one
pass of 500, and a day's worth of SLA alerts going out beside the other events.

    flock /tmp/servidesk-bench.lock .venv/bin/python bench/sla_watch.py
    flock /tmp/servidesk-bench.lock .venv/bin/python bench/sla_watch.py --append-docs

The data set. ``bench/tickets_api.py``'s database (``servidesk_tickets_bench``, seeded to
``--count`` tickets by its own code) is copied once to ``servidesk_sla_bench`` (this
benchmark closes half a million tickets there, which would change the other benchmarks'
queues), and arranged once, in SQL:

- ``--open`` (50,000) of the open tickets, picked by a hash of their id, stay open, their
  next SLA moment spread evenly over the 24 h after the arrangement (``t0``): a pending
  ticket waits for its first reply and is warned at 80 % of its first-response target, an
  in-progress one (already answered) at 80 % of its resolution target. Their creation
  times are set back so that the warning falls where it should (nothing is created in
  the future: an urgent or high ticket whose slot is later than 80 % of its resolution
  target becomes a medium one). Both clocks' breaches follow, some within the day;
- every other open ticket is closed (no SLA moment any more);
- the resolved ones keep waiting for their auto-close (``AUTO_CLOSE_DAYS``), moved in
  time as a block so that the last resolution is at ``t0``.

So the partial index ``ticket_next_check`` holds the 50,000 plus the resolved tickets.
The SLA columns of every ticket in it are kept in ``bench_sla_snapshot``; each run starts
(and ends) by putting them back and deleting what runs wrote (alerts, the watcher's
history, the outbox, the tickets opened by the writer below).

What it measures, always with an explicit ``now`` (``t0`` + the simulated time):

1. **finding the due tickets**: the exact statement ``sla_watch.run_pass`` sends (captured
   from a real pass), under ``EXPLAIN (ANALYZE, BUFFERS)``, ``--explain-runs`` times, each
   in a transaction rolled back (it locks the rows it returns): with ~500 due (``t0`` +
   864 s) and with the whole day due (``t0`` + 24 h). The aim: under 200 ms;
2. **one pass** of 500 due tickets, the real ``run_pass``, ``--pass-runs`` times, each
   rolled back: wall time, and database time as the sum of every statement's duration
   seen from Django (``connection.execute_wrapper``), by statement;
3. **a day's worth of alerts beside the other events**: ``manage.py relay_events`` (two
   relays, batches of 200) publishes to the local RabbitMQ under a throwaway prefix (its
   queues emptied every second, as consumers would, and deleted at the end), while this
   process opens tickets as a client (``services.ticket_create``) at ``--rate`` per
   second, one per transaction (which also clears the new ticket's ``next_check_at``:
   at simulated times its moments would be due too). Latency of those
   ``ticket.created`` events: the outbox row's ``created_at`` (in the transaction, just
   before its commit) to its ``sent_at`` (the relay's clock once the broker confirmed
   its batch). First ``--baseline-seconds`` with no watcher; then the watcher replays
   the day: ``watch_sla``'s rounds (passes until one finds less than a batch) every
   ``--step`` s of simulated time from ``t0`` to ``t0`` + 24 h, as fast as they run;
   then, after a reset, the catch-up after a day away (one ``now`` = ``t0`` + 24 h,
   passes of 500 back to back). The watcher runs in its own process (``--role drain``)
   with the command's loop; the events go out through the outbox in the pass's
   transaction, as in production.

"Without delaying other events" is judged by the ordinary events' p99 latency during a
drain against the baseline's: met when it is at most 1 s above it.

The tickets service runs on its production settings, except the relay process: the
production settings refuse RabbitMQ's ``guest`` account, so it runs on ``core.settings.
local`` with ``DJANGO_DEBUG=false``. Everything runs on loopback and stops by itself.
"""

# Every SQL text here is built from this module's constants and numbers, never from input.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.docs import DOCS, write_region
from bench.machine import busy_seconds, describe, process_cpu_seconds
from bench.tickets_api import (
    DEFAULT_DATABASE,
    PYTHON,
    ROOT,
    ensure_database,
    forget_earlier_runs,
    keypair,
    prepare_data,
    psql,
    service_env,
)

SERVICE = ROOT / "services" / "tickets"
DATABASE = "postgres://postgres@127.0.0.1:5432/servidesk_sla_bench"
BROKER = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
DAY = timedelta(hours=24)
BATCH = 500
#: Issue 19's aim for finding the due tickets, database time.
FIND_AIM_MS = 200.0
#: Ordinary events count as delayed when their p99 is more than this above the baseline's.
DELAY_ALLOWANCE_S = 1.0
#: Matched by tickets_api's ``forget_earlier_runs`` ("Benchmark ticket%"): cleaned with it.
WRITER_TITLE = "Benchmark ticket (SLA)"
WRITER_CLIENT = "seed-c-1"
SYSTEM_ACTORS = ("sla:escalation", "sla:auto_close")
#: The columns ``run_pass`` may change on a ticket, kept to put the data set back.
SNAPSHOT_COLUMNS = (
    "status", "priority", "assignee_id", "first_response_due", "resolution_due",
    "first_response_stage", "resolution_stage", "next_check_at", "closed_at", "updated_at",
    "version",
)  # fmt: skip


# --- the data set -----------------------------------------------------------------------


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def ensure_copy(args: argparse.Namespace, env: dict[str, str]) -> None:
    """``args.database`` as a copy of tickets_api's seeded database, made once."""
    maintenance = urlsplit(args.database)._replace(path="/postgres").geturl()
    name = database_name(args.database)
    exists = psql(maintenance, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"
    if not exists:
        source = argparse.Namespace(
            database=args.source, count=args.count, python=PYTHON, service=SERVICE
        )
        source_env = {**env, "TICKETS_DATABASE_URL": args.source}
        prepare_data(source, source_env)  # migrates and seeds with seed_tickets
        print(f"copying {database_name(args.source)} to {name} ...", flush=True)
        psql(
            maintenance,
            f'CREATE DATABASE "{name}" TEMPLATE "{database_name(args.source)}" STRATEGY FILE_COPY',
        )
    ensure_database(args.database)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=SERVICE, env=env, check=True
    )
    total = int(psql(args.database, "SELECT count(*) FROM tickets_ticket"))
    if total < args.count:
        raise SystemExit(f"{total:,} tickets in {name}: drop it to copy a seeded one again")


def arrangement(database: str) -> tuple[datetime, int] | None:
    """``(t0, open tickets)`` of an earlier arrangement, if any."""
    if psql(database, "SELECT to_regclass('bench_sla_setup') IS NOT NULL") != "t":
        return None
    row = psql(database, "SELECT extract(epoch FROM t0), open_tickets FROM bench_sla_setup")
    if not row:
        return None
    epoch, count = row.split("|")
    return datetime.fromtimestamp(float(epoch), tz=UTC), int(count)


def arrange(database: str, open_tickets: int) -> datetime:
    """The SLA data set described in the module's docstring, once; its ``t0``."""
    done = arrangement(database)
    if done is not None and done[1] == open_tickets:
        return done[0]
    if done is not None:
        raise SystemExit(
            f"{database_name(database)} was arranged with {done[1]:,} open tickets: drop it"
        )
    from django.conf import settings  # noqa: PLC0415
    from tickets import sla  # noqa: PLC0415
    from tickets.models import Priority  # noqa: PLC0415

    table = sla.TargetTable.load()
    targets = ", ".join(
        f"({p}, {table.get(p).first_response_hours}, {table.get(p).resolution_hours})"
        for p in Priority.values
    )
    window = int(DAY.total_seconds())
    n = open_tickets
    available = int(
        psql(
            database,
            "SELECT count(*) FROM tickets_ticket WHERE status IN ('pending', 'in_progress')",
        )
    )
    if available < n:
        raise SystemExit(f"only {available:,} open tickets to keep {n:,} of")
    print(f"arranging {n:,} open tickets due over 24 h, closing the others ...", flush=True)
    statements = [
        "CREATE TEMP TABLE sla_t0 AS SELECT date_trunc('second', now()) AS t0",
        f"CREATE TEMP TABLE sla_target AS SELECT * FROM (VALUES {targets}) AS v(priority, fr, res)",
        "CREATE TEMP TABLE sla_pick AS SELECT id, priority, status AS was,"
        " row_number() OVER (ORDER BY hashint4(id::int), id) AS rn FROM tickets_ticket"
        " WHERE status IN ('pending', 'in_progress') AND merged_into_id IS NULL"
        f" ORDER BY hashint4(id::int), id LIMIT {n}",
        # The slot ``d`` after t0; a priority whose resolution warning comes sooner than the
        # slot would need a ticket created in the future: medium instead.
        "CREATE TEMP TABLE sla_plan AS SELECT k.id, k.was, k.d,"
        " (SELECT t0 FROM sla_t0) + k.d AS at,"
        f" CASE WHEN make_interval(secs => t.res * 2880) > k.d THEN k.priority"
        f" ELSE {int(Priority.MEDIUM)} END AS priority"
        f" FROM (SELECT id, was, priority, make_interval(secs => {window} * (rn - 0.5) / {n}) AS d"
        " FROM sla_pick) k JOIN sla_target t ON t.priority = k.priority",
        # 2880 s = 80 % of an hour: the warning's share, in whole seconds.
        "CREATE TEMP TABLE sla_rows AS SELECT p.id, p.priority, p.at, t.fr, t.res, w.waits_reply,"
        " p.at - make_interval(secs => CASE WHEN w.waits_reply THEN t.fr ELSE t.res END * 2880)"
        " AS created FROM sla_plan p JOIN sla_target t ON t.priority = p.priority"
        " CROSS JOIN LATERAL (SELECT p.was = 'pending'"
        " AND make_interval(secs => t.fr * 2880) > p.d AS waits_reply) w",
        "UPDATE tickets_ticket tt SET"
        " status = CASE WHEN r.waits_reply THEN 'pending' ELSE 'in_progress' END,"
        " priority = r.priority, created_at = r.created,"
        " first_response_at = CASE WHEN r.waits_reply THEN NULL ELSE r.created + LEAST("
        " make_interval(secs => r.fr * 1800), ((SELECT t0 FROM sla_t0) - r.created) / 2) END,"
        " assignee_id = CASE WHEN r.waits_reply THEN NULL"
        " ELSE coalesce(tt.assignee_id, 'seed-t-1') END,"
        " first_response_due = r.created + make_interval(hours => r.fr),"
        " resolution_due = r.created + make_interval(hours => r.res),"
        " resolved_at = NULL, closed_at = NULL, waiting_since = NULL,"
        " resolution_started_at = NULL, resolution_paused = interval '0', sla_cycle = 1,"
        " first_response_stage = 0, resolution_stage = 0, next_check_at = r.at"
        " FROM sla_rows r WHERE tt.id = r.id",
        "UPDATE tickets_ticket tt SET updated_at = coalesce(first_response_at, created_at)"
        " FROM sla_rows r WHERE tt.id = r.id",
        "UPDATE tickets_ticket SET status = 'closed', closed_at = updated_at,"
        " next_check_at = NULL WHERE status IN ('pending', 'in_progress', 'waiting')"
        " AND id NOT IN (SELECT id FROM sla_pick)",
        # The resolved tickets as a block: the latest resolution at t0.
        "CREATE TEMP TABLE sla_shift AS SELECT greatest(interval '0',"
        " (SELECT t0 FROM sla_t0) - max(resolved_at)) AS delta FROM tickets_ticket"
        " WHERE status = 'resolved'",
        "UPDATE tickets_ticket SET created_at = created_at + s.delta,"
        " updated_at = updated_at + s.delta, first_response_at = first_response_at + s.delta,"
        " resolved_at = resolved_at + s.delta,"
        " first_response_due = first_response_due + s.delta,"
        " resolution_due = resolution_due + s.delta,"
        " next_check_at = resolved_at + s.delta"
        f" + make_interval(days => {int(settings.AUTO_CLOSE_DAYS)})"
        " FROM sla_shift s WHERE status = 'resolved' AND resolved_at IS NOT NULL",
        "DROP TABLE IF EXISTS bench_sla_snapshot",
        f"CREATE TABLE bench_sla_snapshot AS SELECT id, {', '.join(SNAPSHOT_COLUMNS)}"
        " FROM tickets_ticket WHERE next_check_at IS NOT NULL",
        "ALTER TABLE bench_sla_snapshot ADD PRIMARY KEY (id)",
        "CREATE TABLE IF NOT EXISTS bench_sla_setup (t0 timestamptz NOT NULL,"
        " open_tickets integer NOT NULL, arranged_at timestamptz NOT NULL DEFAULT now())",
        "DELETE FROM bench_sla_setup",
        f"INSERT INTO bench_sla_setup (t0, open_tickets) SELECT t0, {n} FROM sla_t0",
    ]
    started = time.monotonic()
    psql(database, ";\n".join(statements))  # one transaction: all or nothing
    psql(database, "VACUUM (ANALYZE) tickets_ticket")
    print(f"arranged in {time.monotonic() - started:.0f} s", flush=True)
    done = arrangement(database)
    assert done is not None
    return done[0]


def reset(database: str) -> None:
    """Put the arranged data set back: the tickets' SLA columns, no alerts, no outbox."""
    columns = ", ".join(f"{column} = s.{column}" for column in SNAPSHOT_COLUMNS)
    changed = " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in SNAPSHOT_COLUMNS)
    actors = ", ".join(f"'{actor}'" for actor in SYSTEM_ACTORS)
    psql(
        database,
        ";\n".join(
            [
                "DELETE FROM tickets_slaalert",
                f"DELETE FROM tickets_historyentry WHERE actor_id IN ({actors})",
                f"UPDATE tickets_ticket t SET {columns} FROM bench_sla_snapshot s"
                f" WHERE t.id = s.id AND ({changed})",
            ]
        ),
    )
    forget_earlier_runs(database)  # the writer's tickets, the outbox, fresh statistics
    psql(database, "VACUUM (ANALYZE) tickets_slaalert, servidesk_outbox_aggregatesequence")


def check_arrangement(t0: datetime, sample: int = 2000) -> int:
    """How many of a sample of the due tickets ``sla.moments`` disagrees with (must be 0):
    the SQL above and the watcher have to mean the same moments."""
    from tickets import sla  # noqa: PLC0415
    from tickets.models import Ticket  # noqa: PLC0415

    table = sla.TargetTable.load()
    wrong = 0
    tickets = Ticket.objects.filter(next_check_at__gt=t0, status__in=("pending", "in_progress"))
    for ticket in tickets.order_by("?")[:sample]:
        upcoming = sla.moments(ticket, sla.plan_for(ticket, table))
        if not upcoming or upcoming[0].at != ticket.next_check_at:
            wrong += 1
    return wrong


# --- timing statements ------------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    params: Any
    seconds: float


class StatementTimer:
    """A ``connection.execute_wrapper``: each statement's duration as Django sees it (sent,
    run, rows fetched: the client's view of database time, loopback round trips included)."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.statements.append(Statement(sql, params, time.perf_counter() - started))

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.statements)


def statement_label(sql: str) -> str:
    """``SELECT tickets_ticket FOR UPDATE``, ``INSERT tickets_slaalert``, ``SAVEPOINT`` ..."""
    words = sql.split()
    verb = words[0].upper() if words else "?"
    keyword = {"INSERT": "INTO", "UPDATE": "UPDATE"}.get(verb, "FROM")
    table = ""
    if keyword in words and words.index(keyword) + 1 < len(words):
        table = words[words.index(keyword) + 1].strip('"').split('"')[0]
    lock = " FOR UPDATE" if "FOR UPDATE" in sql.upper() else ""
    return f"{verb} {table}{lock}".strip()


@contextmanager
def rolled_back() -> Iterator[None]:
    from django.db import transaction  # noqa: PLC0415

    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- 1 and 2: the find statement and one pass --------------------------------------------


@dataclass
class PassRun:
    wall_ms: float
    db_ms: float
    statements: int
    examined: int
    warnings: int
    breaches: int
    closed: int
    by_label: dict[str, tuple[int, float]]


def one_pass(now: datetime, *, rollback: bool) -> tuple[PassRun, list[Statement]]:
    from django.db import connection  # noqa: PLC0415
    from tickets import sla_watch  # noqa: PLC0415

    timer = StatementTimer()
    context = rolled_back() if rollback else _nothing()
    with context, connection.execute_wrapper(timer):
        started = time.perf_counter()
        result = sla_watch.run_pass(now=now, batch_size=BATCH)
        wall = time.perf_counter() - started
    by_label: dict[str, tuple[int, float]] = {}
    for statement in timer.statements:
        label = statement_label(statement.sql)
        count, seconds = by_label.get(label, (0, 0.0))
        by_label[label] = (count + 1, seconds + statement.seconds)
    run = PassRun(
        wall * 1000, timer.seconds * 1000, len(timer.statements), result.examined,
        result.warnings, result.breaches, result.closed,
        {label: (count, seconds * 1000) for label, (count, seconds) in by_label.items()},
    )  # fmt: skip
    return run, timer.statements


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def find_statement(statements: list[Statement]) -> Statement:
    for statement in statements:
        if "SKIP LOCKED" in statement.sql.upper():
            return statement
    raise SystemExit("the pass sent no SELECT ... FOR UPDATE SKIP LOCKED")


@dataclass
class Explained:
    label: str
    due: int
    execution_ms: list[float]
    planning_ms: list[float]
    first_buffers: str
    plan: str
    rows: int

    def p(self, q: float) -> float:
        return percentile(self.execution_ms, q)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def explain(label: str, statement: Statement, due: int, runs: int) -> Explained:
    from django.db import connection  # noqa: PLC0415

    execution: list[float] = []
    planning: list[float] = []
    first_buffers = ""
    rows = 0
    for n in range(runs):
        with rolled_back(), connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement.sql, statement.params
            )
            document = cursor.fetchone()[0]
        if isinstance(document, str):
            document = json.loads(document)
        top = document[0]
        execution.append(float(top["Execution Time"]))
        planning.append(float(top["Planning Time"]))
        if n == 0:
            plan = top["Plan"]
            rows = int(plan.get("Actual Rows", 0))
            first_buffers = (
                f"shared hit {plan.get('Shared Hit Blocks', 0)},"
                f" read {plan.get('Shared Read Blocks', 0)}"
            )
    with rolled_back(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement.sql, statement.params)
        text = "\n".join(row[0] for row in cursor.fetchall())
    return Explained(label, due, execution, planning, first_buffers, text, rows)


def count_due(database: str, now: datetime) -> int:
    return int(
        psql(
            database,
            "SELECT count(*) FROM tickets_ticket WHERE next_check_at <="
            f" to_timestamp({now.timestamp()})",
        )
    )


# --- 3: the drain (its own process) ----------------------------------------------------


def drain(args: argparse.Namespace) -> int:
    """``watch_sla``'s rounds at simulated times: every ``--step`` s from ``--start`` to
    ``--end``, passes until one finds less than a batch (the command's ``_round``)."""
    setup_django()
    start = datetime.fromisoformat(args.start)
    end = datetime.fromisoformat(args.end)
    step = timedelta(seconds=args.step)
    passes: list[dict[str, Any]] = []
    now = min(start + step, end)
    began = time.time()
    while True:
        while True:
            wall_started = time.time()
            run, statements = one_pass(now, rollback=False)
            find = find_statement(statements)
            passes.append(
                {
                    **asdict(run),
                    "by_label": {},
                    "find_ms": find.seconds * 1000,
                    "at": now.isoformat(),
                    "started": wall_started,
                }
            )
            if run.examined < BATCH:
                break
        if now >= end:
            break
        now = min(now + step, end)
    Path(args.stats).write_text(
        json.dumps({"began": began, "ended": time.time(), "passes": passes})
    )
    return 0


def setup_django() -> None:
    sys.path.insert(0, str(SERVICE))
    import django  # noqa: PLC0415

    django.setup()


# --- 3: relay, writer, samplers --------------------------------------------------------


class Queues:
    """The relay's queues under the bench prefix, emptied every second (the consumers'
    part) and deleted at the end."""

    def __init__(self, prefix: str) -> None:
        from kombu import Connection  # noqa: PLC0415

        from servidesk_shared.events.topology import Topology  # noqa: PLC0415

        self.topology = Topology(prefix)
        self.connection = Connection(BROKER)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._purge, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _purge(self) -> None:
        channel = self.connection.channel()
        while not self.stopping.wait(1.0):
            for queue in self.topology.queues():
                try:
                    queue(channel).purge()
                except Exception:  # not declared yet: nothing to purge
                    channel = self.connection.channel()

    def delete(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        channel = self.connection.channel()
        for queue in self.topology.queues():
            channel.queue_delete(queue.name)
        channel.exchange_delete(self.topology.exchange.name)
        channel.exchange_delete(self.topology.dead_letter_exchange.name)
        self.connection.release()


class Backlog:
    """Samples the outbox rows still to send, twice a second."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        import psycopg  # noqa: PLC0415

        with psycopg.connect(self.database, autocommit=True) as conn:
            while not self.stopping.wait(0.5):
                row = conn.execute(
                    "SELECT count(*) FROM servidesk_outbox_outboxmessage WHERE sent_at IS NULL"
                ).fetchone()
                self.samples.append((time.time(), int(row[0]) if row else 0))

    def unsent(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def peak(self, since: float, until: float) -> int:
        return max((n for at, n in self.samples if since <= at <= until), default=0)

    def busy(self, since: float, until: float) -> float:
        """Seconds (in samples of 0.5 s) in which rows were waiting: the relay's busy time."""
        return 0.5 * sum(1 for at, n in self.samples if since <= at <= until and n > 0)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


def write_tickets(rate: float, until: Callable[[], bool], counter: list[int]) -> None:
    """Open tickets as a client at ``rate`` per second, one per transaction, until ``until()``.

    Each is taken out of the SLA index in the same transaction (``next_check_at`` cleared):
    the drains run at simulated times, when the moments of tickets opened now would be due
    too and mix with the day's."""
    from django.db import transaction  # noqa: PLC0415
    from tickets import services  # noqa: PLC0415
    from tickets.actors import Actor  # noqa: PLC0415
    from tickets.models import Ticket  # noqa: PLC0415

    actor = Actor(id=WRITER_CLIENT, role="client")
    interval = 1 / rate
    started = time.perf_counter()
    n = 0
    while not until():
        delay = started + n * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        with transaction.atomic():
            ticket = services.ticket_create(
                actor=actor,
                title=f"{WRITER_TITLE} {n}",
                description="No puedo entrar en la VPN desde casa.",
            )
            # Out of the watcher's way: at simulated times its moments would be due too.
            Ticket.objects.filter(pk=ticket.pk).update(next_check_at=None)
        n += 1
    counter.append(n)


@dataclass
class Latency:
    events: int
    p50_s: float
    p99_s: float
    max_s: float


def latencies(database: str, since: float, until: float) -> Latency:
    rows = psql(
        database,
        "SELECT extract(epoch FROM sent_at - created_at) FROM servidesk_outbox_outboxmessage"
        " WHERE event_type = 'ticket.created' AND sent_at IS NOT NULL"
        f" AND created_at >= to_timestamp({since}) AND created_at < to_timestamp({until})",
    ).split()
    values = [float(v) for v in rows]
    return Latency(
        len(values),
        percentile(values, 0.5),
        percentile(values, 0.99),
        max(values, default=float("nan")),
    )


def sent_between(database: str, since: float, until: float) -> dict[str, int]:
    rows = psql(
        database,
        "SELECT event_type, count(*) FROM servidesk_outbox_outboxmessage"
        f" WHERE created_at >= to_timestamp({since}) AND created_at < to_timestamp({until})"
        " GROUP BY event_type ORDER BY event_type",
    )
    return {line.split("|")[0]: int(line.split("|")[1]) for line in rows.splitlines() if line}


@dataclass
class Cpu:
    """CPU seconds during a phase: the machine's, and the part of it that was ours."""

    wall: float = 0.0
    machine: float = 0.0
    ours: float = 0.0

    @property
    def others_cores(self) -> float:
        return max(0.0, self.machine - self.ours) / max(self.wall, 1e-9)


class CpuMeter:
    """This process, its children (relay, drain) and every backend of the bench database."""

    def __init__(self, database: str) -> None:
        self.database = database

    def _ours(self, pids: list[int]) -> dict[int, float]:
        name = database_name(self.database)
        backends = psql(
            self.database,
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}'"
            " AND pid <> pg_backend_pid()",
        ).split()
        return {pid: process_cpu_seconds(pid) for pid in [os.getpid(), *pids, *map(int, backends)]}

    @contextmanager
    def measure(self, cpu: Cpu, pids: Callable[[], list[int]]) -> Iterator[None]:
        before, busy, wall = self._ours(pids()), busy_seconds(), time.monotonic()
        yield
        after = self._ours(pids())
        cpu.wall = time.monotonic() - wall
        cpu.machine = busy_seconds() - busy
        cpu.ours = sum(value - before.get(pid, 0.0) for pid, value in after.items())


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    latency: Latency | None = None
    events: dict[str, int] = field(default_factory=dict)
    peak_backlog: int = 0
    relay_rate: float = 0.0
    relay_busy: float = 0.0
    written: int = 0
    cpu: Cpu = field(default_factory=Cpu)
    drain: dict[str, Any] = field(default_factory=dict)
    #: Alerts on the tickets the writer opened meanwhile (due too, in simulated time).
    writer_alerts: int = 0
    #: The find statement at t0 + 24 h right after the drain, before any vacuum.
    after: Explained | None = None


def summarise_drain(stats: dict[str, Any]) -> dict[str, Any]:
    passes = stats["passes"]
    full = [p for p in passes if p["examined"] >= BATCH] or [p for p in passes if p["examined"]]
    alerts = sum(p["warnings"] + p["breaches"] for p in passes)
    seconds = stats["ended"] - stats["began"]
    return {
        "seconds": seconds,
        "passes": len(passes),
        "examined": sum(p["examined"] for p in passes),
        "warnings": sum(p["warnings"] for p in passes),
        "breaches": sum(p["breaches"] for p in passes),
        "closed": sum(p["closed"] for p in passes),
        "alerts_per_s": alerts / seconds if seconds else 0.0,
        "events_per_s": (alerts + sum(p["closed"] for p in passes)) / seconds if seconds else 0.0,
        "busiest_pass_tickets": max((p["examined"] for p in passes), default=0),
        "full_wall_p50": percentile([p["wall_ms"] for p in full], 0.5),
        "full_wall_p99": percentile([p["wall_ms"] for p in full], 0.99),
        "full_db_p50": percentile([p["db_ms"] for p in full], 0.5),
        "full_find_p50": percentile([p["find_ms"] for p in full], 0.5),
        "full_find_p99": percentile([p["find_ms"] for p in full], 0.99),
        "full_passes": len(full),
        "find_first10_p50": percentile([p["find_ms"] for p in full[:10]], 0.5),
        "find_last10_p50": percentile([p["find_ms"] for p in full[-10:]], 0.5),
        "empty_pass_wall_p50": percentile([p["wall_ms"] for p in passes if not p["examined"]], 0.5),
    }


class EventRun:
    """Baseline, the day replayed, the catch-up: the relay and the writer throughout."""

    def __init__(
        self, args: argparse.Namespace, env: dict[str, str], t0: datetime, find: Statement
    ) -> None:
        self.args, self.env, self.t0, self.find = args, env, t0, find
        prefix = f"bench-sla-{uuid.uuid4().hex[:8]}."
        self.relay_env = {
            **env,
            "DJANGO_SETTINGS_MODULE": "core.settings.local",
            "DJANGO_DEBUG": "false",
            "BROKER_URL": BROKER,
            "SERVIDESK_EVENT_PREFIX": prefix,
            "LOG_LEVEL": "WARNING",
        }
        self.queues = Queues(prefix)
        self.backlog: Backlog | None = None
        self.meter = CpuMeter(args.database)
        self.children: list[subprocess.Popen[bytes]] = []
        self.phases: list[Phase] = []

    def run(self) -> list[Phase]:
        self.queues.start()
        self.backlog = Backlog(self.args.database)
        try:
            relay = self.start_relay()
            self.phases.append(self.baseline())
            self.phases.append(
                self.drain_phase(f"the day replayed ({self.args.step:g} s rounds)", self.args.step)
            )
            if not self.args.skip_catch_up:
                self.stop(relay)
                reset(self.args.database)
                relay = self.start_relay()
                self.phases.append(
                    self.drain_phase("catch-up after a day away", DAY.total_seconds())
                )
            self.stop(relay)
        finally:
            for child in self.children:
                if child.poll() is None:
                    self.stop(child)
            self.backlog.stop()
            self.queues.delete()
        return self.phases

    def pids(self) -> list[int]:
        return [child.pid for child in self.children if child.poll() is None]

    def unsent(self) -> int:
        return self.backlog.unsent() if self.backlog else 0

    def start_relay(self) -> subprocess.Popen[bytes]:
        relay = subprocess.Popen(
            [PYTHON, "manage.py", "relay_events"], cwd=SERVICE, env=self.relay_env
        )
        self.children.append(relay)
        time.sleep(3)  # connected, topology declared
        return relay

    @staticmethod
    def stop(process: subprocess.Popen[bytes]) -> None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def settle(self, timeout: float = 600) -> None:
        """Until the outbox is empty (as the backlog sampler last saw it)."""
        deadline = time.monotonic() + timeout
        time.sleep(1)
        while self.unsent() and time.monotonic() < deadline:
            time.sleep(0.5)

    def measured(self, phase: Phase, began: float, ended: float) -> None:
        database = self.args.database
        phase.seconds = ended - began
        phase.latency = latencies(database, began, ended)
        phase.events = sent_between(database, began, ended)
        phase.peak_backlog = self.backlog.peak(began, ended) if self.backlog else 0
        sent = sum(phase.events.values())
        busy = self.backlog.busy(began, ended) if self.backlog else 0.0
        phase.relay_busy = busy
        phase.relay_rate = sent / busy if busy else float("nan")

    def baseline(self) -> Phase:
        """The writer alone."""
        phase = Phase("baseline (no watcher)")
        began = time.time()
        deadline = time.monotonic() + self.args.baseline_seconds
        written: list[int] = []
        with self.meter.measure(phase.cpu, self.pids):
            write_tickets(self.args.rate, lambda: time.monotonic() > deadline, written)
        self.settle()
        phase.written = written[0]
        self.measured(phase, began, time.time())
        assert phase.latency is not None
        print(
            f"baseline: ordinary events p50 {phase.latency.p50_s:.3f} s p99"
            f" {phase.latency.p99_s:.3f} s max {phase.latency.max_s:.3f} s"
            f" ({phase.latency.events})",
            flush=True,
        )
        return phase

    def drain_phase(self, name: str, step: float) -> Phase:
        """The watcher (``--role drain``) from t0 to t0 + 24 h, the writer beside it."""
        phase = Phase(name)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            stats = Path(handle.name)
        command = [
            PYTHON, str(Path(__file__).resolve()), "--role", "drain",
            "--start", self.t0.isoformat(), "--end", (self.t0 + DAY).isoformat(),
            "--step", str(step), "--stats", str(stats),
        ]  # fmt: skip
        written: list[int] = []
        began = time.time()
        watcher = subprocess.Popen(command, cwd=ROOT, env=self.env)
        self.children.append(watcher)
        with self.meter.measure(phase.cpu, self.pids):
            write_tickets(
                self.args.rate,
                lambda: watcher.poll() is not None and self.unsent() == 0,
                written,
            )
        if watcher.wait() != 0:
            raise SystemExit(f"{name}: the watcher failed")
        self.settle()
        phase.written = written[0]
        self.measured(phase, began, time.time())
        phase.drain = summarise_drain(json.loads(stats.read_text()))
        stats.unlink()
        phase.writer_alerts = int(
            psql(
                self.args.database,
                "SELECT count(*) FROM tickets_slaalert a JOIN tickets_ticket t"
                f" ON t.id = a.ticket_id WHERE t.title LIKE '{WRITER_TITLE}%'",
            )
        )
        # What the day's updates left in ``ticket_next_check`` (dead entries, no vacuum yet).
        phase.after = explain(
            "after the drain", self.find, count_due(self.args.database, self.t0 + DAY), 10
        )
        summary, latency = phase.drain, phase.latency
        assert latency is not None
        print(
            f"{name}: {summary['examined']:,} tickets, {summary['warnings']:,} warnings,"
            f" {summary['breaches']:,} breaches, {summary['closed']:,} closed in"
            f" {summary['seconds']:.1f} s ({summary['alerts_per_s']:,.0f} alerts/s);"
            f" relay {phase.relay_rate:,.0f} events/s, peak backlog {phase.peak_backlog:,};"
            f" ordinary events p50 {latency.p50_s:.3f} s p99 {latency.p99_s:.3f} s"
            f" max {latency.max_s:.3f} s ({latency.events})",
            flush=True,
        )
        return phase


# --- the report -------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def render(
    *,
    args: argparse.Namespace,
    t0: datetime,
    index_rows: int,
    explained: list[Explained],
    passes: list[PassRun],
    phases: list[Phase],
    loads: tuple[tuple[float, ...], tuple[float, ...]],
    size: str,
) -> str:
    stamp = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = shlex.join([".venv/bin/python", "bench/sla_watch.py", *sys.argv[1:]])
    lines = [
        f"## SLA watcher at {args.count:,} tickets, {args.open:,} open ({stamp})",
        "",
        f"`flock /tmp/servidesk-bench.lock {command}`: the tickets service's"
        f" `sla_watch.run_pass` on production settings, PostgreSQL on loopback"
        f" (`servidesk_sla_bench`, {size}, arranged at {t0:%Y-%m-%d %H:%M} UTC:"
        f" {args.open:,} open tickets whose next SLA moment is spread over the next 24 h,"
        f" the others closed; {index_rows:,} rows in `ticket_next_check`, the resolved tickets"
        " awaiting their auto-close included). Load average (1, 5, 15 min)"
        f" {', '.join(f'{v:.1f}' for v in loads[0])} before,"
        f" {', '.join(f'{v:.1f}' for v in loads[1])} after; other sessions' tests were"
        f" running on the machine. {describe()}",
        "",
        "**Finding the due tickets**: the statement `run_pass` sends, captured from a real"
        f" pass, under `EXPLAIN (ANALYZE, BUFFERS)`, {args.explain_runs} runs each (rolled"
        " back: it locks what it returns):",
        "",
        "| due at `now` | rows | execution p50 | p99 | first run | planning p50"
        f" | first run's buffers | aim < {FIND_AIM_MS:.0f} ms |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for e in explained:
        lines.append(
            f"| {e.label}: {e.due:,} | {e.rows} | {e.p(0.5):.2f} ms | {e.p(0.99):.2f} ms"
            f" | {e.execution_ms[0]:.2f} ms | {percentile(e.planning_ms, 0.5):.2f} ms"
            f" | {e.first_buffers} | {verdict(e.p(0.99) < FIND_AIM_MS)} |"
        )
    for e in explained:
        lines += ["", f"Plan, {e.label}:", "", "```", e.plan.strip(), "```"]
    lines.append("")
    if passes:
        first = passes[0]
        walls = [p.wall_ms for p in passes]
        dbs = [p.db_ms for p in passes]
        lines += [
            f"**One pass of {first.examined} due tickets** (`now` = t0 + 864 s, the real"
            f" `run_pass`, {len(passes)} runs, each rolled back, so no commit is counted):"
            f" {first.warnings} warnings, {first.breaches} breaches, {first.closed} closed;"
            f" wall p50 {statistics.median(walls):,.0f} ms (max {max(walls):,.0f} ms),"
            f" database time (the sum of the {first.statements:,} statements' durations seen"
            f" from Django) p50 {statistics.median(dbs):,.0f} ms, so"
            f" {statistics.median(walls) - statistics.median(dbs):,.0f} ms in Python."
            " By statement (first run):",
            "",
            "| statement | count | total ms |",
            "|---|---:|---:|",
        ]
        for label, (count, ms) in sorted(first.by_label.items(), key=lambda kv: -kv[1][1]):
            lines.append(f"| `{label}` | {count:,} | {ms:,.1f} |")
        lines.append("")
    if phases:
        base = phases[0]
        assert base.latency is not None
        lines += [
            f"**A day's worth of alerts beside the other events**: `relay_events` (2 relays,"
            f" batches of 200) to RabbitMQ, a client opening {args.rate:g} tickets/s (one"
            " transaction each, which also takes the new ticket out of the SLA index);"
            " latency of those `ticket.created` events from the outbox"
            " row (just before the commit) to `sent_at` (the broker confirmed its batch).",
            "",
            "| phase | wall s | tickets / alerts (warnings, breaches) / closed | watcher"
            " alerts/s | relay events/s while rows waited (s) | peak unsent | ordinary p50"
            " | p99 | max |"
            f" aim: p99 ≤ baseline + {DELAY_ALLOWANCE_S:g} s | other work, cores |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for phase in phases:
            latency = phase.latency
            assert latency is not None
            d = phase.drain
            work = (
                f"{d['examined']:,} / {d['warnings'] + d['breaches']:,} ({d['warnings']:,},"
                f" {d['breaches']:,}) / {d['closed']:,}"
                if d
                else "-"
            )
            alerts_rate = f"{d['alerts_per_s']:,.0f}" if d else "-"
            relay_rate = f"{phase.relay_rate:,.0f} ({phase.relay_busy:,.0f})" if d else "-"
            aim = verdict(latency.p99_s <= base.latency.p99_s + DELAY_ALLOWANCE_S) if d else "-"
            lines.append(
                f"| {phase.name} | {phase.seconds:,.0f} | {work}"
                f" | {alerts_rate} | {relay_rate} | {phase.peak_backlog:,}"
                f" | {latency.p50_s * 1000:,.0f} ms | {latency.p99_s * 1000:,.0f} ms"
                f" | {latency.max_s * 1000:,.0f} ms | {aim} | {phase.cpu.others_cores:.2f} |"
            )
        lines.append("")
        for phase in phases[1:]:
            d = phase.drain
            kind = "full (500)" if d["busiest_pass_tickets"] >= BATCH else "with work"
            lines.append(
                f"- {phase.name}: {d['passes']:,} passes in {d['seconds']:.1f} s, of which"
                f" {d['full_passes']:,} {kind} ({phase.writer_alerts:,} alerts on the writer's"
                " tickets):"
                f" wall p50 {d['full_wall_p50']:,.0f} ms / p99 {d['full_wall_p99']:,.0f} ms,"
                f" database p50 {d['full_db_p50']:,.0f} ms, finding p50"
                f" {d['full_find_p50']:.1f} ms / p99 {d['full_find_p99']:.1f} ms (as Django"
                f" saw it; first ten {d['find_first10_p50']:.1f} ms, last ten"
                f" {d['find_last10_p50']:.1f} ms); busiest pass {d['busiest_pass_tickets']}"
                " tickets."
                f" Events: {', '.join(f'{k} {v:,}' for k, v in phase.events.items())}."
            )
            if phase.after is not None:
                a = phase.after
                lines[-1] += (
                    f" Right after it (no vacuum yet), the find statement at t0 + 24 h"
                    f" ({a.due:,} still due): EXPLAIN execution p50 {a.p(0.5):.2f} ms,"
                    f" p99 {a.p(0.99):.2f} ms, first run {a.execution_ms[0]:.2f} ms"
                    f" ({a.first_buffers})."
                )
    lines += arithmetic(phases, args)
    return "\n".join(lines) + "\n"


def arithmetic(phases: list[Phase], args: argparse.Namespace) -> list[str]:
    """What the drains say about a real day, worked out."""
    replay = next((p for p in phases if p.drain and "replayed" in p.name), None)
    if replay is None:
        return []
    d = replay.drain
    alerts = d["warnings"] + d["breaches"] - replay.writer_alerts
    per_second = (alerts + d["closed"]) / DAY.total_seconds()
    lines = [
        "",
        f"The arithmetic: the day holds {alerts:,} alerts and {d['closed']:,} auto-closes for"
        f" {args.open:,} open tickets, {per_second:.2f} events/s spread over 24 h (a round"
        f" every {args.step:g} s finds {per_second * args.step:.1f} on average). The"
        f" watcher replayed it at {d['events_per_s']:,.0f} events/s, all on this shared"
        f" machine: {d['events_per_s'] / per_second:,.0f} times the day's pace.",
    ]
    if replay.relay_busy:
        lines[-1] += (
            f" The relay, while rows waited, published {replay.relay_rate:,.0f} events/s:"
            f" a day's alerts take it {(alerts + d['closed']) / replay.relay_rate / 60:,.1f}"
            " minutes of work in all."
        )
    catch_up = next((p for p in phases if p.drain and "catch-up" in p.name), None)
    if catch_up is not None and catch_up.relay_busy:
        c = catch_up.drain
        lines.append(
            f"After a day away the passes take 500 tickets at a time, each committing its"
            f" alerts at once (peak {catch_up.peak_backlog:,} unsent): an ordinary event"
            f" committed just after one waits behind them, about 500 /"
            f" {catch_up.relay_rate:,.0f} = {500 / catch_up.relay_rate:.1f} s; the catch-up"
            f" of {c['examined']:,} tickets took {c['seconds']:,.0f} s."
        )
    return lines


# --- main -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--source", default=DEFAULT_DATABASE, help="tickets_api's database")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=50_000, help="open tickets, due over 24 h")
    parser.add_argument("--explain-runs", type=int, default=50)
    parser.add_argument("--pass-runs", type=int, default=10)
    parser.add_argument("--rate", type=float, default=5.0, help="ordinary events per second")
    parser.add_argument("--baseline-seconds", type=float, default=30.0)
    parser.add_argument("--step", type=float, default=15.0, help="simulated s between rounds")
    parser.add_argument("--skip-events", action="store_true", help="only 1 and 2")
    parser.add_argument("--skip-catch-up", action="store_true")
    parser.add_argument("--append-docs", action="store_true")
    parser.add_argument("--role", choices=("main", "drain"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--start", help=argparse.SUPPRESS)
    parser.add_argument("--end", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.role == "drain":
        return drain(args)
    loads_before = os.getloadavg()
    _private_pem, public_pem = keypair()
    env = service_env(database=args.database, public_pem=public_pem, service=SERVICE)
    ensure_copy(args, env)
    os.environ.update(env)
    setup_django()
    t0 = arrange(args.database, args.open)
    reset(args.database)
    wrong = check_arrangement(t0)
    if wrong:
        raise SystemExit(f"{wrong} sampled tickets: next_check_at is not sla.moments' first")
    index_rows = int(
        psql(args.database, "SELECT count(*) FROM tickets_ticket WHERE next_check_at IS NOT NULL")
    )
    size = psql(args.database, "SELECT pg_size_pretty(pg_database_size(current_database()))")

    # 1 and 2: the find statement and whole passes, rolled back.
    explained: list[Explained] = []
    passes: list[PassRun] = []
    day_find: Statement | None = None
    some = t0 + timedelta(seconds=DAY.total_seconds() * BATCH / args.open)
    for label, now in (("~500 due", some), ("the whole day due", t0 + DAY)):
        run, statements = one_pass(now, rollback=True)
        if label == "~500 due":
            passes.append(run)
            for _ in range(args.pass_runs - 1):
                passes.append(one_pass(now, rollback=True)[0])
        day_find = find_statement(statements)
        explained.append(explain(label, day_find, count_due(args.database, now), args.explain_runs))
        print(
            f"find, {label}: p50 {explained[-1].p(0.5):.2f} ms, p99 {explained[-1].p(0.99):.2f} ms",
            flush=True,
        )
    wall = statistics.median(p.wall_ms for p in passes)
    print(
        f"one pass of {passes[0].examined}: wall p50 {wall:.0f} ms,"
        f" database {statistics.median(p.db_ms for p in passes):.0f} ms,"
        f" {passes[0].statements} statements",
        flush=True,
    )

    phases: list[Phase] = []
    assert day_find is not None
    try:
        if not args.skip_events:
            phases = EventRun(args, env, t0, day_find).run()
    finally:
        from django.db import connection  # noqa: PLC0415

        connection.close()
        reset(args.database)
    loads = (loads_before, os.getloadavg())
    report = render(
        args=args, t0=t0, index_rows=index_rows, explained=explained, passes=passes,
        phases=phases, loads=loads, size=size,
    )  # fmt: skip
    print(report)
    if args.append_docs:
        write_region("sla-watch-bench", report)
        print(f"wrote the run into {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
