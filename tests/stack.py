"""Start the whole local stack exactly as `make up` does, on free ports, for a test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


def eventually(
    check: Callable[[], T], *, timeout: float = 45, interval: float = 0.5, what: str = ""
) -> T:
    """Poll until ``check`` returns something truthy, and return it: events, deliveries
    and restarts happen asynchronously, by design."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}: {result!r}")
        time.sleep(interval)


ROOT = Path(__file__).resolve().parent.parent
#: The demo seed's users (services/accounts seed_demo), present in every local stack.
DEMO_ADMIN = ("admin", "Mesa-de-ayuda-A1")
DEMO_TECHNICIAN = ("tecnico1", "Mesa-de-ayuda-T1")
SERVICES = ("accounts", "tickets", "notifier", "reports", "web")
POSTGRES_URL = os.environ.get("SERVIDESK_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
RABBITMQ_URL = os.environ.get("SERVIDESK_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
PREFIXES = {
    "accounts": "/api/accounts/",
    "tickets": "/api/tickets/",
    "notifier": "/api/notifications/",
    "reports": "/api/reports/",
    "web": "/",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    base_url: str
    log: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)

    def service_url(self, name: str) -> str:
        """A service's own gunicorn, behind nginx's back (no gateway rate limits)."""
        return f"http://127.0.0.1:{self.env[f'{name.upper()}_PORT']}"

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# From `devstack.py up` to every service ready: migrations and seeds included, which on a
# 2-core machine busy with other runs took up to 3 minutes (then the e2e stack gave up).
READY_TIMEOUT = 420.0


def wait_until_ready(
    base_url: str,
    *,
    exited: Callable[[], str],
    tail: Callable[[], str],
    services: Iterable[str] = SERVICES,
    timeout: float = READY_TIMEOUT,
) -> None:
    """Until each service answers 200 on health/ready through nginx at ``base_url``.

    ``exited()`` names the stack's processes that have exited ("" while none has): the
    wait stops at once then, with ``tail()`` of the logs, instead of running out its time.
    """
    deadline = time.monotonic() + timeout
    pending = set(services)
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while pending and time.monotonic() < deadline:
            if gone := exited():
                raise RuntimeError(f"exited early: {gone}\n{tail()}")
            for name in sorted(pending):
                try:
                    if client.get(f"{PREFIXES[name]}health/ready").status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
    if pending:
        raise RuntimeError(f"not ready after {timeout}s: {sorted(pending)}\n{tail()}")


def wait_ready(stack: Stack, timeout: float = READY_TIMEOUT) -> None:
    wait_until_ready(
        stack.base_url,
        exited=lambda: "the stack" if stack.process.poll() is not None else "",
        tail=stack.tail,
        timeout=timeout,
    )


@contextmanager
def running_stack(var_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    gateway = free_port()
    env = {
        **os.environ,
        "SERVIDESK_VAR_DIR": str(var_dir),
        "GATEWAY_LISTEN": f"127.0.0.1:{gateway}",
        "WEB_CONCURRENCY": "1",
        # The demo desk without its three months of history: ~1,400 events through every
        # consumer would delay each test's own (tickets' seed_demo tests cover it).
        "DEMO_HISTORY": "off",
        **{f"{name.upper()}_PORT": str(free_port()) for name in SERVICES},
        "WEB_EVENTS_PORT": str(free_port()),
        **(extra_env or {}),
    }
    log = var_dir / "stack.log"
    var_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "devstack.py"), "up"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: Ctrl-C semantics for the whole stack
        )
    stack = Stack(base_url=f"http://{env['GATEWAY_LISTEN']}", log=log, process=process, env=env)
    try:
        wait_ready(stack)
        yield stack
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def drop_stack_resources(env: dict[str, str]) -> None:
    """Drop the databases and broker names a throwaway stack created."""
    import psycopg  # noqa: PLC0415
    from kombu import Connection  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
        for name in SERVICES:
            database = env[f"{name.upper()}_DATABASE_URL"].rsplit("/", 1)[1]
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
    prefix = env["SERVIDESK_EVENT_PREFIX"]
    with Connection(env["BROKER_URL"]) as broker:
        channel = broker.default_channel
        queues = ("notifier.events", "reports.events", "tickets.users", "accounts.invites")
        for queue in (*queues, "web.live"):
            for name in (f"{prefix}{queue}", f"{prefix}{queue}.dlq"):
                channel.queue_delete(name)
        for exchange in ("servidesk.events", "servidesk.dlx"):
            channel.exchange_delete(f"{prefix}{exchange}")


def login(gateway: httpx.Client, username: str, password: str) -> dict[str, str]:
    """The Authorization header of ``username``, signed in through the gateway."""
    response = gateway.post(
        "/api/accounts/auth/token/", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access']}"}
