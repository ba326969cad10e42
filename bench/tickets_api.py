"""Benchmark of the tickets API with a million tickets in PostgreSQL, through gunicorn.

    .venv/bin/python bench/tickets_api.py                    # seed if needed, run, print
    .venv/bin/python bench/tickets_api.py --append-docs      # ...and add the figures to
                                                             #    docs/benchmarks.md

What it does:

1. makes sure the database (``--database``, default ``servidesk_tickets_bench`` on the
   local PostgreSQL) is migrated and holds ``--count`` tickets, loading what is missing
   with ``manage.py seed_tickets`` (COPY; about 3 minutes for a million here);
2. starts gunicorn (``--workers`` gthread workers) on the production settings, with a
   throwaway RS256 key pair whose private half signs the benchmark's tokens;
3. drives each scenario with ``wrk`` for ``--duration`` seconds at ``--connections``
   concurrent connections, and reads requests/s, p50 and p99 and the error count.

Scenarios: list (first page, as a technician who sees every ticket), list as a client
(their own ~200), filtered list, full-text search (rotating queries, common and rare
words), detail (random tickets), create (as a client) and status change (each wrk
thread moves its own tickets pending <-> in_progress, so moves never collide).

Needs ``wrk`` (``apt-get install wrk``). Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ROOT / "services" / "tickets"
PYTHON = sys.executable
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/servidesk_tickets_bench"
SEARCHES = ("impresora", "vpn", "outlook lento", "blue screen", "0x80070005", "teléfono")


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def run(args: list[str], env: dict[str, str], **kwargs: object) -> str:
    done = subprocess.run(
        args, cwd=SERVICE, env=env, check=True, capture_output=True, text=True, **kwargs
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


def wait_until_up(port: int, timeout: float = 30) -> None:
    import http.client  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/tickets/health/live")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not come up")


LUA_COMMON = """
local auth = "Bearer {token}"
wrk.headers["Authorization"] = auth
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept-Language"] = "en"
"""


def lua_paths(token_: str, paths: list[str]) -> str:
    items = ", ".join(f'"{p}"' for p in paths)
    return LUA_COMMON.format(token=token_) + textwrap.dedent(
        f"""
        local paths = {{{items}}}
        local n = 0
        request = function()
          n = n + 1
          return wrk.format("GET", paths[(n % #paths) + 1])
        end
        """
    )


def lua_create(token_: str) -> str:
    return LUA_COMMON.format(token=token_) + textwrap.dedent(
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


def lua_status(token_: str, ids: list[int], threads: int) -> str:
    chunks = [ids[i::threads] for i in range(threads)]
    tables = ", ".join("{" + ", ".join(map(str, chunk)) + "}" for chunk in chunks)
    return LUA_COMMON.format(token=token_) + textwrap.dedent(
        f"""
        local chunks = {{{tables}}}
        local counter = 1
        setup = function(thread)
          thread:set("slot", counter)
          counter = counter + 1
        end
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
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket:
        errors += sum(int(g) for g in socket.groups())
    return Result(name, rps, p50, p99, total, errors)


def wrk(
    name: str, script: str, *, port: int, duration: int, connections: int, threads: int
) -> Result:
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
    try:
        return parse_wrk(name, output)
    except (AttributeError, ValueError) as exc:
        raise SystemExit(f"cannot read wrk's output for {name}:\n{output}") from exc


def build_scenarios(
    *, technician: str, client: str, ids: list[int], pending: list[int], args: argparse.Namespace
) -> dict[str, str]:
    return {
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
    run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
    existing = int(psql(args.database, "SELECT count(*) FROM tickets_ticket"))
    if existing < args.count:
        print(f"seeding {args.count - existing:,} tickets ...", flush=True)
        subprocess.run(
            [PYTHON, "manage.py", "seed_tickets", "--count", str(args.count - existing)],
            cwd=SERVICE,
            env=env,
            check=True,
        )
    total = int(psql(args.database, "SELECT count(*) FROM tickets_ticket"))
    size = psql(args.database, "SELECT pg_size_pretty(pg_database_size(current_database()))")
    ids = [
        int(x)
        for x in psql(
            args.database, "SELECT id FROM tickets_ticket ORDER BY random() LIMIT 2000"
        ).split()
    ]
    client = psql(args.database, "SELECT client_id FROM tickets_ticket ORDER BY id DESC LIMIT 1")
    pending = [
        int(x)
        for x in psql(
            args.database,
            "SELECT id FROM tickets_ticket WHERE status = 'pending' ORDER BY random() LIMIT 4000",
        ).split()
    ]
    return total, size, ids, client, pending


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--count", type=int, default=1_000_000, help="tickets in the database")
    parser.add_argument("--duration", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=4, help="wrk threads")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--gunicorn-threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=8199)
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--append-docs", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 1

    private_pem, public_pem = keypair()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings.production",
        "TICKETS_DATABASE_URL": args.database,
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "JWT_PUBLIC_KEY": public_pem,
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(SERVICE),
    }
    total, size, ids, client, pending = prepare_data(args, env)
    technician = token(private_pem, "seed-t-1", "technician")
    client_token = token(private_pem, client, "client")

    scenarios = build_scenarios(
        technician=technician, client=client_token, ids=ids, pending=pending, args=args
    )
    gunicorn = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "core.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(args.gunicorn_threads),
            "--log-level",
            "warning",
        ],
        cwd=SERVICE,
        env=env,
    )
    results: list[Result] = []
    load_before = os.getloadavg()[0]
    try:
        wait_until_up(args.port)
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
            result = wrk(
                name,
                script,
                port=args.port,
                duration=args.duration,
                connections=args.connections,
                threads=args.threads,
            )
            results.append(result)
            print(
                f"{name:<14} {result.requests_per_second:8.0f} req/s  p50 {result.p50_ms:7.2f} ms"
                f"  p99 {result.p99_ms:7.2f} ms  errors {result.errors}",
                flush=True,
            )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)

    load = (load_before, os.getloadavg()[0])
    table = render(results, total=total, size=size, args=args, load=load)
    print(table)
    if args.append_docs:
        docs = ROOT / "docs" / "benchmarks.md"
        docs.parent.mkdir(exist_ok=True)
        with docs.open("a") as handle:
            handle.write(("\n" if docs.exists() and docs.stat().st_size else "") + table)
        print(f"appended to {docs.relative_to(ROOT)}")
    return 0


def render(
    results: list[Result],
    *,
    total: int,
    size: str,
    args: argparse.Namespace,
    load: tuple[float, float],
) -> str:
    cpu = platform.processor() or platform.machine()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        f"## Tickets API ({datetime.now(tz=UTC):%Y-%m-%d})",
        "",
        f"`{' '.join(['.venv/bin/python', 'bench/tickets_api.py', *sys.argv[1:]])}`",
        "",
        f"{total:,} tickets in PostgreSQL ({size}); gunicorn {args.workers} gthread workers x "
        f"{args.gunicorn_threads} threads, production settings; wrk {args.threads} threads, "
        f"{args.connections} connections, {args.duration} s per scenario; client and server "
        f"on the same machine ({os.cpu_count()} cores, {memory:.0f} GiB, {cpu}); 1-minute "
        f"load average {load[0]:.1f} before and {load[1]:.1f} after (other work shares it).",
        "",
        "| scenario | req/s | p50 ms | p99 ms | requests | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.requests_per_second:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.requests:,} | {r.errors} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
