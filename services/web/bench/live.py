"""Open event streams on web-events: memory of the process, and commit → browser latency.

    .venv/bin/python services/web/bench/live.py --streams 1000 --rate 50 --seconds 60

What it does:

1. migrates a scratch web database on the local PostgreSQL (``--database``) and signs
   ``--streams`` staff sessions into it, spread over ``--tickets`` tickets;
2. starts web-events as the Procfile does (uvicorn, ``core.asgi``) on a free port;
3. opens every stream (``GET /events/?ticket=<id>``, plain sockets, one asyncio loop) and
   reads the process's resident memory once they are all open;
4. writes ticket rows into the live table at ``--rate`` per second for ``--seconds``
   (``portal.live.services.ticket_event_record``, each in its own transaction, as the
   web-live consumer does), noting each row's commit time; every stream notes when each
   event reached it. Latency = arrival minus commit, over every delivery.

It measures web's part of the path (the row committed → the browser), not tickets'
outbox, the relay and the broker before it (``bench/events.py`` measures those). The
database is dropped at the end.
"""

# ruff: noqa: T201, S603

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

WEB = Path(__file__).resolve().parents[1]
ROOT = WEB.parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children (uvicorn runs one process here)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def setup_django(database_url: str, var_dir: str) -> None:
    os.environ["WEB_DATABASE_URL"] = database_url
    os.environ["SERVIDESK_VAR_DIR"] = var_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "core.settings.local"
    sys.path.insert(0, str(WEB))
    import django  # noqa: PLC0415

    django.setup()


def create_database(url: str) -> None:
    import psycopg  # noqa: PLC0415

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg  # noqa: PLC0415

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sessions(count: int) -> list[str]:
    from django.conf import settings  # noqa: PLC0415
    from django.contrib.sessions.backends.db import SessionStore  # noqa: PLC0415
    from portal.api.session import TOKENS_KEY, USER_KEY  # noqa: PLC0415

    assert settings.SESSION_ENGINE.endswith("db")  # noqa: S101
    keys = []
    for index in range(count):
        session = SessionStore()
        session[TOKENS_KEY] = {"access": "a", "refresh": "r"}
        session[USER_KEY] = {"id": str(1000 + index), "username": "t", "role": "technician"}
        session.save()
        keys.append(session.session_key)
    return keys


class Arrivals:
    def __init__(self) -> None:
        self.times: list[tuple[int, float]] = []
        self.open = 0
        self.lock = threading.Lock()


async def follow(
    port: int, key: str, ticket: int, arrivals: Arrivals, ready: asyncio.Event
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /events/?ticket={ticket} HTTP/1.1\r\nHost: localhost\r\n"
            f"Cookie: servidesk_session={key}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream refused: {status!r}")
    arrivals.open += 1
    ready.set()
    while line := await reader.readline():
        if line.startswith(b"id: "):
            arrivals.times.append((int(line[4:].strip()), time.time()))


async def open_streams(
    port: int, keys: list[str], tickets: int, arrivals: Arrivals
) -> list[asyncio.Task[None]]:
    tasks = []
    for index, key in enumerate(keys):
        ready = asyncio.Event()
        tasks.append(asyncio.create_task(follow(port, key, 1 + index % tickets, arrivals, ready)))
        if index % 50 == 49:
            await asyncio.sleep(0.05)  # as browsers arrive: not all in one instant
    while arrivals.open < len(keys):
        await asyncio.sleep(0.1)
    return tasks


def write_events(rate: float, seconds: float, tickets: int, commits: dict[int, float]) -> None:
    from portal.live import services  # noqa: PLC0415

    from servidesk_shared.events.schemas import (  # noqa: PLC0415
        CommentSnapshot,
        TicketCommented,
        TicketSnapshot,
    )

    now = datetime.now(tz=UTC)
    interval = 1 / rate
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < seconds:
        ticket = 1 + sent % tickets
        data = TicketCommented(
            ticket=TicketSnapshot(
                id=ticket,
                number=f"SD-{ticket}",
                title="t",
                description="",
                status="in_progress",
                priority="medium",
                category="",
                client_id=1,
                assignee_id=None,
                created_at=now,
                updated_at=now,
            ),
            actor_id=1,
            comment=CommentSnapshot(id=sent, author_id=1, body="b", internal=False, created_at=now),
        )
        (row,) = services.ticket_event_record(event_type="ticket.commented", data=data)
        commits[row.id] = time.time()
        sent += 1
        time.sleep(max(0.0, started + sent * interval - time.monotonic()))


def measure(args: argparse.Namespace, keys: list[str], port: int, pid: int) -> None:
    idle = rss_mib(pid)
    arrivals = Arrivals()
    commits: dict[int, float] = {}
    loop = asyncio.new_event_loop()
    tasks = loop.run_until_complete(open_streams(port, keys, args.tickets, arrivals))
    opened = rss_mib(pid)
    writer = threading.Thread(
        target=write_events, args=(args.rate, args.seconds, args.tickets, commits)
    )
    writer.start()
    while writer.is_alive():
        loop.run_until_complete(asyncio.sleep(0.2))
    loop.run_until_complete(asyncio.sleep(2))  # the last ones in flight
    peak = rss_mib(pid)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.close()
    latencies = sorted((at - commits[row]) * 1000 for row, at in arrivals.times if row in commits)
    # Each event goes to the streams that follow its ticket (tickets are taken in turn).
    expected = len(commits) * args.streams // args.tickets
    print(f"streams open: {arrivals.open} (idle process {idle:.0f} MiB)")
    print(f"web-events RSS with every stream open: {opened:.0f} MiB; at the end: {peak:.0f} MiB")
    print(
        f"events written: {len(commits)} at {args.rate:g}/s; deliveries: {len(latencies)}"
        f" (expected about {expected})"
    )
    if latencies:
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"commit → stream: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument(
        "--database",
        default=f"postgres://postgres@127.0.0.1:5432/servidesk_web_live_bench_{uuid.uuid4().hex[:6]}",
    )
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="live-bench-")
    create_database(args.database)
    setup_django(args.database, var_dir)
    from django.core.management import call_command  # noqa: PLC0415

    call_command("migrate", verbosity=0)
    keys = sessions(args.streams)
    port = free_port()
    env = {**os.environ, "WEB_LIVE_KEEPALIVE_SECONDS": "15"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "core.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "2",
        ],
        cwd=WEB,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        measure(args, keys, port, server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        from django.db import connections  # noqa: PLC0415

        connections.close_all()
        drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
