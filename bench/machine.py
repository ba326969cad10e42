"""The machine a benchmark ran on, described the same way in every report.

Sessions run on different machines, and a figure means little without the speed of the
core that produced it. ``reference_loop_ms`` times a fixed pure-Python loop on one core:
a report from a machine whose loop takes twice as long should expect roughly half the
throughput for CPU-bound work, and reports can be scaled against each other by it.
"""

from __future__ import annotations

import os
import platform
import time
from functools import cache
from pathlib import Path

#: Iterations of the reference loop: long enough to time, short enough to repeat.
REFERENCE_ITERATIONS = 1_000_000
REFERENCE_RUNS = 7

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def _reference_loop() -> float:
    started = time.perf_counter()
    total = 0
    for i in range(REFERENCE_ITERATIONS):
        total += i * i
    elapsed = time.perf_counter() - started
    assert total  # keeps the loop's work observable
    return elapsed


@cache
def reference_loop_ms() -> float:
    """The best of several runs of the loop, in ms: the best is the least disturbed."""
    return min(_reference_loop() for _ in range(REFERENCE_RUNS)) * 1000


def describe() -> str:
    """``<n> cores (<model>), <n> GiB, <arch>, Python <version>; reference loop <n> ms``."""
    return (
        f"{os.cpu_count()} cores ({cpu_model()}), {memory_gib():.0f} GiB, "
        f"{platform.machine()}, Python {platform.python_version()}; "
        f"reference loop {reference_loop_ms():.0f} ms (`bench/machine.py`: lower is faster)"
    )


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def busy_seconds() -> float:
    """CPU seconds every core spent on anything but idling, since boot (``/proc/stat``)."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return 0.0
    values = [int(v) for v in first.split()[1:]]
    idle, iowait = values[3], values[4]
    return (sum(values[:8]) - idle - iowait) / CLOCK_TICKS


if __name__ == "__main__":
    print(describe())
