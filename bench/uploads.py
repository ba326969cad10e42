"""Upload benchmark: a 20 MiB file through the nginx gateway to one gunicorn worker.

    cd /work/main && flock /tmp/servidesk-bench.lock .venv/bin/python bench/uploads.py \
        [--size-mib 20] [--uploads 5] [--write]

What it does:

1. recreates the tickets database ``--database`` (default ``servidesk_bench_uploads`` on
   the local PostgreSQL), migrates it and writes one client into the directory;
2. starts the tickets service under gunicorn (one sync worker, production settings, a
   throwaway RS256 key pair whose private half signs the client's token, files to a
   temporary ``ATTACHMENTS_STORAGE_URL=file:///…`` and uploads spooled to a temporary
   ``FILE_UPLOAD_TEMP_DIR``; ``ATTACHMENT_MAX_BYTES`` raised to 25 MiB, the most one
   request may carry, since the default per file is 10 MiB) and the real gateway in
   front of it: ``scripts/render_nginx.py`` renders a local config with the tickets
   upstream moved to that gunicorn, and ``/usr/sbin/nginx`` runs it;
3. through nginx, as that client: opens a ticket, uploads and downloads a small file
   (the worker imports and warms what an upload needs), then uploads ``--uploads`` times
   a ``--size-mib`` file (a PNG header and random bytes) to
   ``POST /api/tickets/<id>/attachments/`` (multipart ``file``) and downloads each back;
4. times each upload and download (sent to answered in full, on loopback), checks each
   upload answered 201 with the right size and each download's bytes, and reads the
   gunicorn worker's memory from ``/proc/<worker>/status``: ``VmRSS`` before the first
   large upload, and per upload the peak (``VmHWM``, reset between uploads by writing
   ``5`` to ``/proc/<worker>/clear_refs``) and ``VmRSS`` after. CPU per upload of the
   worker and of nginx, from /proc.

Aim (issue 17): the worker grows by no more than 30 MiB for a 20 MiB upload.
``--write`` puts the run into ``docs/benchmarks.md`` between
``<!-- uploads-bench:start -->`` and ``<!-- uploads-bench:end -->``.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for ``bench.machine`` when run as a file

from bench.docs import DOCS, write_region  # noqa: E402
from bench.machine import busy_seconds, describe, process_cpu_seconds  # noqa: E402
from bench.tickets_api import keypair, token  # noqa: E402

SERVICE = ROOT / "services" / "tickets"
NGINX = Path("/usr/sbin/nginx")
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/servidesk_bench_uploads"
MIB = 1024 * 1024
#: The most files one request may carry (``ATTACHMENTS_REQUEST_MAX_BYTES``'s floor).
MAX_FILE_BYTES = 25 * MIB
AIM_GROWTH_MIB = 30.0
CLIENT_ID = "bench-upload-client"
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x04\x00\x00\x00\x03\x00\x08\x02"


# --- helpers ----------------------------------------------------------------------------


def psql(url: str, sql: str) -> str:
    return subprocess.run(
        ["psql", url, "-tAc", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def maintenance_and_name(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts._replace(path="/postgres").geturl(), parts.path.lstrip("/")


def recreate_database(url: str) -> None:
    maintenance, name = maintenance_and_name(url)
    psql(maintenance, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(maintenance, f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    maintenance, name = maintenance_and_name(url)
    psql(maintenance, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise SystemExit(f"no {field} in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    """``VmHWM`` back to the current ``VmRSS`` (Linux's ``clear_refs``, value 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def wait_until_up(port: int, path: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"nothing answered {path} on port {port}")


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the gateway's client ---------------------------------------------------------------


class Gateway:
    """Requests to the tickets API through nginx, as one client."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}

    def json(self, method: str, path: str, body: dict[str, object]) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.request(
            method,
            path,
            body=json.dumps(body),
            headers={**self.headers, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def upload(self, ticket_id: int, name: str, content: bytes) -> tuple[int, dict, float]:
        """POST the file as multipart ``file``; status, answer and seconds taken."""
        boundary = uuid.uuid4().hex
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        started = time.monotonic()
        connection.putrequest("POST", f"/api/tickets/{ticket_id}/attachments/")
        for header, value in self.headers.items():
            connection.putheader(header, value)
        connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        connection.putheader("Content-Length", str(len(head) + len(content) + len(tail)))
        connection.endheaders()
        connection.send(head)
        view = memoryview(content)
        for offset in range(0, len(content), MIB):
            connection.send(view[offset : offset + MIB])
        connection.send(tail)
        response = connection.getresponse()
        answer = response.read()
        seconds = time.monotonic() - started
        try:
            parsed = json.loads(answer)
        except ValueError:
            parsed = {"body": answer[:300].decode(errors="replace")}
        return response.status, parsed, seconds

    def download(self, ticket_id: int, attachment_id: int) -> tuple[int, str, int, float]:
        """GET the file; status, sha256 and size of what came, seconds taken."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        started = time.monotonic()
        connection.request(
            "GET",
            f"/api/tickets/{ticket_id}/attachments/{attachment_id}/download/",
            headers=self.headers,
        )
        response = connection.getresponse()
        digest, size = hashlib.sha256(), 0
        while chunk := response.read(MIB):
            digest.update(chunk)
            size += len(chunk)
        return response.status, digest.hexdigest(), size, time.monotonic() - started


# --- the run ----------------------------------------------------------------------------


@dataclass
class Upload:
    seconds: float
    download_seconds: float
    rss_before_kib: int
    peak_kib: int
    rss_after_kib: int
    worker_cpu: float
    nginx_cpu: float
    ok: bool
    note: str


@dataclass
class Servers:
    gunicorn: subprocess.Popen[bytes]
    nginx: subprocess.Popen[bytes]
    worker: int
    gateway: Gateway

    def nginx_cpu(self) -> float:
        return sum(process_cpu_seconds(p) for p in [self.nginx.pid, *children(self.nginx.pid)])


def environment(args: argparse.Namespace, work: Path, public_pem: str) -> dict[str, str]:
    (work / "attachments").mkdir()
    (work / "uploads").mkdir()
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings.production",
        "TICKETS_DATABASE_URL": args.database,
        "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "JWT_PUBLIC_KEY": public_pem,
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        "ATTACHMENTS_STORAGE_URL": (work / "attachments").as_uri(),
        "FILE_UPLOAD_TEMP_DIR": str(work / "uploads"),
        "ATTACHMENT_MAX_BYTES": str(MAX_FILE_BYTES),
        "PYTHONPATH": str(SERVICE),
    }


USER_SCRIPT = f"""
from tickets.services import directory_user_upsert
directory_user_upsert(user_id="{CLIENT_ID}", username="ana.garcia", full_name="Ana García",
    email="ana.garcia@cliente.example", role="client", is_active=True, email_verified=True)
"""


def prepare(args: argparse.Namespace, env: dict[str, str]) -> None:
    recreate_database(args.database)
    for command in (
        ["manage.py", "migrate", "--noinput", "-v0"],
        ["manage.py", "shell", "-v", "0", "-c", USER_SCRIPT],
    ):
        subprocess.run([sys.executable, *command], cwd=SERVICE, env=env, check=True)


def start_servers(env: dict[str, str], work: Path, token: str) -> Servers:
    app_port, gateway_port = free_port(), free_port()
    gunicorn_log = (work / "gunicorn.log").open("wb")  # the child keeps its own copy
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "core.wsgi",
            "--bind",
            f"127.0.0.1:{app_port}",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=SERVICE,
        env=env,
        stdout=gunicorn_log,
        stderr=subprocess.STDOUT,
    )
    gateway_dir = work / "nginx"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "render_nginx.py"),
            "--out",
            str(gateway_dir),
            "--listen",
            f"127.0.0.1:{gateway_port}",
            "--upstream",
            f"tickets=127.0.0.1:{app_port}",
        ],
        check=True,
        capture_output=True,
    )
    log = (work / "nginx.log").open("wb")
    with log:
        nginx = subprocess.Popen(  # foreground (daemon off) in a session of its own
            [
                str(NGINX),
                "-e",
                "stderr",
                "-p",
                str(gateway_dir),
                "-c",
                str(gateway_dir / "nginx.conf"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    gunicorn_log.close()
    servers = Servers(gunicorn, nginx, 0, Gateway(gateway_port, token))
    wait_until_up(app_port, "/api/tickets/health/live")
    wait_until_up(gateway_port, "/api/tickets/health/live")
    workers = children(gunicorn.pid)
    if len(workers) != 1:
        raise SystemExit(f"expected one gunicorn worker, found {workers}")
    servers.worker = workers[0]
    return servers


def measure(servers: Servers, args: argparse.Namespace) -> tuple[int, int, list[Upload]]:
    """Warm the worker, then the large uploads; (ticket id, RSS before in KiB, uploads)."""
    gateway = servers.gateway
    status, ticket = gateway.json(
        "POST",
        "/api/tickets/",
        {"title": "El escáner guarda PDFs enormes", "description": "Adjunto los ficheros."},
    )
    if status != 201:
        raise SystemExit(f"opening the ticket answered {status}: {ticket}")
    ticket_id = int(ticket["id"])
    small = PNG_HEADER + os.urandom(4096)
    status, answer, _seconds = gateway.upload(ticket_id, "warm-up.png", small)
    if status != 201:
        raise SystemExit(f"the warm-up upload answered {status}: {answer}")
    gateway.download(ticket_id, int(answer["id"]))

    content = PNG_HEADER + os.urandom(args.size_mib * MIB - len(PNG_HEADER))
    expected = hashlib.sha256(content).hexdigest()
    worker = servers.worker
    rss_start = status_kib(worker, "VmRSS")
    uploads = []
    for n in range(1, args.uploads + 1):
        reset_peak(worker)
        rss_before = status_kib(worker, "VmRSS")
        cpu_before, nginx_before = process_cpu_seconds(worker), servers.nginx_cpu()
        status, answer, seconds = gateway.upload(ticket_id, f"escaneo-{n}.png", content)
        peak, rss_after = status_kib(worker, "VmHWM"), status_kib(worker, "VmRSS")
        cpu = process_cpu_seconds(worker) - cpu_before
        nginx_cpu = servers.nginx_cpu() - nginx_before
        ok = status == 201 and answer.get("size") == len(content)
        note = "" if ok else f"{status} {answer}"
        download_seconds = 0.0
        if status == 201:
            got, digest, size, download_seconds = gateway.download(ticket_id, int(answer["id"]))
            if (got, digest, size) != (200, expected, len(content)):
                ok, note = (
                    False,
                    f"download {got}, {size} bytes, sha256 matches: {digest == expected}",
                )
        uploads.append(
            Upload(seconds, download_seconds, rss_before, peak, rss_after, cpu, nginx_cpu, ok, note)
        )
        print(
            f"upload {n}: {status} in {seconds:.2f} s, download {download_seconds:.2f} s; worker "
            f"RSS {rss_before / 1024:.1f} -> peak {peak / 1024:.1f} -> {rss_after / 1024:.1f} MiB"
            + (f"; {note}" if note else ""),
            flush=True,
        )
    return ticket_id, rss_start, uploads


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--size-mib", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--write", action="store_true", help="put the run in docs/benchmarks.md")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if not NGINX.exists():
        print(f"{NGINX} is missing: apt-get install -y nginx", file=sys.stderr)
        return 1
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="servidesk-bench-uploads-"))
    private_pem, public_pem = keypair()
    env = environment(args, work, public_pem)
    print(f"database {args.database}: recreating, migrating", flush=True)
    servers: Servers | None = None
    busy0 = busy_seconds()
    try:
        prepare(args, env)
        servers = start_servers(env, work, token(private_pem, CLIENT_ID, "client"))
        _ticket, rss_start, uploads = measure(servers, args)
    except BaseException:
        for log in ("gunicorn.log", "nginx.log"):
            if (work / log).exists():
                print(f"--- {log} ---\n{(work / log).read_text(errors='replace')[-3000:]}")
        raise
    finally:
        if servers is not None:
            stop(servers.nginx, signal.SIGQUIT)  # graceful: finish, then exit
            stop(servers.gunicorn)
        shutil.rmtree(work, ignore_errors=True)
        if not args.keep_database:
            drop_database(args.database)
    busy = busy_seconds() - busy0
    report = render(args, rss_start, uploads, load=(load_before, os.getloadavg()))
    print(report)
    print(f"(the machine was busy {busy:.0f} CPU s during the whole run)")
    if args.write:
        write_region("uploads-bench", report)
        print(f"wrote the run into {DOCS.relative_to(ROOT)}")
    return 0 if all(u.ok for u in uploads) else 1


def render(
    args: argparse.Namespace,
    rss_start: int,
    uploads: list[Upload],
    *,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> str:
    def loads(values: tuple[float, float, float]) -> str:
        return ", ".join(f"{v:.1f}" for v in values)

    def mib(kib: float) -> str:
        return f"{kib / 1024:.1f}"

    size = args.size_mib * MIB
    lines = [
        f"## A {args.size_mib} MiB upload through nginx "
        f"({datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        "`flock /tmp/servidesk-bench.lock "
        + shlex.join([".venv/bin/python", "bench/uploads.py", *sys.argv[1:]])
        + "`",
        "",
        f"`POST /api/tickets/<id>/attachments/` (multipart `file`, {size:,} bytes: a PNG "
        "header and random bytes) as a client, through the gateway (`scripts/render_nginx.py`"
        ", `/usr/sbin/nginx`, which buffers the body before passing it on) to gunicorn with "
        "one sync worker (production settings, `ATTACHMENT_MAX_BYTES` 25 MiB, files to a "
        "local `ATTACHMENTS_STORAGE_URL=file:///…`), then the file downloaded back; client, "
        f"gateway, service and database on one machine ({describe()}). Load average (1, 5, "
        f"15 min) {loads(load[0])} before and {loads(load[1])} after.",
        "",
        "| upload | answer | upload s | download s | worker RSS before MiB | worker peak MiB "
        "| worker RSS after MiB | CPU s worker | CPU s nginx |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, u in enumerate(uploads, start=1):
        lines.append(
            f"| {n} | {'201, size right, download identical' if u.ok else u.note} "
            f"| {u.seconds:.2f} | {u.download_seconds:.2f} | {mib(u.rss_before_kib)} "
            f"| {mib(u.peak_kib)} | {mib(u.rss_after_kib)} | {u.worker_cpu:.2f} "
            f"| {u.nginx_cpu:.2f} |"
        )
    times = [u.seconds for u in uploads]
    downloads = [u.download_seconds for u in uploads]
    peak = max(u.peak_kib for u in uploads)
    growth = (peak - rss_start) / 1024
    verdict = "met" if growth <= AIM_GROWTH_MIB else "not met"
    ok = all(u.ok for u in uploads)
    lines += [
        "",
        f"Upload: median {statistics.median(times):.2f} s, max {max(times):.2f} s "
        f"({args.size_mib / statistics.median(times):.0f} MiB/s at the median). Download: "
        f"median {statistics.median(downloads):.2f} s, max {max(downloads):.2f} s. Every "
        f"upload answered 201 with the right size and came back identical: "
        f"**{'yes' if ok else 'NO'}**.",
        "",
        f"Worker memory: VmRSS {mib(rss_start)} MiB before the first large upload (after a "
        f"small upload and download warmed it), highest VmHWM {mib(peak)} MiB over the "
        f"uploads (the peak is reset between uploads through `/proc/<pid>/clear_refs`): "
        f"grew by {growth:.1f} MiB at most.",
        "",
        f"Aim (issue 17): the worker grows by no more than {AIM_GROWTH_MIB:.0f} MiB: "
        f"{growth:.1f} MiB, **{verdict}**.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
