"""Baseline for issue 5's create aim: django-helpdesk's REST API creating tickets, measured here.

    flock /tmp/servidesk-bench.lock .venv/bin/python bench/helpdesk_baseline.py
    flock /tmp/servidesk-bench.lock .venv/bin/python bench/helpdesk_baseline.py --latest

Issue 5 asks tickets' create to reach "at least 10x what django-helpdesk's API manages on
the same machine (about 60 requests/s with 4 workers)". This measures that figure instead
of assuming it. Nothing of django-helpdesk is committed: it comes from PyPI.

What it does:

1. builds a throwaway virtualenv in ``var/helpdesk_baseline/venv`` (gitignored) with the
   versions pinned in ``bench/helpdesk_baseline/requirements.txt`` (django-helpdesk, its
   dependencies, gunicorn, psycopg), and prints them; ``--latest`` rebuilds it with the
   newest releases PyPI offers for this Python instead, to re-pin;
2. drops and recreates the database ``--database`` (``helpdesk_baseline_bench`` on the local
   PostgreSQL), migrates, and creates one queue and one staff user with a DRF token, a
   logged-in session and a password (``bench/helpdesk_baseline/prepare.py``); the Django
   project around it is ``bench/helpdesk_baseline/hdbench`` (DEBUG off, persistent
   connections as in our services, mail to Django's in-memory backend);
3. for each gunicorn worker class (``--worker-classes``, default 4 sync workers, then
   4 gthread workers x 2 threads), starts gunicorn, warms it up with 3 s of creates and
   drives ``POST /api/tickets/`` (queue, title, description, submitter_email, priority) with
   ``wrk`` for ``--duration`` seconds at ``--connections`` connections, once per way of
   authenticating (``--auth``): a DRF token, a session cookie with its CSRF token, and HTTP
   Basic (which costs one PBKDF2 password check per request, so it measures hashing more
   than ticket creation);
4. counts the 201s wrk saw and the tickets, follow-ups and mailed follow-ups the database
   gained, and records the CPU time of the gunicorn workers and of their PostgreSQL
   backends per request (``CpuMeter`` from ``bench/tickets_api.py``), how many cores other
   work kept busy, and the 1-minute load average before and after.

What one create does in django-helpdesk 2.6 (``TicketSerializer.create`` -> ``TicketForm``),
counted with Django's query capture on one warm request: 19 queries in autocommit (no
transaction around them, so each write commits on its own): 5 writes (the ticket's INSERT and
two UPDATEs of it, the "Ticket Opened" follow-up's INSERT and an UPDATE recording the mail's
recipients) and 14 SELECTs (token and user, the queue five times, custom fields three times,
assignable users, the mail template, ticket dependencies, and the follow-ups with their
attachments for the response). One mail to the submitter is rendered in the request from a
database template (text and HTML) and handed to the mail backend; then
the backlinks check and the ``new_ticket_done`` signal (webhooks, none configured).

Needs ``wrk`` and network access to PyPI for the first run. Everything runs on loopback and
stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402 (needs ROOT on the path when run as a file)
from bench.tickets_api import (  # noqa: E402
    CpuMeter,
    Result,
    children_cpu_seconds,
    parse_wrk,
    psql,
    wait_until_up,
    wrk_output,
)

PROJECT = ROOT / "bench" / "helpdesk_baseline"
REQUIREMENTS = PROJECT / "requirements.txt"
WORK = ROOT / "var" / "helpdesk_baseline"
VENV = WORK / "venv"
VENV_PYTHON = VENV / "bin" / "python"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/helpdesk_baseline_bench"
LATEST = ("django-helpdesk", "gunicorn", "psycopg[binary]")
SHOWN_PACKAGES = ("django-helpdesk", "django", "djangorestframework", "gunicorn", "psycopg")
AUTH_MODES = ("token", "session", "basic")
DESCRIPTION = "La impresora no imprime desde esta mañana."


@dataclass
class Run:
    """One scenario: a worker class and a way of authenticating."""

    worker_class: str
    auth: str
    result: Result
    created_201: int  # 201s wrk counted
    tickets_written: int  # rows helpdesk_ticket gained (includes requests still in flight)
    followups_written: int
    mailed_followups: int  # follow-ups whose email_recipients is not empty
    load_before: float
    load_after: float
    statuses: dict[int, int] = field(default_factory=dict)


# --- the throwaway virtualenv -----------------------------------------------------------


def pip(*args: str) -> None:
    subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True
    )


def ensure_venv(*, latest: bool) -> dict[str, str]:
    """The virtualenv with django-helpdesk installed; returns ``{package: version}``."""
    if latest and VENV.exists():
        shutil.rmtree(VENV)
    if not VENV_PYTHON.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip("install", "--upgrade", "pip")
    if latest:
        pip("install", *LATEST)
    else:
        pip("install", "-r", str(REQUIREMENTS))
    frozen = subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "freeze", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    versions = {}
    for line in frozen.splitlines():
        name, _, version = line.partition("==")
        if version:
            versions[name.lower()] = version
    return versions


# --- the database and the Django project ------------------------------------------------


def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = parts._replace(path="/postgres").geturl()
    psql(maintenance, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(maintenance, f'CREATE DATABASE "{name}"')


def project_env(database: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hdbench.settings",
        "HDBENCH_DATABASE_URL": database,
        "HDBENCH_SECRET_KEY": secrets.token_urlsafe(50),
        "HDBENCH_MEDIA_ROOT": str(WORK / "media"),
        "PYTHONPATH": str(PROJECT),
    }


def prepare(env: dict[str, str]) -> dict[str, str | int]:
    """Migrate, then create the queue, the staff user and its credentials."""
    subprocess.run(
        [str(VENV_PYTHON), "-m", "django", "migrate", "--noinput", "-v0"],
        cwd=PROJECT,
        env=env,
        check=True,
    )
    out = subprocess.run(
        [str(VENV_PYTHON), "prepare.py"],
        cwd=PROJECT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data: dict[str, str | int] = json.loads(out.strip().splitlines()[-1])
    return data


def settle(database: str, timeout: float = 20) -> tuple[int, int, int]:
    """The counts once requests still in flight after wrk stopped have finished: wrk drops
    its open requests unanswered, but gunicorn completes them."""
    deadline = time.monotonic() + timeout
    last = counts(database)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = counts(database)
        if now == last:
            break
        last = now
    return last


def counts(database: str) -> tuple[int, int, int]:
    """Tickets, follow-ups, and follow-ups that recorded a mail sent."""
    row = psql(
        database,
        "SELECT (SELECT count(*) FROM helpdesk_ticket), (SELECT count(*) FROM helpdesk_followup),"
        " (SELECT count(*) FROM helpdesk_followup WHERE email_recipients::text"
        " NOT IN ('', '[]', 'null'))",
    )
    tickets, followups, mailed = (int(v) for v in row.split("|"))
    return tickets, followups, mailed


# --- gunicorn and wrk -------------------------------------------------------------------


def gunicorn_command(worker_class: str, args: argparse.Namespace) -> list[str]:
    command = [
        str(VENV_PYTHON),
        "-m",
        "gunicorn",
        "hdbench.wsgi",
        "--bind",
        f"127.0.0.1:{args.port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        worker_class,
        "--log-level",
        "warning",
        # gunicorn 23+ opens a control socket at one fixed path per user by default; other
        # gunicorns on this shared machine would fight over it.
        "--no-control-socket",
    ]
    if worker_class == "gthread":
        command += ["--threads", str(args.gunicorn_threads)]
    return command


def auth_headers(auth: str, credentials: dict[str, str | int]) -> dict[str, str]:
    if auth == "token":
        return {"Authorization": f"Token {credentials['token']}"}
    if auth == "session":
        csrf = str(credentials["csrftoken"])
        return {
            "Cookie": f"sessionid={credentials['sessionid']}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
        }
    import base64  # noqa: PLC0415

    pair = f"{credentials['username']}:{credentials['password']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def lua_create(headers: dict[str, str], queue: int) -> str:
    """POSTs tickets and counts every response status per thread (printed by done())."""
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    return (
        header_lines
        + "\n"
        + textwrap.dedent(
            f"""
            wrk.headers["Content-Type"] = "application/json"
            wrk.headers["Accept"] = "application/json"
            local threads = {{}}
            local counter = 1
            setup = function(thread)
              thread:set("slot", counter)
              counter = counter + 1
              table.insert(threads, thread)
            end
            statuses = {{}}
            samples = {{}}
            local n = 0
            request = function()
              n = n + 1
              local body = '{{"queue": {queue}, "title": "Benchmark ticket ' .. slot .. '-' ..
                n .. '", "description": "{DESCRIPTION}", ' ..
                '"submitter_email": "client@example.com", "priority": 2}}'
              return wrk.format("POST", "/api/tickets/", nil, body)
            end
            response = function(status, headers, body)
              statuses[status] = (statuses[status] or 0) + 1
              if status ~= 201 and #samples < 3 then
                table.insert(samples, status .. " " .. string.sub(body or "", 1, 300))
              end
            end
            done = function(summary, latency, requests)
              for _, thread in ipairs(threads) do
                for status, count in pairs(thread:get("statuses")) do
                  io.write(string.format("STATUS %d %d\\n", status, count))
                  if status ~= 201 then
                    io.write(string.format("FAILED %d %d\\n", status, count))
                  end
                end
                for _, sample in ipairs(thread:get("samples")) do
                  io.write("SAMPLE " .. string.gsub(sample, "\\n", " ") .. "\\n")
                end
              end
            end
            """
        )
    )


def run_wrk(
    name: str, script: str, args: argparse.Namespace, duration: int
) -> tuple[Result, dict[int, int]]:
    output = wrk_output(
        script,
        port=args.port,
        duration=duration,
        connections=args.connections,
        threads=args.threads,
    )
    try:
        result = parse_wrk(name, output)
    except (AttributeError, ValueError) as exc:
        raise SystemExit(f"cannot read wrk's output for {name}:\n{output}") from exc
    statuses: dict[int, int] = {}
    for status, count in re.findall(r"^STATUS (\d+) (\d+)$", output, re.M):
        statuses[int(status)] = statuses.get(int(status), 0) + int(count)
    # Non-201 successes (none expected) are failures here too.
    result.errors += sum(n for s, n in statuses.items() if s != 201 and s < 400)
    return result, statuses


def run_worker_class(
    worker_class: str,
    args: argparse.Namespace,
    env: dict[str, str],
    credentials: dict[str, str | int],
) -> list[Run]:
    queue = int(credentials["queue"])
    runs: list[Run] = []
    gunicorn = subprocess.Popen(gunicorn_command(worker_class, args), cwd=PROJECT, env=env)
    try:
        wait_until_up(args.port, path="/api/", headers={"Accept": "application/json"})
        meter = CpuMeter(gunicorn.pid, args.database)
        # Warm every worker: imports, its database connection, template and Site caches.
        run_wrk("warm-up", lua_create(auth_headers("token", credentials), queue), args, 3)
        for auth in args.auth:
            name = f"create ({worker_class}, {auth})"
            tickets0, followups0, mailed0 = settle(args.database)
            load_before = os.getloadavg()[0]
            before, wrk_before = meter.snapshot(), children_cpu_seconds()
            result, statuses = run_wrk(
                name, lua_create(auth_headers(auth, credentials), queue), args, args.duration
            )
            result.cpu = meter.between(
                before, meter.snapshot(), children_cpu_seconds() - wrk_before
            )
            tickets1, followups1, mailed1 = settle(args.database)
            run = Run(
                worker_class=worker_class,
                auth=auth,
                result=result,
                created_201=statuses.get(201, 0),
                tickets_written=tickets1 - tickets0,
                followups_written=followups1 - followups0,
                mailed_followups=mailed1 - mailed0,
                load_before=load_before,
                load_after=os.getloadavg()[0],
                statuses=statuses,
            )
            runs.append(run)
            print(progress_line(run), flush=True)
            if not run.created_201 <= run.tickets_written <= run.created_201 + args.connections:
                # More 201s than rows would be answers without a ticket; more rows than 201s
                # plus the requests in flight would be writes we cannot account for.
                print(f"    WARNING: {run.created_201} 201s but {run.tickets_written} tickets")
            for sample in result.error_samples:
                print(f"    {sample[:200]}", flush=True)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    return runs


# --- report -----------------------------------------------------------------------------


def progress_line(run: Run) -> str:
    r = run.result
    return (
        f"{r.name:<28} {r.requests_per_second:7.1f} req/s  p50 {r.p50_ms:7.1f} ms"
        f"  p99 {r.p99_ms:7.1f} ms  201s {run.created_201}  tickets written"
        f" {run.tickets_written}  errors {r.errors}  cpu/req: gunicorn"
        f" {r.per_request_ms(r.cpu.server):.1f} ms, postgres {r.per_request_ms(r.cpu.database):.2f}"
        f" ms; others {r.cpu.others / max(r.cpu.wall, 1e-9):.2f} cores;"
        f" load {run.load_before:.1f}->{run.load_after:.1f}"
    )


def render(
    runs: list[Run],
    *,
    totals: tuple[int, int, int],
    versions: dict[str, str],
    server_version: str,
    args: argparse.Namespace,
    loads: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> str:
    shown = ", ".join(f"{p} {versions.get(p, '?')}" for p in SHOWN_PACKAGES)

    def fmt(values: tuple[float, float, float]) -> str:
        return ", ".join(f"{v:.1f}" for v in values)

    lines = [
        f"## django-helpdesk API baseline ({datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        "`flock /tmp/servidesk-bench.lock "
        + " ".join([".venv/bin/python", "bench/helpdesk_baseline.py", *sys.argv[1:]])
        + "`",
        "",
        f"{shown}; Python {sys.version.split()[0]}; PostgreSQL {server_version}. "
        f"gunicorn {args.workers} workers (gthread: x {args.gunicorn_threads} threads), "
        f"DEBUG off; wrk {args.threads} thread(s), {args.connections} connections, "
        f"{args.duration} s per scenario; client, server and database on one machine "
        f"({describe()}). Load average (1, 5, 15 min) "
        f"{fmt(loads[0])} before and {fmt(loads[1])} after.",
        "",
        "| workers | auth | req/s | p50 ms | p99 ms | 201s | tickets written | errors "
        "| CPU ms/req gunicorn | CPU ms/req postgres | other work, cores | load 1 min |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        r = run.result
        errors = str(r.errors)
        if r.error_kinds:
            errors += " (" + ", ".join(f"{k} x{n}" for k, n in r.error_kinds.items()) + ")"
        lines.append(
            f"| {run.worker_class} | {run.auth} | {r.requests_per_second:.1f} | {r.p50_ms:.1f} "
            f"| {r.p99_ms:.1f} | {run.created_201:,} | {run.tickets_written:,} | {errors} "
            f"| {r.per_request_ms(r.cpu.server):.2f} | {r.per_request_ms(r.cpu.database):.2f} "
            f"| {r.cpu.others / max(r.cpu.wall, 1e-9):.2f} "
            f"| {run.load_before:.1f} -> {run.load_after:.1f} |"
        )
    lines += [
        "",
        "201s: responses wrk counted; tickets written: rows the database gained, which also "
        "holds the requests still in flight when wrk stopped (at most one per connection). "
        f"The whole run, warm-ups included, wrote {totals[0]:,} tickets and {totals[1]:,} "
        f"follow-ups, {totals[2]:,} of them recording the mail sent to the submitter.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--worker-classes", nargs="+", default=["sync", "gthread"], choices=("sync", "gthread")
    )
    parser.add_argument("--gunicorn-threads", type=int, default=2, help="per gthread worker")
    parser.add_argument("--auth", nargs="+", default=list(AUTH_MODES), choices=AUTH_MODES)
    parser.add_argument("--port", type=int, default=8198)
    parser.add_argument(
        "--latest", action="store_true", help="rebuild the venv with the newest releases"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 1

    loads_before = os.getloadavg()
    versions = ensure_venv(latest=args.latest)
    print("installed: " + ", ".join(f"{k}=={v}" for k, v in sorted(versions.items())))
    recreate_database(args.database)
    env = project_env(args.database)
    credentials = prepare(env)
    server_version = psql(args.database, "SHOW server_version").split()[0]
    print(
        f"database {urlsplit(args.database).path.lstrip('/')} ready: queue {credentials['queue']},"
        f" {credentials['email_templates']} mail templates, hasher"
        f" {credentials['password_hasher']}",
        flush=True,
    )

    runs: list[Run] = []
    for worker_class in args.worker_classes:
        runs += run_worker_class(worker_class, args, env, credentials)
    loads = (loads_before, os.getloadavg())
    totals = settle(args.database)
    print(
        render(
            runs,
            totals=totals,
            versions=versions,
            server_version=server_version,
            args=args,
            loads=loads,
        )
    )

    record = WORK / f"run-{datetime.now(tz=UTC):%Y%m%dT%H%M%S}.json"
    record.write_text(
        json.dumps(
            {
                "argv": sys.argv,
                "versions": versions,
                "loads": loads,
                "totals": {"tickets": totals[0], "followups": totals[1], "mailed": totals[2]},
                "runs": [asdict(run) for run in runs],
            },
            indent=2,
        )
    )
    print(f"raw figures: {record.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
