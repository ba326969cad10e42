"""Resident memory of every process of the stack, read from /proc (no psutil).

The stack is one process tree (devstack, honcho, then each Procfile entry): gunicorn
masters and their workers, relays, consumers, notifier's sender, nginx. Each sample walks
the tree again, so a worker gunicorn replaced would show up as a new row.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:  # the process ended between listing and reading
        return ""


def parent_of(pid: int) -> int:
    stat = _read(PROC / str(pid) / "stat")
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    fields = stat.rpartition(")")[2].split()
    return int(fields[1]) if len(fields) > 1 else 0


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            children[parent_of(int(entry.name))].append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_kib(pid: int) -> int | None:
    for line in _read(PROC / str(pid) / "status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def cmdline(pid: int) -> list[str]:
    return [part for part in _read(PROC / str(pid) / "cmdline").split("\0") if part]


def service_of(pid: int) -> str:
    try:
        cwd = Path(os.readlink(PROC / str(pid) / "cwd"))
    except OSError:
        return "?"
    return cwd.name  # each Procfile entry runs from services/<name>


def label(pid: int) -> str | None:
    """What the process is (``tickets worker``, ``notifier consume_events``, ...), or None
    for what does not serve (devstack, honcho, shells, one-shot seeds)."""
    args = cmdline(pid)
    if not args:
        return None
    if args[0].startswith("nginx:"):
        return f"nginx {args[0].split()[1]}"
    if any(Path(arg).name == "gunicorn" for arg in args[:2]):
        parent = cmdline(parent_of(pid))
        role = "worker" if any(Path(a).name == "gunicorn" for a in parent[:2]) else "master"
        return f"{service_of(pid)} {role}"
    if len(args) >= 3 and Path(args[1]).name == "manage.py":
        command = args[2]
        if command in {
            "relay_events",
            "consume_events",
            "send_notifications",
            "send_webhooks",
            "fetch_mail",
            "watch_sla",
        }:
            return f"{service_of(pid)} {command}"
    return None


@dataclass
class Sample:
    at: float  # seconds since the sampler started
    rss: dict[int, int]  # pid -> KiB
    load: float  # the 1-minute load average then


@dataclass
class Sampler:
    """Samples every ``interval`` seconds in a thread until ``stop()``."""

    root: int
    interval: float = 10.0
    labels: dict[int, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> Sample:
        rss = {}
        for pid in descendants(self.root):
            name = self.labels.get(pid) or label(pid)
            value = rss_kib(pid) if name else None
            if name and value is not None:
                self.labels[pid] = name
                rss[pid] = value
        load = float(_read(PROC / "loadavg").split()[0])
        taken = Sample(time.monotonic() - self._started, rss, load)
        self.samples.append(taken)
        return taken

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


@dataclass
class Growth:
    label: str
    pid: int
    idle_kib: int | None
    start_kib: int
    middle_kib: int
    end_kib: int

    @property
    def growth_percent(self) -> float:
        return (self.end_kib - self.start_kib) / self.start_kib * 100

    @property
    def second_half_percent(self) -> float:
        """Growth from the middle to the end: a leak keeps growing, a warm-up step does not."""
        return (self.end_kib - self.middle_kib) / self.middle_kib * 100


def growth(
    idle: Sample | None, samples: list[Sample], warmup: float, labels: dict[int, str]
) -> list[Growth]:
    """Per process: RSS before the load, after ``warmup`` seconds of it (start), halfway
    to the end, and at the end; growth is end against start."""
    steady = [s for s in samples if s.at >= warmup] or samples
    rows = []
    for pid in sorted(labels, key=lambda p: (labels[p], p)):
        seen = [s for s in steady if pid in s.rss]
        if not seen:
            continue
        middle = min(seen, key=lambda s: abs(s.at - (seen[0].at + seen[-1].at) / 2))
        rows.append(
            Growth(
                label=labels[pid],
                pid=pid,
                idle_kib=idle.rss.get(pid) if idle else None,
                start_kib=seen[0].rss[pid],
                middle_kib=middle.rss[pid],
                end_kib=seen[-1].rss[pid],
            )
        )
    return rows
