"""The whole stack with every Procfile process started on its own, so a test can kill one.

`make up` runs the Procfile under honcho, which stops everything when one process exits:
fine for a developer, useless for a test that SIGKILLs a relay and starts it again. This
launcher prepares the stack with `scripts/devstack.py prepare` (the same migrations, seeds
and nginx config as `make up`), then runs each Procfile line itself, in a process group
of its own with its own log, and can kill and restart any of them by name.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from stack import ROOT, SERVICES, free_port, wait_until_ready

PROCFILE_LINE = re.compile(r"^(?P<name>[\w-]+):\s*(?P<command>.+)$")
NGINX_DIRS = "/usr/sbin:/usr/local/sbin"


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """name -> shell command, in the Procfile's order."""
    processes: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = PROCFILE_LINE.match(line.strip())
        if match and not line.lstrip().startswith("#"):
            processes[match["name"]] = match["command"]
    return processes


class ProcessStack:
    """Every process of the Procfile, each started, stopped and killed on its own."""

    def __init__(self, var_dir: Path, extra_env: dict[str, str]) -> None:
        self.var_dir = var_dir.resolve()
        self.commands = procfile()
        gateway = free_port()
        self.env: dict[str, str] = {
            **os.environ,
            "SERVIDESK_VAR_DIR": str(self.var_dir),
            "GATEWAY_LISTEN": f"127.0.0.1:{gateway}",
            "DJANGO_SETTINGS_MODULE": "core.settings.local",
            "WEB_CONCURRENCY": "1",
            # The demo desk without its three months of history: ~1,400 events through every
            # consumer would delay each test's own (tickets' seed_demo tests cover it).
            "DEMO_HISTORY": "off",
            "PYTHONUNBUFFERED": "1",
            # What devstack puts first on honcho's PATH: this venv's tools, then nginx.
            "PATH": os.pathsep.join(
                [str(Path(sys.executable).parent), os.environ.get("PATH", ""), NGINX_DIRS]
            ),
            **{f"{name.upper()}_PORT": str(free_port()) for name in SERVICES},
            "WEB_EVENTS_PORT": str(free_port()),  # web-events, the live UI's stream
            **extra_env,
        }
        self.base_url = f"http://{self.env['GATEWAY_LISTEN']}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        #: The environment of each replica (``add_replica``), over the stack's.
        self._replica_env: dict[str, dict[str, str]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        (self.var_dir / "logs").mkdir(parents=True, exist_ok=True)

    # --- addresses ------------------------------------------------------------------

    def service_url(self, name: str) -> str:
        """A service's own gunicorn, behind nginx's back (no gateway rate limits)."""
        return f"http://127.0.0.1:{self.env[f'{name.upper()}_PORT']}"

    def log_path(self, name: str) -> Path:
        return self.var_dir / "logs" / f"{name}.log"

    def log(self, name: str) -> str:
        return self.log_path(name).read_text(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(
            f"--- {name}\n" + "\n".join(self.log(name).splitlines()[-lines:])
            for name in self.commands
            if self.log_path(name).exists()
        )

    # --- lifecycle ------------------------------------------------------------------

    def prepare(self) -> None:
        """`make prepare` for this environment: migrate, seed, render nginx's config."""
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "devstack.py"), "prepare"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"devstack prepare failed:\n{result.stdout}\n{result.stderr}")

    def add_replica(self, name: str, replica: str, **env: str) -> None:
        """``replica``: one more copy of ``name``'s Procfile line, with ``env`` over the
        stack's environment (another port, say); started, stopped and logged by its name."""
        self.commands[replica] = self.commands[name]
        self._replica_env[replica] = {**self.env, **env}

    def start(self, name: str) -> None:
        if self.running(name):
            return
        log = self._logs.get(name) or open(self.log_path(name), "ab")  # noqa: SIM115 (kept open)
        self._logs[name] = log
        log.write(f"=== started at {time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        self.processes[name] = subprocess.Popen(
            ["/bin/sh", "-c", self.commands[name]],
            cwd=ROOT,
            env=self._replica_env.get(name, self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a signal reaches it and its children only
        )

    def start_all(self) -> None:
        for name in self.commands:
            self.start(name)

    def running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, timeout: float = 30) -> int:
        """Send ``sig`` to the process group of ``name``, wait for it to be gone (SIGKILL
        after ``timeout``); its exit code (negative: the signal that ended it)."""
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait(timeout=10)

    def stop(self, name: str) -> int:
        """What Ctrl-C or a container stop does: SIGTERM, then SIGKILL if it lingers."""
        return self.kill(name, signal.SIGTERM)

    def close(self, timeout: float = 30) -> None:
        """Stop everything at once (as Ctrl-C would), SIGKILL whatever outlives ``timeout``."""
        running = [p for p in self.processes.values() if p.poll() is None]
        for process in running:
            os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for log in self._logs.values():
            log.close()

    # --- readiness ------------------------------------------------------------------

    def wait_ready(self, services: tuple[str, ...] = SERVICES, timeout: float = 300) -> None:
        """Until each service answers 200 on health/ready through nginx."""
        wait_until_ready(
            self.base_url,
            exited=lambda: ", ".join(n for n, p in self.processes.items() if p.poll() is not None),
            tail=self.tail,
            services=services,
            timeout=timeout,
        )


@contextmanager
def process_stack(var_dir: Path, extra_env: dict[str, str]) -> Iterator[ProcessStack]:
    stack = ProcessStack(var_dir, extra_env)
    try:
        stack.prepare()
        stack.start_all()
        stack.wait_ready()
        yield stack
    finally:
        stack.close()
