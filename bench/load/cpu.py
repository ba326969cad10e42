"""CPU time of every process of a load run, by kind, read from /proc (no psutil).

What one replica of each process kind can carry is its CPU per unit of work (a request,
an event, a mail): a process that spends ``c`` ms of CPU per unit tops out near
``1000 / c`` units per second per core it gets. The run's stack is one process tree
(``memory.label`` names its processes); PostgreSQL's backends are not in it, so they
are told apart by the database named in their title (``postgres: [cluster:] user db host``,
the run's databases being ``<prefix><service>``); locust is found by its locustfile; the
broker (``beam.smp``) is the machine's one RabbitMQ, shared with whatever else runs.

Each snapshot reads every process's user + system time; a process seen at the first
snapshot counts from there, one that appears later (a worker gunicorn replaced, a new
backend) from its start, and one that ends keeps what its last snapshot saw.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import memory
from bench.machine import CLOCK_TICKS, busy_seconds

PROC = Path("/proc")


def _ticks(pid: int) -> int | None:
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])


def _title(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def outside_label(pid: int, database_prefix: str, locustfile: str) -> str | None:
    """A process outside the stack's tree that works for the run, or None."""
    title = _title(pid)
    if title.startswith("postgres: "):
        # "postgres: [cluster: ]user database host state"
        for part in title.split()[1:4]:
            if part.startswith(database_prefix):
                return f"postgres {part.removeprefix(database_prefix)}"
        return None
    if locustfile in title:
        return "locust"
    if "beam.smp" in title and "rabbit" in title:
        return "rabbitmq (whole broker)"
    return None


def kind(label: str) -> str:
    """``tickets worker`` and ``tickets master`` are one kind: the API's gunicorn."""
    service, _, role = label.partition(" ")
    if service == "nginx":
        return "nginx"
    return f"{service} gunicorn" if role in {"worker", "master"} else label


@dataclass
class CpuTracker:
    """Snapshots every ``interval`` seconds in a thread between ``start()`` and ``stop()``."""

    root: int
    database_prefix: str
    locustfile: str
    interval: float = 5.0
    labels: dict[int, str] = field(default_factory=dict)
    first: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-tracker", daemon=True)
        self._busy = (0.0, 0.0)

    def snapshot(self, *, initial: bool = False) -> None:
        stack = set(memory.descendants(self.root))
        for entry in PROC.iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            name = self.labels.get(pid)
            if name is None:
                name = (
                    memory.label(pid)
                    if pid in stack
                    else outside_label(pid, self.database_prefix, self.locustfile)
                )
            if name is None:
                continue
            ticks = _ticks(pid)
            if ticks is None:
                continue
            self.labels[pid] = name
            self.first.setdefault(pid, ticks if initial else 0)
            self.last[pid] = ticks

    def start(self) -> None:
        self.snapshot(initial=True)
        self._busy = (busy_seconds(), 0.0)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.snapshot()
        self._busy = (self._busy[0], busy_seconds())

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.snapshot()

    def seconds_by_kind(self) -> dict[str, float]:
        """CPU seconds spent between ``start()`` and ``stop()``, per process kind."""
        totals: dict[str, float] = defaultdict(float)
        for pid, name in self.labels.items():
            totals[kind(name)] += (self.last[pid] - self.first[pid]) / CLOCK_TICKS
        return dict(totals)

    def processes_by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for name in self.labels.values():
            counts[kind(name)] += 1
        return dict(counts)

    def machine_busy_seconds(self) -> float:
        """CPU seconds every core spent busy meanwhile, whoever's."""
        return self._busy[1] - self._busy[0]
