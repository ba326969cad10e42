"""Benchmark of the tickets API with a million tickets in PostgreSQL, through gunicorn.

    flock /tmp/servidesk-bench.lock .venv/bin/python bench/tickets_api.py
    flock /tmp/servidesk-bench.lock .venv/bin/python bench/tickets_api.py --append-docs

Comparing two versions of the code in one session (issue 16), back to back::

    .venv/bin/python bench/helpdesk_baseline.py --worker-classes sync --auth token
    flock /tmp/servidesk-bench.lock .venv/bin/python bench/tickets_api.py \
        --code /path/to/old/checkout --label before
    flock /tmp/servidesk-bench.lock .venv/bin/python bench/tickets_api.py --label after \
        --compare-with var/tickets_bench/run-...-before.json \
        --helpdesk-record var/helpdesk_baseline/run-....json

``--code`` measures another checkout's tickets service with its own ``.venv``; every run
leaves its figures in ``var/tickets_bench/``, which ``--compare-with`` reads to judge
create and status change against the earlier code, and ``--helpdesk-record`` reads
django-helpdesk's create rate measured by ``bench/helpdesk_baseline.py``.

``--append-docs`` writes the run into docs/benchmarks.md between
``<!-- tickets-bench:start -->`` and ``<!-- tickets-bench:end -->``: the new run first, the
run it replaces summarised below it, anything older dropped.

What it does:

1. makes sure the database (``--database``, default ``servidesk_tickets_bench`` on the
   local PostgreSQL) is migrated and holds ``--count`` tickets, loading what is missing
   with ``manage.py seed_tickets`` (COPY);
2. starts gunicorn (``--workers`` workers of ``--worker-class``) on the production
   settings, with a throwaway RS256 key pair whose private half signs the benchmark's
   tokens, and the per-user write throttle off (every create comes from one user);
3. drives each scenario with ``wrk`` for ``--duration`` seconds at ``--connections``
   concurrent connections, and reads requests/s, p50 and p99 and the error count, with
   each error's status (or socket error) and the first error bodies;
4. records, per scenario, the CPU time spent by the gunicorn workers, by their PostgreSQL
   backends and by wrk (from /proc), and how busy the whole machine was: on a shared
   machine the CPU per request is the steady figure, rates and latencies follow the load.

gunicorn runs sync workers by default (8, gunicorn's usual 2 x cores + 1 rounded up to
cover 16 connections' worth of database waits): each takes the next connection from the
shared listen queue when it is free. With gthread workers a keep-alive connection stays
with the worker that accepted it, so 16 connections spread unevenly over 4 x 2 threads
and the unlucky ones queue: p99 drifts far above p50, much further than with sync workers
at the same rate (figures in ``docs/benchmarks.md``). In production nginx buffers requests
and responses in front of gunicorn, which is what the sync worker assumes.

The ``floor (health/live)`` scenario is Django, the middleware and gunicorn with no
database and no token check: what any request costs before the API does anything.

wrk runs ``--threads`` (default 1) event-loop threads: it shares the cores with gunicorn
and PostgreSQL, and one thread is enough to drive 16 connections at the rates measured.

Scenarios: list (first page, as a technician who sees every ticket), list as a client
(their own ~200), filtered list, full-text search (rotating queries, common and rare
words), detail (random tickets), create (as a client) and status change (each wrk
thread moves its own tickets pending <-> in_progress, so moves never collide).

Needs ``wrk`` (``apt-get install wrk``). Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for ``bench.machine`` when run as a file

from bench.machine import busy_seconds, describe, process_cpu_seconds  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_START = "<!-- tickets-bench:start -->"
DOCS_END = "<!-- tickets-bench:end -->"
PYTHON = sys.executable
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/servidesk_tickets_bench"
SEARCHES = ("impresora", "vpn", "outlook lento", "blue screen", "0x80070005", "teléfono")

#: Issue 5's aims: p99 ceilings in ms, and a floor in requests/s.
P99_AIMS_MS = {"list": 50.0, "detail": 50.0, "search": 150.0}
#: Issue 16's aims against runs of the same session: create at least this many times
#: django-helpdesk's create rate (``bench/helpdesk_baseline.py``), and create and status
#: change no more than this share below the previous code's rates (``--compare-with``).
HELPDESK_CREATE_MULTIPLE = 3.0
MOST_BELOW_PREVIOUS = 0.15
RATE_SCENARIOS = ("create", "status change")
RECORDS = ROOT / "var" / "tickets_bench"


@dataclass
class Cpu:
    """CPU seconds spent during one scenario, by whom."""

    server: float = 0.0  # the gunicorn workers
    database: float = 0.0  # their PostgreSQL backends
    wrk: float = 0.0
    machine_busy: float = 0.0  # every process on the machine, ours included
    wall: float = 0.0

    @property
    def others(self) -> float:
        """CPU time the rest of the machine (other people's work) took meanwhile."""
        return max(0.0, self.machine_busy - self.server - self.database - self.wrk)


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    cpu: Cpu = field(default_factory=Cpu)

    def per_request_ms(self, seconds: float) -> float:
        return seconds / max(1, self.requests) * 1000


def run(args: list[str], env: dict[str, str], *, cwd: Path, **kwargs: object) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, check=True, capture_output=True, text=True, **kwargs
    )
    return done.stdout


def psql(database_url: str, sql: str) -> str:
    return subprocess.run(
        ["psql", database_url, "-tAc", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = parts._replace(path="/postgres").geturl()
    query = f"SELECT 1 FROM pg_database WHERE datname = '{name}'"  # noqa: S608 (our own URL)
    if psql(maintenance, query) != "1":
        psql(maintenance, f'CREATE DATABASE "{name}"')


def keypair() -> tuple[str, str]:
    sys.path.insert(0, str(ROOT / "shared"))
    from servidesk_shared.keys import generate_keypair  # noqa: PLC0415

    pair = generate_keypair()
    return pair.private_pem, pair.public_pem


def token(private_pem: str, user_id: str, role: str) -> str:
    import jwt  # noqa: PLC0415

    now = datetime.now(tz=UTC)
    claims = {
        "token_type": "access",
        "user_id": user_id,
        "role": role,
        "username": user_id,
        "iss": "servidesk-accounts",
        "aud": "servidesk",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=2)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, private_pem, algorithm="RS256")


def service_env(*, database: str, public_pem: str, service: Path) -> dict[str, str]:
    """The environment of the tickets service under gunicorn: production settings on
    ``database``, tokens checked with ``public_pem``, the per-user write throttle off."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings.production",
        "TICKETS_DATABASE_URL": database,
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "JWT_PUBLIC_KEY": public_pem,
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        # One client opens every ticket of the create scenario, one technician changes
        # 500 at once: a per-user write rate would measure the throttle, not the service.
        "THROTTLE_WRITE_USER": "off",
        "THROTTLE_WRITE_ANON": "off",
        "PYTHONPATH": str(service),
    }


def wait_until_up(
    port: int,
    timeout: float = 180,
    *,
    path: str = "/api/tickets/health/live",
    headers: dict[str, str] | None = None,
) -> None:
    """Until ``GET path`` answers 200 on ``port``. Generous: four workers importing Django
    on a busy 2-core machine take a while."""
    import http.client  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path, headers=headers or {})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not come up")


# --- CPU accounting (/proc) -------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class CpuMeter:
    """Reads the CPU counters of gunicorn's workers, their database backends and the box."""

    def __init__(self, gunicorn_pid: int, database: str) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.database = database

    def backend_pids(self) -> list[int]:
        name = urlsplit(self.database).path.lstrip("/")
        rows = psql(
            self.database,
            "SELECT pid FROM pg_stat_activity WHERE datname = "  # noqa: S608 (our own URL)
            f"'{name}' AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )
        return [int(pid) for pid in rows.split()]

    def snapshot(self) -> tuple[float, dict[int, float], float, float]:
        workers = [self.gunicorn_pid, *children(self.gunicorn_pid)]
        server = sum(process_cpu_seconds(pid) for pid in workers)
        backends = {pid: process_cpu_seconds(pid) for pid in self.backend_pids()}
        return server, backends, busy_seconds(), time.monotonic()

    @staticmethod
    def between(
        before: tuple[float, dict[int, float], float, float],
        after: tuple[float, dict[int, float], float, float],
        wrk_seconds: float,
    ) -> Cpu:
        server0, backends0, busy0, wall0 = before
        server1, backends1, busy1, wall1 = after
        # A backend opened during the scenario counts from zero.
        database = sum(cpu - backends0.get(pid, 0.0) for pid, cpu in backends1.items())
        return Cpu(server1 - server0, database, wrk_seconds, busy1 - busy0, wall1 - wall0)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- wrk scripts ------------------------------------------------------------------------

LUA_COMMON = """
local auth = "Bearer {token}"
wrk.headers["Authorization"] = auth
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept-Language"] = "en"
"""

# Counts each response that is not a success by status and keeps the first few bodies, per
# thread; done() prints them for parse_wrk. (Socket errors are in wrk's own summary.)
LUA_ERRORS = """
local threads = {}
local counter = 1
setup = function(thread)
  thread:set("slot", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
failures = {}
samples = {}
response = function(status, headers, body)
  if status >= 400 then
    failures[status] = (failures[status] or 0) + 1
    if #samples < 3 then
      table.insert(samples, status .. " " .. string.sub(body or "", 1, 300))
    end
  end
end
done = function(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("failures")) do
      io.write(string.format("FAILED %d %d\\n", status, count))
    end
    for _, sample in ipairs(thread:get("samples")) do
      io.write("SAMPLE " .. string.gsub(sample, "\\n", " ") .. "\\n")
    end
  end
end
"""


def lua_paths(token_: str, paths: list[str]) -> str:
    items = ", ".join(f'"{p}"' for p in paths)
    return (
        LUA_COMMON.format(token=token_)
        + LUA_ERRORS
        + textwrap.dedent(
            f"""
            local paths = {{{items}}}
            local n = 0
            request = function()
              n = n + 1
              return wrk.format("GET", paths[(n % #paths) + 1])
            end
            """
        )
    )


def lua_create(token_: str) -> str:
    return (
        LUA_COMMON.format(token=token_)
        + LUA_ERRORS
        + textwrap.dedent(
            """
            local n = 0
            request = function()
              n = n + 1
              local body = '{"title": "Benchmark ticket ' .. n .. '", "description": ' ..
                '"La impresora no imprime desde esta mañana.", "priority": "high"}'
              return wrk.format("POST", "/api/tickets/", nil, body)
            end
            """
        )
    )


def lua_status(token_: str, ids: list[int], threads: int) -> str:
    """Each wrk thread walks its own tickets: pending -> in_progress on the first pass,
    back on the second. A thread never reaches the same ticket twice in one pass, and
    with ``len(ids)`` well above what one run sends, two requests never race for a ticket."""
    chunks = [ids[i::threads] for i in range(threads)]
    tables = ", ".join("{" + ", ".join(map(str, chunk)) + "}" for chunk in chunks)
    return (
        LUA_COMMON.format(token=token_)
        + LUA_ERRORS
        + textwrap.dedent(
            f"""
            local chunks = {{{tables}}}
            local mine, n = nil, 0
            request = function()
              if mine == nil then mine = chunks[slot] end
              local i = (n % #mine) + 1
              local target = (math.floor(n / #mine) % 2 == 0) and "in_progress" or "pending"
              n = n + 1
              return wrk.format("POST", "/api/tickets/" .. mine[i] .. "/status/", nil,
                '{{"status": "' .. target .. '"}}')
            end
            """
        )
    )


def parse_wrk(name: str, output: str) -> Result:
    def duration_ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    # Anchored: "64.50%" in wrk's Req/Sec stdev line must not pass for the 50% percentile.
    p50 = duration_ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = duration_ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    kinds: dict[str, int] = {}
    for status, count in re.findall(r"^FAILED (\d+) (\d+)$", output, re.M):
        kinds[f"HTTP {status}"] = kinds.get(f"HTTP {status}", 0) + int(count)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket:
        for kind, count in zip(
            ("connect", "read", "write", "timeout"), socket.groups(), strict=True
        ):
            if int(count):
                kinds[f"socket {kind}"] = int(count)
                errors += int(count)
    samples = re.findall(r"^SAMPLE (.*)$", output, re.M)
    return Result(name, rps, p50, p99, total, errors, kinds, samples)


def wrk(
    name: str, script: str, *, port: int, duration: int, connections: int, threads: int
) -> Result:
    output = wrk_output(
        script, port=port, duration=duration, connections=connections, threads=threads
    )
    try:
        return parse_wrk(name, output)
    except (AttributeError, ValueError) as exc:
        raise SystemExit(f"cannot read wrk's output for {name}:\n{output}") from exc


def wrk_output(script: str, *, port: int, duration: int, connections: int, threads: int) -> str:
    """What wrk prints after running the Lua ``script`` against ``port`` for ``duration`` s."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        output = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                handle.name,
                f"http://127.0.0.1:{port}",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    return output


def build_scenarios(
    *, technician: str, client: str, ids: list[int], pending: list[int], args: argparse.Namespace
) -> dict[str, str]:
    return {
        # No database, no token check: what Django, the middleware and gunicorn cost alone.
        "floor (health/live)": lua_paths(technician, ["/api/tickets/health/live"]),
        "list": lua_paths(technician, ["/api/tickets/"]),
        "list (client)": lua_paths(client, ["/api/tickets/"]),
        "filtered list": lua_paths(
            technician,
            [
                "/api/tickets/?status=pending&priority=high",
                "/api/tickets/?status=in_progress&ordering=-priority",
                "/api/tickets/?category=network&created_after=2026-01-01",
                "/api/tickets/?assignee_id=seed-t-3&status=in_progress",
                "/api/tickets/?unassigned=true&ordering=resolution_due",
            ],
        ),
        "search": lua_paths(technician, [f"/api/tickets/?q={quote_plus(q)}" for q in SEARCHES]),
        "detail": lua_paths(technician, [f"/api/tickets/{i}/" for i in ids]),
        "create": lua_create(client),
        "status change": lua_status(technician, pending, args.threads),
    }


def prepare_data(
    args: argparse.Namespace, env: dict[str, str]
) -> tuple[int, str, list[int], str, list[int]]:
    """Migrate and seed the database; pick the tickets and the client the scenarios use."""
    ensure_database(args.database)
    run([args.python, "manage.py", "migrate", "--noinput", "-v0"], env, cwd=args.service)
    existing = int(psql(args.database, "SELECT count(*) FROM tickets_ticket"))
    if existing < args.count:
        print(f"seeding {args.count - existing:,} tickets ...", flush=True)
        subprocess.run(
            [args.python, "manage.py", "seed_tickets", "--count", str(args.count - existing)],
            cwd=args.service,
            env=env,
            check=True,
        )
    forget_earlier_runs(args.database)
    total = int(psql(args.database, "SELECT count(*) FROM tickets_ticket"))
    size = psql(args.database, "SELECT pg_size_pretty(pg_database_size(current_database()))")
    ids = [
        int(x)
        for x in psql(
            args.database, "SELECT id FROM tickets_ticket ORDER BY random() LIMIT 2000"
        ).split()
    ]
    client = psql(args.database, "SELECT client_id FROM tickets_ticket ORDER BY id DESC LIMIT 1")
    # More than one run can move, so no ticket is moved twice.
    pending = [
        int(x)
        for x in psql(
            args.database,
            "SELECT id FROM tickets_ticket WHERE status = 'pending' ORDER BY random() LIMIT 20000",
        ).split()
    ]
    return total, size, ids, client, pending


#: Tickets the create scenario (and ``bench/sql/ticket_create.sql``) opened.
BENCH_TITLES = "title LIKE 'Benchmark ticket%'"


def forget_earlier_runs(database: str) -> None:
    """Put the data set back as seeded, so every run measures the same one.

    Each run opens thousands of tickets whose text matches one of the searches, and
    leaves their events in the outbox (no relay runs here): run after run the searches
    would find more and the indexes would carry more. Then the search index's pending
    list is merged and the statistics refreshed, as autovacuum would eventually do.
    """
    mine = f"SELECT id FROM tickets_ticket WHERE {BENCH_TITLES}"  # noqa: S608 (constant)
    for sql in (
        f"DELETE FROM tickets_historyentry WHERE ticket_id IN ({mine})",  # noqa: S608
        f"DELETE FROM tickets_comment WHERE ticket_id IN ({mine})",  # noqa: S608
        f"DELETE FROM tickets_ticket WHERE {BENCH_TITLES}",  # noqa: S608
        "DELETE FROM servidesk_outbox_outboxmessage",
        "DELETE FROM servidesk_outbox_aggregatesequence",
        "SELECT gin_clean_pending_list('ticket_search_gin')",
        "VACUUM (ANALYZE) tickets_ticket, tickets_historyentry, servidesk_outbox_outboxmessage",
    ):
        psql(database, sql)


def gunicorn_command(args: argparse.Namespace) -> list[str]:
    command = [
        args.python,
        "-m",
        "gunicorn",
        "core.wsgi",
        "--bind",
        f"127.0.0.1:{args.port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--log-level",
        "warning",
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.gunicorn_threads)]
    return command


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--count", type=int, default=1_000_000, help="tickets in the database")
    parser.add_argument("--duration", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=8, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=("gthread", "sync"))
    parser.add_argument("--gunicorn-threads", type=int, default=2, help="per gthread worker")
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--append-docs", action="store_true")
    parser.add_argument(
        "--code",
        type=Path,
        default=ROOT,
        help="a checkout whose tickets service to measure (another commit, for comparisons)",
    )
    parser.add_argument(
        "--python", help="that checkout's interpreter (default: its .venv, else this one)"
    )
    parser.add_argument("--label", default="", help="names the run in its record and table")
    parser.add_argument(
        "--compare-with", type=Path, help="the record of a run of earlier code, same session"
    )
    parser.add_argument(
        "--helpdesk-record", type=Path, help="bench/helpdesk_baseline.py's record, same session"
    )
    args = parser.parse_args()
    args.code = args.code.resolve()
    args.service = args.code / "services" / "tickets"
    if args.python is None:
        venv_python = args.code / ".venv" / "bin" / "python"
        args.python = str(venv_python) if venv_python.exists() else PYTHON
    return args


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 1

    private_pem, public_pem = keypair()
    env = service_env(database=args.database, public_pem=public_pem, service=args.service)
    total, size, ids, client, pending = prepare_data(args, env)
    technician = token(private_pem, "seed-t-1", "technician")
    client_token = token(private_pem, client, "client")

    scenarios = build_scenarios(
        technician=technician, client=client_token, ids=ids, pending=pending, args=args
    )
    gunicorn = subprocess.Popen(gunicorn_command(args), cwd=args.service, env=env)
    results: list[Result] = []
    load_before = os.getloadavg()
    try:
        wait_until_up(args.port)
        meter = CpuMeter(gunicorn.pid, args.database)
        # Warm every worker's connection and caches first.
        wrk(
            "warm-up",
            scenarios["list"],
            port=args.port,
            duration=3,
            connections=args.connections,
            threads=args.threads,
        )
        for name, script in scenarios.items():
            if args.only and name not in args.only:
                continue
            before, wrk_before = meter.snapshot(), children_cpu_seconds()
            result = wrk(
                name,
                script,
                port=args.port,
                duration=args.duration,
                connections=args.connections,
                threads=args.threads,
            )
            result.cpu = meter.between(
                before, meter.snapshot(), children_cpu_seconds() - wrk_before
            )
            results.append(result)
            print(progress_line(result), flush=True)
            for sample in result.error_samples:
                print(f"    {sample[:200]}", flush=True)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    load = (load_before, os.getloadavg())
    table = render(results, total=total, size=size, args=args, load=load)
    print(table)
    record = write_record(results, args)
    print(f"record of this run: {record.relative_to(ROOT)}")
    if args.append_docs:
        DOCS.write_text(with_run(DOCS.read_text() if DOCS.exists() else "", table))
        print(f"wrote the run into {DOCS.relative_to(ROOT)}")
    return 0


def progress_line(result: Result) -> str:
    cpu = result.cpu
    errors = ", ".join(f"{kind} x{count}" for kind, count in result.error_kinds.items())
    return (
        f"{result.name:<14} {result.requests_per_second:8.0f} req/s  p50 {result.p50_ms:7.2f} ms"
        f"  p99 {result.p99_ms:7.2f} ms  errors {result.errors}{f' ({errors})' if errors else ''}"
        f"  cpu/req: gunicorn {result.per_request_ms(cpu.server):.2f} ms,"
        f" postgres {result.per_request_ms(cpu.database):.2f} ms,"
        f" wrk {result.per_request_ms(cpu.wrk):.2f} ms; others' share of the machine"
        f" {cpu.others / max(cpu.wall, 1e-9):.2f} cores"
    )


def helpdesk_create_rate(record: Path) -> float:
    """django-helpdesk's best create rate in a ``bench/helpdesk_baseline.py`` record."""
    runs = json.loads(record.read_text())["runs"]
    return max(run["result"]["requests_per_second"] for run in runs)


def write_record(results: list[Result], args: argparse.Namespace) -> Path:
    """The run's figures as JSON, for a later run to compare with (``--compare-with``)."""
    RECORDS.mkdir(parents=True, exist_ok=True)
    label = f"-{args.label}" if args.label else ""
    record = RECORDS / f"run-{datetime.now(tz=UTC):%Y%m%dT%H%M%S}{label}.json"
    record.write_text(
        json.dumps(
            {
                "argv": sys.argv,
                "code": str(args.code),
                "label": args.label,
                "results": [asdict(result) for result in results],
            },
            indent=2,
        )
    )
    return record


def aims_verdict(results: list[Result], args: argparse.Namespace) -> list[str]:
    by_name = {r.name: r for r in results}
    lines = []
    for name, ceiling in P99_AIMS_MS.items():
        if name in by_name:
            p99 = by_name[name].p99_ms
            verdict = "met" if p99 < ceiling else "not met"
            lines.append(f"- {name} p99 under {ceiling:.0f} ms: {p99:.1f} ms, **{verdict}**")
    if args.helpdesk_record and "create" in by_name:
        baseline = helpdesk_create_rate(args.helpdesk_record)
        floor = HELPDESK_CREATE_MULTIPLE * baseline
        rate = by_name["create"].requests_per_second
        verdict = "met" if rate >= floor else "not met"
        lines.append(
            f"- create at least {HELPDESK_CREATE_MULTIPLE:.0f} x django-helpdesk's {baseline:,.0f}"
            f" requests/s = {floor:,.0f}: {rate:,.0f}, **{verdict}**"
        )
    if args.compare_with:
        earlier = {
            result["name"]: result
            for result in json.loads(args.compare_with.read_text())["results"]
        }
        for name in RATE_SCENARIOS:
            if name in by_name and name in earlier:
                before = earlier[name]["requests_per_second"]
                rate = by_name[name].requests_per_second
                change = rate / before - 1
                verdict = "met" if change >= -MOST_BELOW_PREVIOUS else "not met"
                lines.append(
                    f"- {name} no more than {MOST_BELOW_PREVIOUS:.0%} below the earlier code's"
                    f" {before:,.0f} requests/s: {rate:,.0f} ({change:+.1%}), **{verdict}**"
                )
    return lines


def render(
    results: list[Result],
    *,
    total: int,
    size: str,
    args: argparse.Namespace,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> str:
    workers = f"{args.workers} {args.worker_class} workers" + (
        f" x {args.gunicorn_threads} threads" if args.worker_class == "gthread" else ""
    )

    def loads(values: tuple[float, float, float]) -> str:
        return ", ".join(f"{v:.1f}" for v in values)

    label = f": {args.label}" if args.label else ""

    lines = [
        f"## Tickets API{label} ({datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        "`flock /tmp/servidesk-bench.lock "
        + shlex.join([".venv/bin/python", "bench/tickets_api.py", *sys.argv[1:]])
        + "`",
        "",
        f"{total:,} tickets in PostgreSQL ({size}); gunicorn {workers}, production "
        f"settings; wrk {args.threads} thread(s), {args.connections} connections, "
        f"{args.duration} s per scenario; client, server and database on the same machine "
        f"({describe()}). Load average (1, 5, 15 min) "
        f"{loads(load[0])} before and {loads(load[1])} after.",
        "",
        "| scenario | req/s | p50 ms | p99 ms | requests | errors | CPU ms/req gunicorn "
        "| CPU ms/req postgres | CPU ms/req wrk | other work, cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        errors = str(r.errors)
        if r.error_kinds:
            errors += " (" + ", ".join(f"{k} x{n}" for k, n in r.error_kinds.items()) + ")"
        lines.append(
            f"| {r.name} | {r.requests_per_second:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.requests:,} | {errors} | {r.per_request_ms(r.cpu.server):.2f} "
            f"| {r.per_request_ms(r.cpu.database):.2f} | {r.per_request_ms(r.cpu.wrk):.2f} "
            f"| {r.cpu.others / max(r.cpu.wall, 1e-9):.2f} |"
        )
    lines += [
        "",
        "CPU columns: CPU time per request of the gunicorn workers, of their PostgreSQL "
        "backends and of wrk (from /proc); the last column is how many of the "
        f"{os.cpu_count()} cores the rest of the machine (other people's work) kept busy "
        "during the scenario.",
        "",
        "Aims in this run (issues 5 and 16):",
        "",
        *aims_verdict(results, args),
    ]
    return "\n".join(lines) + "\n"


# --- docs/benchmarks.md -----------------------------------------------------------------

EARLIER_HEADING = "### Earlier run"


def summarise(run_text: str) -> str:
    """A run cut to its heading, command, setup and table (its notes and older runs go)."""
    lines = run_text.strip().splitlines()
    kept: list[str] = []
    in_table = False
    for line in lines:
        if line.startswith(EARLIER_HEADING):
            break
        if line.startswith("## "):
            kept.append(line.removeprefix("## ").strip() + ":")
            continue
        if line.startswith("|"):
            in_table = True
        elif in_table:
            break  # the first table ends the summary
        kept.append(line)
    return "\n".join(kept).strip()


def with_run(document: str, run_text: str) -> str:
    """``document`` with the tickets region holding ``run_text`` and the run it replaces."""
    if DOCS_START not in document or DOCS_END not in document:
        region = f"{DOCS_START}\n{run_text}\n{DOCS_END}\n"
        return (document.rstrip() + "\n\n" if document.strip() else "") + region
    before, rest = document.split(DOCS_START, 1)
    previous, after = rest.split(DOCS_END, 1)
    body = run_text.rstrip() + "\n"
    if previous.strip():
        body += f"\n{EARLIER_HEADING}\n\n{summarise(previous)}\n"
    return f"{before}{DOCS_START}\n{body}\n{DOCS_END}{after}"


if __name__ == "__main__":
    sys.exit(main())
