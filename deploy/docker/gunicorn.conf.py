"""gunicorn settings of the service images (docker-compose or any container platform).

Everything that should differ between deployments comes from the environment:
``PORT`` (set per image to the service's contract port), ``WEB_CONCURRENCY`` (worker
processes), ``GUNICORN_WORKER_CLASS`` (``gthread``, the default, or ``sync``),
``GUNICORN_THREADS`` (threads per gthread worker) and ``GUNICORN_TIMEOUT``.

Prometheus metrics (``servidesk_shared.metrics``) add up every worker's counts through
``PROMETHEUS_MULTIPROC_DIR`` (default ``/dev/shm/servidesk-metrics-<PORT>``: a
container's own tmpfs, and one folder per server where several share a machine): set
here, before the app is loaded, emptied when the server starts (a restarted container
must not count its previous life twice), and a dead worker's counts are folded into one
archive file (``child_exit``, ``servidesk_shared.metrics_files``).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

from gunicorn.glogging import Logger

# Before the app (preloaded below) imports prometheus_client, which reads it once.
# Named after the port: servers sharing one /dev/shm (this config run outside containers,
# as the cross tests do) must not empty each other's folder when they start.
METRICS_DIR = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    f"/dev/shm/servidesk-metrics-{os.environ.get('PORT', '8000')}",  # noqa: S108 (a tmpfs)
)
# The preloaded app's metrics open their files in it before on_starting runs.
os.makedirs(METRICS_DIR, exist_ok=True)


def on_starting(server: Any) -> None:
    """An empty metrics folder for this server's workers (the master never serves)."""
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
    os.makedirs(METRICS_DIR, exist_ok=True)


def pre_fork(server: Any, worker: Any) -> None:
    """No database connection or pool of the master reaches a worker.

    Loading the app opens none today; should that change, a forked copy of the master's
    socket, or of a connection pool without its threads, would be shared by every worker.
    """
    from django.db import connections  # noqa: PLC0415 (the app is loaded)

    for connection in connections.all(initialized_only=True):
        connection.close()
        close_pool = getattr(connection, "close_pool", None)  # PostgreSQL's backend has one
        if close_pool is not None:
            close_pool()


def child_exit(server: Any, worker: Any) -> None:
    """A worker gone (recycled, killed): its counts folded into the folder's archives."""
    from servidesk_shared.metrics_files import worker_exited  # noqa: PLC0415 (app loaded)

    worker_exited(worker.pid)


def _cpus() -> int:
    # The CPUs this process may run on (a cpuset limit shows here, unlike cpu_count()).
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _default_workers() -> int:
    # gunicorn's usual 2 x CPUs + 1, capped: each worker holds its own database
    # connections, and five services share one PostgreSQL.
    return min(2 * _cpus() + 1, 4)


bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or _default_workers())
# Threads let one worker wait on the database or another service while serving others,
# and, unlike the sync worker, keep nginx's upstream connections alive between requests.
# A service whose requests are short and spend their time on its own CPU and database
# (tickets) runs sync workers instead: a gthread worker keeps every keep-alive connection
# it accepted, so requests spread unevenly and the slowest wait behind busy threads
# (bench/tickets_api.py: p99 three to five times p50, against about 1.5 with sync
# workers). nginx buffers requests and responses, which the sync worker relies on.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or "gthread"
# gunicorn quietly turns a sync worker with threads > 1 into a gthread one, so a sync
# worker is given one thread whatever GUNICORN_THREADS (set for every service) says.
threads = 1 if worker_class == "sync" else int(os.environ.get("GUNICORN_THREADS") or 4)
# Longer than nginx's upstream keepalive_timeout (60 s): the side that closes an idle
# connection must be nginx, or it may send a request on a connection being closed.
keepalive = 75
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 60)
graceful_timeout = 30
# Recycle workers now and then so slow memory growth never accumulates.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files on a tmpfs: an overlay filesystem can stall them and get workers killed.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (a tmpfs on purpose, private to the container)
# Only nginx reaches the container; trust its X-Forwarded-* from any address on the network.
forwarded_allow_ips = "*"
accesslog = "-"
errorlog = "-"
# No runtime control socket: nothing in a container uses it, and the code's folder and
# the user's home are not writable.
control_socket_disable = True
# Load the app once in the master: a broken settings module fails the container at once
# instead of in a loop of dying workers, and workers share the loaded code pages.
preload_app = True


class JsonAccessLogger(Logger):
    """One JSON object per request, shaped like the services' own log lines.

    The request id is the one the service answered with (it is the one nginx sent, or a
    new one when the request did not come through nginx).
    """

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "service": os.environ.get("SERVIDESK_SERVICE", ""),
            "request_id": atoms.get("{x-request-id}o") or atoms.get("{x-request-id}i") or "-",
            "method": atoms["m"],
            "path": atoms["U"],
            "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
            "bytes": atoms["B"],
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "remote_addr": atoms["h"],
        }
        self.access_log.info(json.dumps(line))


logger_class = JsonAccessLogger
