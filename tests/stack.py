"""Start the whole local stack exactly as `make up` does, on free ports, for a test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("accounts", "tickets", "notifier", "reports", "web")
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

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def wait_ready(stack: Stack, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    pending = set(SERVICES)
    with httpx.Client(base_url=stack.base_url, timeout=5) as client:
        while pending and time.monotonic() < deadline:
            if stack.process.poll() is not None:
                raise RuntimeError(f"the stack exited early:\n{stack.tail()}")
            for name in sorted(pending):
                try:
                    if client.get(f"{PREFIXES[name]}health/ready").status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
    if pending:
        raise RuntimeError(f"not ready after {timeout}s: {sorted(pending)}\n{stack.tail()}")


@contextmanager
def running_stack(var_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    gateway = free_port()
    env = {
        **os.environ,
        "SERVIDESK_VAR_DIR": str(var_dir),
        "GATEWAY_LISTEN": f"127.0.0.1:{gateway}",
        "WEB_CONCURRENCY": "1",
        **{f"{name.upper()}_PORT": str(free_port()) for name in SERVICES},
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
    stack = Stack(base_url=f"http://127.0.0.1:{gateway}", log=log, process=process)
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
