"""accounts benchmark: password login and token refresh throughput, ``me/`` latency.

    cd /work/main && .venv/bin/python -m bench.accounts_auth [--seconds 15] [--concurrency 4]
        [--workers 2] [--append docs/benchmarks.md]

Runs the accounts service under gunicorn (local settings, DEBUG off, throttles and the
failed-login lock off) on PostgreSQL (``BENCH_DATABASE_URL``, default the local server's
``servidesk_bench_accounts``, created if missing) and drives it over HTTP with
``--concurrency`` client threads for ``--seconds`` per phase:

1. login: ``POST auth/token/`` with a username and password. Django's default hasher
   (PBKDF2-SHA256, 1,000,000 iterations in Django 5.2) dominates, on purpose: that is the
   cost an attacker pays per guess too.
2. refresh: ``POST auth/token/refresh/``, each thread rotating its own refresh token
   (verify, lock and blacklist the old one, record and sign a new pair).
3. me: ``GET me/`` with an access token (verify RS256, read the user).

Each phase reports requests per second, latency percentiles and the CPU time the
gunicorn workers spent per request (from /proc: steadier than rates on a shared machine).
"""

from __future__ import annotations

import argparse
import datetime
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.machine import describe, process_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "services" / "accounts"
PASSWORD = "bench-password-long-enough"  # noqa: S105 (a throwaway benchmark user)


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def row(self) -> str:
        cpu_ms = self.cpu_seconds / max(1, self.requests) * 1000
        return (
            f"| {self.name} | {self.rate:,.1f} | {self.percentile(0.50):.1f} | "
            f"{self.percentile(0.95):.1f} | {self.percentile(0.99):.1f} | {cpu_ms:.1f} | "
            f"{self.errors} |"
        )


def server_cpu_seconds(master: int) -> float:
    """CPU time (user + system) of the gunicorn workers so far, from /proc."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sum(process_cpu_seconds(int(pid)) for pid in children)


def ensure_database(url: str) -> None:
    import psycopg  # noqa: PLC0415 (only the benchmark needs it directly)
    from psycopg import sql  # noqa: PLC0415

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def service_env(database_url: str, var_dir: str, workers: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "core.settings.local",
        "DJANGO_DEBUG": "false",
        "SERVIDESK_ENV_FILE": os.devnull,
        "SERVIDESK_VAR_DIR": var_dir,
        "ACCOUNTS_DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "LOG_LEVEL": "WARNING",
        "LOGIN_FAILURE_LIMIT": "1000000000",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": "1",
    }
    for scope in (
        "LOGIN_IP",
        "LOGIN_ACCOUNT",
        "REGISTER_IP",
        "REGISTER_ACCOUNT",
        "PASSWORD_RESET_IP",
        "PASSWORD_RESET_ACCOUNT",
        "REFRESH_IP",
        "SOCIAL_EXCHANGE_IP",
    ):
        env[f"THROTTLE_{scope}"] = "off"
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=SERVICE, env=env, check=True)


def create_users(env: dict[str, str], count: int) -> list[str]:
    names = [f"bench{n}" for n in range(count)]
    script = (
        "from users.models import User\n"
        "from users.services import user_create\n"
        f"for name in {names!r}:\n"
        "    if not User.objects.filter(username=name).exists():\n"
        "        user_create(username=name, email=name + '@bench.example',\n"
        f"                    password={PASSWORD!r})\n"
    )
    manage(env, "shell", "-c", script)
    return names


def run_phase(
    name: str,
    base: str,
    threads: int,
    seconds: float,
    make_call: Callable[[int], Callable[[httpx.Client], bool]],
) -> Result:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(index: int) -> None:
        nonlocal errors
        call = make_call(index)
        mine: list[float] = []
        failed = 0
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                ok = call(client)
                mine.append(time.perf_counter() - started)
                failed += 0 if ok else 1
        with lock:
            latencies.extend(mine)
            errors += failed

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return Result(name, len(latencies), errors, time.monotonic() - started, latencies)


def wait_until_up(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/accounts/health/live", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("accounts did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--port", type=int, default=18199)
    parser.add_argument("--append", type=Path, help="append the results as a section to this file")
    args = parser.parse_args()

    database_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/servidesk_bench_accounts"
    )
    ensure_database(database_url)
    var_dir = tempfile.mkdtemp(prefix="bench-accounts-")
    env = service_env(database_url, var_dir, args.workers)
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    users = create_users(env, args.concurrency)

    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "core.wsgi",
            "--config", str(ROOT / "scripts" / "gunicorn_local.py"),
            "--bind", f"127.0.0.1:{args.port}",
        ],
        cwd=SERVICE,
        env=env,
    )  # fmt: skip
    try:
        wait_until_up(base)
        results = measure(base, users, args.concurrency, args.seconds, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=20)

    hardware = describe()
    lines = [
        "| phase | requests/s | p50 ms | p95 ms | p99 ms | server CPU ms/request | errors |",
        "|---|---|---|---|---|---|---|",
        *(result.row() for result in results),
    ]
    print("\n".join(lines))
    if args.append:
        command = (
            ".venv/bin/python -m bench.accounts_auth "
            f"--seconds {args.seconds:g} --concurrency {args.concurrency} --workers {args.workers}"
        )
        section = [
            "",
            "## accounts: login, token refresh, `me/`",
            "",
            f"`{command}` on {hardware}; gunicorn with {args.workers} sync workers, "
            f"{args.concurrency} client threads on the same machine, PostgreSQL, DEBUG off, "
            f"throttles off, {datetime.datetime.now(tz=datetime.UTC):%Y-%m-%d}.",
            "",
            *lines,
            "",
        ]
        with args.append.open("a") as handle:
            handle.write("\n".join(section))
    return 0 if all(result.errors == 0 for result in results) else 1


def measure(base: str, users: list[str], threads: int, seconds: float, master: int) -> list[Result]:
    def phase(name: str, make_call: Callable[[int], Callable[[httpx.Client], bool]]) -> Result:
        before = server_cpu_seconds(master)
        result = run_phase(name, base, threads, seconds, make_call)
        result.cpu_seconds = server_cpu_seconds(master) - before
        return result

    def login_call(index: int) -> Callable[[httpx.Client], bool]:
        body = {"username": users[index], "password": PASSWORD}

        def call(client: httpx.Client) -> bool:
            return client.post("/api/accounts/auth/token/", json=body).status_code == 200

        return call

    login = phase("login (`POST auth/token/`)", login_call)

    pairs = [
        httpx.post(
            f"{base}/api/accounts/auth/token/", json={"username": name, "password": PASSWORD}
        ).json()
        for name in users
    ]

    def refresh_call(index: int) -> Callable[[httpx.Client], bool]:
        state = {"refresh": pairs[index]["refresh"]}

        def call(client: httpx.Client) -> bool:
            response = client.post("/api/accounts/auth/token/refresh/", json=state)
            if response.status_code != 200:
                return False
            state["refresh"] = response.json()["refresh"]
            return True

        return call

    refresh = phase("refresh (`POST auth/token/refresh/`)", refresh_call)

    def me_call(index: int) -> Callable[[httpx.Client], bool]:
        headers = {"Authorization": f"Bearer {pairs[index]['access']}"}

        def call(client: httpx.Client) -> bool:
            return client.get("/api/accounts/me/", headers=headers).status_code == 200

        return call

    me = phase("me (`GET me/`)", me_call)
    return [login, refresh, me]


if __name__ == "__main__":
    sys.exit(main())
