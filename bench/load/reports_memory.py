"""Why reports' gunicorn workers grow: a quick, repeatable stand-in for the load run.

    .venv/bin/python -m bench.load.reports_memory [--rounds 30] [--threads 4]
        [--variant default --variant arena2=MALLOC_ARENA_MAX=2 ...] [--collect]

Each variant runs in a fresh Python process (so ``MALLOC_*`` settings take effect) that
serves reports' endpoints the way a gunicorn gthread worker does (including what
``core/wsgi.py`` does for memory, unless ``--no-worker-setup``): ``--threads`` long-lived
threads, each with its own Django test client (the whole request: middleware, token,
queries, pandas, matplotlib, reportlab, openpyxl) against a real PostgreSQL database.
A round gives every thread one request at once; after each round the process prints its
resident memory and what glibc's allocator holds (``mallinfo2``: bytes in use, bytes
free but kept, number of arenas) and Python's live block count. Periods rotate over the
months of 2025, so every round draws different charts and tables.

The data is ``bench/reports_bench.py``'s generator (``--tickets``, default 20,000: about
800 a month, 60 technicians) in the database ``servidesk_reports_memory``, created and
filled once and reused (``--regenerate`` to fill it again).
"""

# Django is set up in the child, after the environment is chosen.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import reports_bench  # noqa: E402

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/servidesk_reports_memory"
MONTHS = [(f"2025-{m:02d}-01", f"2025-{m:02d}-28") for m in range(1, 13)]
ENDPOINTS = {
    "pdf": "export.pdf",
    "xlsx": "export.xlsx",
    "summary": "summary/",
    "chart": "charts/technicians.png",
    "csv": "export.csv",
}


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def allocator() -> dict[str, float]:
    """glibc's view of this process, in MiB (and the arena count from ``malloc_info``)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    mib = 1024 * 1024
    arenas = _arena_count(libc)
    return {
        "in_use": (info.uordblks + info.hblkhd) / mib,
        "free_kept": info.fordblks / mib,
        "mmapped": info.hblkhd / mib,
        "arenas": arenas,
    }


def _arena_count(libc: Any) -> int:
    libc.open_memstream.restype = ctypes.c_void_p
    buffer, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    text = ctypes.string_at(buffer, size.value).decode()
    libc.free(buffer)
    return text.count("<heap nr=")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Pool:
    """``size`` long-lived threads, each with its own client, like gthread's pool."""

    def __init__(self, size: int, make_client: Callable[[], Any]) -> None:
        self.jobs: list[queue.Queue[tuple[str, dict[str, str]] | None]] = []
        self.done: queue.Queue[str | None] = queue.Queue()
        self.threads = []
        for _ in range(size):
            jobs: queue.Queue[tuple[str, dict[str, str]] | None] = queue.Queue()
            thread = threading.Thread(target=self._serve, args=(jobs, make_client), daemon=True)
            thread.start()
            self.jobs.append(jobs)
            self.threads.append(thread)

    def _serve(self, jobs: queue.Queue[Any], make_client: Callable[[], Any]) -> None:
        from django.db import connection

        client = make_client()
        while (job := jobs.get()) is not None:
            path, params = job
            try:
                response = client.get(f"/api/reports/{path}", params)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.content[:300]!r}")
                if response.streaming:
                    for _chunk in response.streaming_content:
                        pass
                else:
                    _ = response.content
                response.close()
                self.done.put(None)
            except Exception as error:
                self.done.put(repr(error))
        connection.close()

    def round(self, work: list[tuple[str, dict[str, str]]]) -> None:
        """One job per thread, all at once; returns when every one has answered."""
        for jobs, job in zip(self.jobs, work, strict=True):
            jobs.put(job)
        for _ in work:
            error = self.done.get()
            if error:
                raise RuntimeError(error)

    def stop(self) -> None:
        for jobs in self.jobs:
            jobs.put(None)
        for thread in self.threads:
            thread.join()


def _worker_memory_setup() -> Any:
    """``reports.memory``, which core/wsgi.py runs in a worker (None in older trees)."""
    sys.path.insert(0, str(reports_bench.SERVICE))
    try:
        from reports import memory
    except ImportError:
        print("(no reports.memory in this tree)", flush=True)
        return None
    return memory


def child(job: dict[str, Any]) -> None:
    os.environ["REPORTS_BENCH_DATABASE_URL"] = DATABASE_URL
    memory = _worker_memory_setup() if job["worker_setup"] else None
    if memory:
        print(f"(mmap threshold fixed: {memory.fix_mmap_threshold()})", flush=True)
    reports_bench.setup_django()
    if memory:
        memory.freeze_loaded_code()
    from django.test import Client

    from servidesk_testing import auth_header

    def make_client() -> Any:
        # Outside the test runner "testserver" is not an allowed host; 127.0.0.1 is.
        return Client(headers=auth_header(user_id=1, role="admin"), SERVER_NAME="127.0.0.1")

    make_client().get("/api/reports/health/live")  # the URLconf and what it imports
    pool = Pool(job["threads"], make_client)
    mix = job["mix"]

    def report(label: str, seconds: float) -> None:
        line = {"round": label, "rss": rss_mib(), "blocks": sys.getallocatedblocks()}
        line |= allocator() | {"seconds": seconds}
        print(json.dumps(line), flush=True)

    report("idle", 0.0)
    for number in range(1, job["rounds"] + 1):
        started = time.perf_counter()
        work = []
        for index in range(job["threads"]):
            month = MONTHS[(number * job["threads"] + index) % len(MONTHS)]
            kind = mix[(number + index) % len(mix)]
            work.append((ENDPOINTS[kind], {"from": month[0], "to": month[1]}))
        pool.round(work)
        report(str(number), time.perf_counter() - started)
        if job["collect"]:  # diagnosis: how much of "in use" was garbage awaiting the GC
            gc.collect()
            report(f"{number}gc", 0.0)
    pool.stop()


def prepare(tickets: int, regenerate: bool) -> None:
    os.environ["REPORTS_BENCH_DATABASE_URL"] = DATABASE_URL
    reports_bench.ensure_database()
    reports_bench.setup_django()
    from django.core.management import call_command
    from reports.models import TicketFact

    call_command("migrate", verbosity=0)
    if regenerate or TicketFact.objects.count() != tickets:
        print(f"generating {tickets:,} tickets", flush=True)
        reports_bench.generate(tickets, seed=7)


def run_variant(name: str, extra_env: dict[str, str], args: argparse.Namespace) -> list[Any]:
    job = {
        "rounds": args.rounds,
        "threads": args.threads,
        "mix": args.mix.split(","),
        "collect": args.collect,
        "worker_setup": not args.no_worker_setup,
    }
    env = {**os.environ, **extra_env}
    command = [sys.executable, "-m", "bench.load.reports_memory", "--child", json.dumps(job)]
    print(f"\n== {name} {extra_env or ''} (load {os.getloadavg()[0]:.2f})", flush=True)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines = []
    for raw in process.stdout:
        if not raw.startswith("{"):
            print(raw, end="")
            continue
        line = json.loads(raw)
        lines.append(line)
        print(
            f"  round {line['round']:>4}: RSS {line['rss']:6.1f} MiB  malloc in use "
            f"{line['in_use']:6.1f}  free kept {line['free_kept']:6.1f}  mmapped "
            f"{line['mmapped']:5.1f}  arenas {line['arenas']:2d}  py blocks {line['blocks']:>8,}"
            f"  {line['seconds']:5.2f} s",
            flush=True,
        )
    if process.wait():
        raise SystemExit(f"{name}: child failed ({process.returncode})")
    return lines


def summarize(name: str, lines: list[dict[str, Any]]) -> str:
    rounds = [line for line in lines if line["round"].isdigit()]
    first, quarter = rounds[0], rounds[len(rounds) // 4]
    half, last = rounds[len(rounds) // 2], rounds[-1]
    peak = max(line["rss"] for line in rounds)
    return (
        f"{name:<14} idle {lines[0]['rss']:6.1f}  r1 {first['rss']:6.1f}  "
        f"r{quarter['round']} {quarter['rss']:6.1f}  r{half['round']} {half['rss']:6.1f}  "
        f"end {last['rss']:6.1f}  peak {peak:6.1f}  "
        f"quarter->end {100 * (last['rss'] / quarter['rss'] - 1):+5.1f}%  "
        f"half->end {100 * (last['rss'] / half['rss'] - 1):+5.1f}%  "
        f"free kept at end {last['free_kept']:5.1f} MiB, arenas {last['arenas']}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--mix", default="pdf,xlsx,summary,pdf,chart", help=f"cycled over; of {list(ENDPOINTS)}"
    )
    parser.add_argument(
        "--variant",
        action="append",
        help="NAME or NAME=VAR=VALUE[,VAR=VALUE]: the environment of one run (default: "
        "'default' and 'arena2=MALLOC_ARENA_MAX=2')",
    )
    parser.add_argument(
        "--no-worker-setup",
        action="store_true",
        help="skip what core/wsgi.py does for memory in a worker (reports.memory)",
    )
    parser.add_argument(
        "--collect",
        action="store_true",
        help="diagnosis: also report after a full gc.collect() at the end of each round",
    )
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0

    prepare(args.tickets, args.regenerate)
    variants: dict[str, dict[str, str]] = {}
    for spec in args.variant or ["default", "arena2=MALLOC_ARENA_MAX=2"]:
        name, _, settings = spec.partition("=")
        variants[name] = dict(item.split("=", 1) for item in settings.split(",") if item)
    results = {name: run_variant(name, env, args) for name, env in variants.items()}
    print()
    for name, lines in results.items():
        print(summarize(name, lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
