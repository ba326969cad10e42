"""Server time of web's ticket pages with a million tickets behind them.

    .venv/bin/python services/web/bench/pages.py            # from the repository root

What it does:

1. makes sure the tickets database (``--database``, by default the one
   ``bench/tickets_api.py`` fills: ``servidesk_tickets_bench`` on the local PostgreSQL)
   holds ``--count`` tickets, loading what is missing with ``manage.py seed_tickets``;
2. starts, on production settings and a throwaway RS256 key pair, gunicorn for tickets
   (that database), notifier (a scratch SQLite database: the bell's unread count) and web
   (a scratch SQLite database for its sessions), and signs a technician's and a client's
   session into web's database;
3. requests each page ``--requests`` times from ``--concurrency`` threads, and reads web's
   own ``Server-Timing`` header (time spent in web, its API calls included) and the time
   the client waited. Every page is one browser request: the list makes two API calls
   (tickets, unread count), the ticket page six (ticket, comments, history, assignees,
   category names, unread count).

Nothing is written to the tickets database; everything runs on loopback and stops by itself.
"""

# ruff: noqa: T201, S603, S607

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus

import httpx

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ROOT / "services"
PYTHON = sys.executable
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/servidesk_tickets_bench"
SEARCHES = ("impresora", "vpn", "outlook lento", "teléfono")


@dataclass
class Result:
    name: str
    server_ms: list[float]
    client_ms: list[float]
    errors: int
    seconds: float

    @staticmethod
    def percentile(values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    def row(self) -> str:
        server, client = self.server_ms, self.client_ms
        return (
            f"| {self.name} | {len(server) / self.seconds:,.0f} "
            f"| {statistics.median(server):.1f} | {self.percentile(server, 0.95):.1f} "
            f"| {self.percentile(server, 0.99):.1f} | {self.percentile(client, 0.95):.1f} "
            f"| {len(server):,} | {self.errors} |"
        )


def psql(url: str, sql: str) -> str:
    done = subprocess.run(["psql", url, "-tAc", sql], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def keypair() -> tuple[str, str]:
    from servidesk_shared.keys import generate_keypair  # noqa: PLC0415

    pair = generate_keypair()
    return pair.private_pem, pair.public_pem


def access_token(private_pem: str, user_id: str, role: str) -> str:
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
        "exp": int((now + timedelta(hours=4)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, private_pem, algorithm="RS256")


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(service: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=SERVICES / service,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


@contextmanager
def gunicorn(service: str, env: dict[str, str], port: int, workers: int) -> Iterator[None]:
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "core.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=SERVICES / service,
        env=env,
    )
    try:
        prefix = {"web": "/", "tickets": "/api/tickets/", "notifier": "/api/notifications/"}
        deadline = time.monotonic() + 60
        while True:
            try:
                url = f"http://127.0.0.1:{port}{prefix[service]}health/live"
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"{service} did not come up")
            time.sleep(0.3)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def base_env(public_pem: str, scratch: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "JWT_PUBLIC_KEY": public_pem,
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "SERVIDESK_VAR_DIR": str(scratch),
        "DATABASE_URL": "",
        "BROKER_URL": "",
    }


SESSION_SNIPPET = """
import sys
from django.contrib.sessions.backends.db import SessionStore
from portal.api.session import sign_in
from portal.api.types import TokenPair
from django.test import RequestFactory
for access in sys.argv[1:]:
    request = RequestFactory().get("/")
    request.session = SessionStore()
    sign_in(request, TokenPair(access, "not-used"))
    request.session.save()
    print("session", request.session.session_key)
"""


def drive(
    name: str, base: str, session: str, paths: list[str], *, requests: int, concurrency: int
) -> Result:
    server: list[float] = []
    client: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(
            base_url=base, cookies={"servidesk_session": session}, timeout=30
        ) as http:
            for n in counter:
                path = paths[n % len(paths)]
                started = time.perf_counter()
                response = http.get(path, headers={"Accept-Language": "es"})
                waited = (time.perf_counter() - started) * 1000
                timing = response.headers.get("server-timing", "app;dur=0")
                with lock:
                    if response.status_code != 200:
                        errors += 1
                        continue
                    server.append(float(timing.split("dur=")[1]))
                    client.append(waited)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(name, server, client, errors, time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--count", type=int, default=1_000_000, help="tickets at least")
    parser.add_argument("--requests", type=int, default=2000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of web, tickets")
    args = parser.parse_args()

    private_pem, public_pem = keypair()
    scratch = Path(tempfile.mkdtemp(prefix="servidesk-web-bench-"))
    env = base_env(public_pem, scratch)
    tickets_env = {**env, "TICKETS_DATABASE_URL": args.database}
    notifier_env = {**env, "NOTIFIER_DATABASE_URL": f"sqlite:///{scratch / 'notifier.sqlite3'}"}
    web_env = {**env, "WEB_DATABASE_URL": f"sqlite:///{scratch / 'web.sqlite3'}"}

    manage("tickets", tickets_env, "migrate", "--noinput", "-v0")
    existing = int(psql(args.database, "SELECT count(*) FROM tickets_ticket"))
    if existing < args.count:
        print(f"seeding {args.count - existing:,} tickets ...", flush=True)
        manage("tickets", tickets_env, "seed_tickets", "--count", str(args.count - existing))
    total = int(psql(args.database, "SELECT count(*) FROM tickets_ticket"))
    ids = psql(args.database, "SELECT id FROM tickets_ticket ORDER BY random() LIMIT 1000").split()
    client_id = psql(
        args.database,
        "SELECT client_id FROM tickets_ticket GROUP BY client_id ORDER BY count(*) DESC LIMIT 1",
    )
    own = psql(
        args.database,
        f"SELECT id FROM tickets_ticket WHERE client_id = '{client_id}' LIMIT 200",  # noqa: S608
    ).split()
    manage("notifier", notifier_env, "migrate", "--noinput", "-v0")
    manage("web", web_env, "migrate", "--noinput", "-v0")
    manage("web", web_env, "collectstatic", "--noinput", "-v0")  # whitenoise's manifest
    tokens = [
        access_token(private_pem, "seed-t-1", "technician"),
        access_token(private_pem, client_id, "client"),
    ]
    output = manage(
        "web", web_env, "shell", "-c", SESSION_SNIPPET.replace("sys.argv[1:]", repr(tokens))
    )
    technician_session, client_session = [
        line.split()[1] for line in output.splitlines() if line.startswith("session ")
    ]

    ports = {name: free_port() for name in ("tickets", "notifier", "web")}
    web_env |= {
        "TICKETS_API_URL": f"http://127.0.0.1:{ports['tickets']}",
        "NOTIFIER_API_URL": f"http://127.0.0.1:{ports['notifier']}",
        "ACCOUNTS_API_URL": "http://127.0.0.1:9",
        "REPORTS_API_URL": "http://127.0.0.1:9",
    }
    base = f"http://127.0.0.1:{ports['web']}"
    scenarios = {
        "queue (technician, 1st page)": (technician_session, ["/tickets/"]),
        "queue, filtered": (
            technician_session,
            [
                "/tickets/?status=pending&priority=high",
                "/tickets/?status=in_progress&ordering=-priority",
                "/tickets/?category=network",
                "/tickets/?assigned=none&ordering=resolution_due",
                "/tickets/?breached=on",
            ],
        ),
        "queue, search": (technician_session, [f"/tickets/?q={quote_plus(q)}" for q in SEARCHES]),
        "my tickets (client)": (client_session, ["/tickets/", "/tickets/?status=pending"]),
        "ticket page (technician)": (technician_session, [f"/tickets/{i}/" for i in ids]),
        "ticket page (client)": (client_session, [f"/tickets/{i}/" for i in own]),
    }
    results: list[Result] = []
    load_before = os.getloadavg()[0]
    with (
        gunicorn("tickets", tickets_env, ports["tickets"], args.workers),
        gunicorn("notifier", notifier_env, ports["notifier"], 2),
        gunicorn("web", web_env, ports["web"], args.workers),
    ):
        # Warm every worker's connections and caches.
        for session, paths in scenarios.values():
            drive("warm-up", base, session, paths, requests=100, concurrency=args.concurrency)
        for name, (session, paths) in scenarios.items():
            random.shuffle(paths)
            result = drive(
                name,
                base,
                session,
                paths,
                requests=args.requests,
                concurrency=args.concurrency,
            )
            results.append(result)
            print(result.row(), flush=True)

    cpu_count = os.cpu_count()
    load_after = os.getloadavg()[0]
    print(
        f"\n## Web pages ({datetime.now(tz=UTC):%Y-%m-%d})\n\n"
        f"{total:,} tickets in PostgreSQL; web, tickets: gunicorn {args.workers} gthread workers "
        f"x 2 threads, production settings; {args.concurrency} concurrent clients, "
        f"{args.requests:,} requests per scenario; all on one machine ({cpu_count} cores; "
        f"1-minute load average {load_before:.1f} before, {load_after:.1f} after).\n"
        f"Server = web's own Server-Timing (its API calls included); client = as waited for.\n\n"
        "| page | req/s | server p50 ms | server p95 ms | server p99 ms | client p95 ms "
        "| requests | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    for result in results:
        print(result.row())
    failed = [r.name for r in results if r.errors]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
