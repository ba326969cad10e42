"""Measure the memory and idle CPU of every process kind, for the Kubernetes resources.

    .venv/bin/python deploy/kubernetes/measure_resources.py [--prefix h3]

Runs one of each Procfile process (not the gateway) as its container would: the APIs
under gunicorn with the images' ``deploy/docker/gunicorn.conf.py`` and the pod's
``WEB_CONCURRENCY``/``GUNICORN_THREADS``, the relays, consumers and other workers as
``manage.py`` commands, against databases ``<prefix>_<service>`` on 127.0.0.1 and the
broker on 127.0.0.1 under the event prefix ``<prefix>k8s.`` (so no other stack's queues
are touched). After start-up it warms each API (health, the OpenAPI schema, which imports
every view) and then, for each process kind, prints:

- the PSS and the RSS of the whole process tree in MiB: PSS counts the pages gunicorn's
  master and workers share once, but also divides the Python libraries shared with every
  other process on this machine, so it is a lower bound of the pod's memory; RSS counts
  shared pages in every process, an upper bound,
- the CPU it used over an idle minute (millicores), and
- the peak RSS and CPU time of one worker health check (``deploy/docker/worker_health.py``),
  which the workers' exec probes start inside the same container, so their limits must
  hold it too.

The figures and how they became requests and limits are in docs/deployment.md
("Kubernetes: resources").
"""

# A measuring script, like those in scripts/: it starts the project's own commands, prints.
# ruff: noqa: S603, T201

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from kombu import Connection
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
POSTGRES = "postgres://postgres@127.0.0.1:5432"
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
PREFIXES = {
    "accounts": "/api/accounts/",
    "tickets": "/api/tickets/",
    "notifier": "/api/notifications/",
    "reports": "/api/reports/",
    "web": "/",
}
# What deploy/kubernetes/base gives each API's pod (tickets: sync workers, see
# deploy/docker/gunicorn.conf.py).
API_ENV = {
    "accounts": {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"},
    "tickets": {"WEB_CONCURRENCY": "3", "GUNICORN_WORKER_CLASS": "sync", "GUNICORN_THREADS": "1"},
    "notifier": {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"},
    "reports": {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"},
    "web": {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"},
}
WORKERS = {
    "accounts-relay": ("accounts", "relay_events"),
    "accounts-consumer": ("accounts", "consume_events"),
    "tickets-relay": ("tickets", "relay_events"),
    "tickets-consumer": ("tickets", "consume_events"),
    "tickets-mailbox": ("tickets", "fetch_mail"),
    "tickets-sla": ("tickets", "watch_sla"),
    "notifier-consumer": ("notifier", "consume_events"),
    "notifier-sender": ("notifier", "send_notifications"),
    "notifier-webhooks": ("notifier", "send_webhooks"),
    "reports-consumer": ("reports", "consume_events"),
    "reports-relay": ("reports", "relay_events"),
    "reports-exports": ("reports", "run_exports"),
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def service_env(service: str, prefix: str, var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_DATABASE_URL") and key not in {"DATABASE_URL", "BROKER_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings.local",
        DJANGO_DEBUG="false",
        LOG_LEVEL="WARNING",
        SERVIDESK_VAR_DIR=str(var_dir),
        SERVIDESK_EVENT_PREFIX=f"{prefix}k8s.",
        DATABASE_URL=f"{POSTGRES}/{prefix}_{service}",
        MPLCONFIGDIR=str(var_dir / "matplotlib"),
        INBOUND_MAIL_URL=f"maildir://{var_dir / 'inbox'}",
        ATTACHMENTS_STORAGE_URL=f"file://{var_dir / 'attachments'}",
    )
    if service != "web":
        env["BROKER_URL"] = BROKER
    return env


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def memory_mib(pid: int, field: str) -> float:
    """``field`` (``Pss:``, ``Rss:``) of smaps_rollup summed over the process tree."""
    total = 0
    for member in tree(pid):
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    ticks = 0
    for member in tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLK_TCK


def prepare(prefix: str, var_dir: Path) -> None:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        for service in PREFIXES:
            name = sql.Identifier(f"{prefix}_{service}")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    for service in PREFIXES:
        env = service_env(service, prefix, var_dir)
        # migrate makes the database cache's table too (servidesk_shared.cache).
        for command in (["migrate", "--noinput"],):
            subprocess.run(
                [PYTHON, "manage.py", *command],
                cwd=ROOT / "services" / service,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )


def cleanup(prefix: str) -> None:
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        for service in PREFIXES:
            name = sql.Identifier(f"{prefix}_{service}")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    with Connection(BROKER) as broker:
        channel = broker.default_channel
        for queue in ("notifier.events", "reports.events", "tickets.users", "accounts.invites"):
            for queue_name in (f"{prefix}k8s.{queue}", f"{prefix}k8s.{queue}.dlq"):
                channel.queue_delete(queue_name)
        for exchange in ("servidesk.events", "servidesk.dlx"):
            channel.exchange_delete(f"{prefix}k8s.{exchange}")


def health_check_cost(service: str, prefix: str, var_dir: Path) -> tuple[float, float]:
    """Peak RSS (MiB) and CPU time (s) of one ``worker_health.py`` run, from wait4."""
    process = subprocess.Popen(
        [PYTHON, ROOT / "deploy" / "docker" / "worker_health.py"],
        cwd=ROOT / "services" / service,
        env=service_env(service, prefix, var_dir),
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"worker_health.py failed for {service}")
    return usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def start_all(
    prefix: str, var_dir: Path, ports: dict[str, int]
) -> dict[str, subprocess.Popen[bytes]]:
    """One of each process kind: the APIs under gunicorn, the workers as commands."""
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for service, extra in API_ENV.items():
        env = {**service_env(service, prefix, var_dir), **extra}
        env["PORT"] = str(ports[service])
        processes[service] = subprocess.Popen(
            [
                GUNICORN,
                "--config",
                ROOT / "deploy" / "docker" / "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{ports[service]}",
                "--access-logfile",
                "/dev/null",
                "core.wsgi",
            ],
            cwd=ROOT / "services" / service,
            env=env,
            start_new_session=True,
        )
    for name, (service, command) in WORKERS.items():
        processes[name] = subprocess.Popen(
            [PYTHON, "manage.py", command],
            cwd=ROOT / "services" / service,
            env=service_env(service, prefix, var_dir),
            start_new_session=True,
        )
    return processes


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", default="h3")
    parser.add_argument("--idle-seconds", type=float, default=60)
    args = parser.parse_args()
    var_dir = Path("/tmp") / f"{args.prefix}-k8s-measure"  # noqa: S108 (scratch only)
    (var_dir / "inbox" / "new").mkdir(parents=True, exist_ok=True)
    for sub in ("cur", "tmp"):
        (var_dir / "inbox" / sub).mkdir(exist_ok=True)
    prepare(args.prefix, var_dir)
    ports = {service: 28101 + index for index, service in enumerate(PREFIXES)}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        processes = start_all(args.prefix, var_dir, ports)
        time.sleep(20)
        # A new connection per request, so every gthread worker gets some (keep-alive
        # would leave them all to one).
        headers = {"Host": "localhost", "Connection": "close"}
        with httpx.Client(headers=headers, timeout=30) as client:
            for service, port in ports.items():
                base = f"http://127.0.0.1:{port}{PREFIXES[service]}"
                for _ in range(30):
                    client.get(f"{base}health/ready").raise_for_status()
                    if service != "web":
                        client.get(f"{base}schema/")
        time.sleep(5)
        start = {name: cpu_seconds(process.pid) for name, process in processes.items()}
        time.sleep(args.idle_seconds)
        dead = [name for name, process in processes.items() if process.poll() is not None]
        if dead:
            print(f"exited early: {dead}", file=sys.stderr)
            return 1
        print("| process | PSS MiB | RSS MiB | idle CPU millicores |")
        print("|---|---:|---:|---:|")
        for name, process in processes.items():
            used = cpu_seconds(process.pid) - start[name]
            millicores = used / args.idle_seconds * 1000
            pss = memory_mib(process.pid, "Pss:")
            rss = memory_mib(process.pid, "Rss:")
            print(f"| {name} | {pss:.1f} | {rss:.1f} | {millicores:.1f} |")
        for service in ("accounts", "tickets", "notifier", "reports"):
            peak, cpu = health_check_cost(service, args.prefix, var_dir)
            print(f"worker_health.py ({service}): peak RSS {peak:.1f} MiB, CPU {cpu:.2f} s")
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        cleanup(args.prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
