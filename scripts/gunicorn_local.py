"""gunicorn settings for `make up`: a small, quick-to-start local process per service."""

import os
import shutil
from pathlib import Path
from typing import Any

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = 30
graceful_timeout = 5
# Longer than nginx's upstream keepalive_timeout (60 s) and any client's idle pool (httpx
# keeps one 5 s): the side that closes an idle connection must be the client, or it may
# send a request on a connection gunicorn is closing (gunicorn's default is 2 s; a POST
# lost that way is a 502 from nginx, which never retries one, or a dropped connection).
keepalive = 75
# nginx logs every request with its id; gunicorn only logs errors.
accesslog = None
errorlog = "-"
# gunicorn's runtime control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
# so the five local servers (and any test stacks) would fight over it; nothing here uses it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Prometheus' multiprocess folder of this server (servidesk_shared.metrics), emptied.

    One per service folder and port (two replicas of a service keep apart), under the var
    folder; set before any worker loads the app, which reads it once.
    """
    var = Path(os.environ.get("SERVIDESK_VAR_DIR") or Path(__file__).resolve().parents[1] / "var")
    address = server.address[0] if server.address else ("", 0)
    port = address[1] if isinstance(address, tuple) else Path(str(address)).name
    folder = var / "metrics" / f"{Path.cwd().name}-{port}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def child_exit(server: Any, worker: Any) -> None:
    """A worker gone (recycled, killed): its counts folded into the folder's archives."""
    from servidesk_shared.metrics_files import worker_exited  # noqa: PLC0415 (after the env)

    worker_exited(worker.pid)
