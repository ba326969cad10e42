"""Two replicas of accounts behind nginx count one limit, not two (issue 21).

Two gunicorn processes of accounts, on one PostgreSQL database of their own, are the two
servers of nginx's ``servidesk_accounts`` upstream, which hands requests to them in turn.
The same tries are made through nginx and, for comparison, against one replica alone;
each scenario uses a name of its own, so the two runs never share a counter:

* the per-account throttle of password resets (DRF, ``THROTTLE_PASSWORD_RESET_ACCOUNT``):
  the request that is refused is the same one, 5th of a budget of 4;
* the sign-in lockout (``LOGIN_FAILURE_LIMIT``): the same number of wrong passwords is
  accepted for checking before the next try must wait.

With the shared cache (the database cache, the default; Redis when ``CACHE_URL`` names
one and a server answers on 127.0.0.1:6379) the counts through nginx equal one
replica's. The control runs the same tries with a cache per process
(``CACHE_URL=locmemcache://``): there nginx's round-robin doubles them, which shows the
scenarios can tell the difference. The log of nginx shows both replicas answered.

Needs PostgreSQL and nginx; Redis only for its own case.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from stack import POSTGRES_URL, PREFIXES, ROOT, SERVICES, eventually, free_port

sys.path.insert(0, str(ROOT / "scripts"))
from render_nginx import render_local_config

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
ACCOUNTS = ROOT / "services" / "accounts"
REDIS = ("127.0.0.1", 6379)
#: Password resets per address named in the body, per hour.
RESET_BUDGET = 4
#: Wrong passwords checked before the first wait (of 1 s, then 2, 4, ...).
FAILURE_LIMIT = 4
#: Tries made before giving up on seeing a refusal: more than twice either limit.
MAX_TRIES = 12


@dataclass
class Replicas:
    gateway: str  # nginx, in front of both
    replica_urls: list[str]
    access_log: Path

    def upstreams_used(self) -> set[str]:
        """The upstream addresses nginx's access log names for accounts' requests."""
        used = set()
        for line in self.access_log.read_text(errors="replace").splitlines():
            if line.startswith("{") and "/api/accounts/auth/" in line:
                used.update(a.strip() for a in json.loads(line)["upstream"].split(","))
        return used


def redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


def create_database(name: str) -> None:
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    import psycopg  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database of the module's own, migrated (which makes the cache table)."""
    if NGINX is None:
        pytest.skip("nginx is not installed")
    name = f"servidesk_replicas_{uuid.uuid4().hex[:8]}_accounts"
    create_database(name)
    try:
        yield f"{POSTGRES_URL}/{name}"
    finally:
        drop_database(name)


@pytest.fixture(
    params=[
        pytest.param("database", id="database-cache"),
        pytest.param("redis", id="redis"),
        pytest.param("per-process", id="control-per-process-cache"),
    ]
)
def replicas(
    request: pytest.FixtureRequest, database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Replicas]]:
    cache = str(request.param)
    cache_url = {"database": "", "per-process": "locmemcache://"}.get(cache, "")
    if cache == "redis":
        pytest.importorskip("redis", reason="the redis package is not installed")
        if not redis_answers():
            pytest.skip("no Redis on 127.0.0.1:6379")
        cache_url = f"redis://127.0.0.1:6379/{9}"
    var = tmp_path_factory.mktemp(f"replicas-{cache}")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("THROTTLE_", "LOGIN_"))},
        "SERVIDESK_ENV_FILE": os.devnull,  # nobody's .env
        "SERVIDESK_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "core.settings.local",
        "ACCOUNTS_DATABASE_URL": database,
        "CACHE_URL": cache_url,
        "BROKER_URL": "",  # the outbox fills; no relay runs
        "LOG_JSON": "false",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        # The limits under test, and the ones that would get in their way switched off.
        "THROTTLE_PASSWORD_RESET_ACCOUNT": f"{RESET_BUDGET}/hour",
        "THROTTLE_PASSWORD_RESET_IP": "off",
        "THROTTLE_LOGIN_IP": "off",
        "THROTTLE_LOGIN_ACCOUNT": "off",
        "LOGIN_FAILURE_LIMIT": str(FAILURE_LIMIT),
        "LOGIN_ADDRESS_FAILURE_LIMIT": "1000",
    }
    # Migrating also writes the local key pair both replicas sign with, before they start.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ACCOUNTS,
        env=env,
        check=True,
    )
    ports = [free_port(), free_port()]
    with ExitStack() as cleanup:
        if cache == "redis":
            cleanup.callback(flush_redis, cache_url)
            flush_redis(cache_url)
        log = cleanup.enter_context(open(var / "replicas.log", "wb"))
        for port in ports:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "core.wsgi",
                    "--config",
                    str(ROOT / "scripts" / "gunicorn_local.py"),
                    "--bind",
                    f"127.0.0.1:{port}",
                ],
                cwd=ACCOUNTS,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            cleanup.callback(stop, process)
        replica_urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in replica_urls:
            eventually(
                lambda u=url: ready(f"{u}/api/accounts/health/ready"),
                timeout=120,
                what=f"{url} ready\n{(var / 'replicas.log').read_text(errors='replace')[-3000:]}",
            )
        gateway = start_nginx(var / "nginx", ports, cleanup)
        yield cache, Replicas(gateway, replica_urls, var / "nginx" / "access.log")


def flush_redis(url: str) -> None:
    import redis  # noqa: PLC0415

    redis.Redis.from_url(url).flushdb()


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def start_nginx(folder: Path, ports: list[int], cleanup: ExitStack) -> str:
    """nginx on a free port; accounts' upstream holds both replicas, the other services
    point at a closed port (nothing here calls them)."""
    listen = f"127.0.0.1:{free_port()}"
    nowhere = f"127.0.0.1:{free_port()}"
    replicas = [f"127.0.0.1:{port}" for port in ports]
    upstreams: dict[str, str | list[str]] = dict.fromkeys(SERVICES, nowhere)
    upstreams["accounts"] = replicas  # served in turn (round-robin)
    config = render_local_config(
        folder, listen=listen, upstreams=upstreams, auth_rate="100r/s", api_rate="100r/s"
    )
    access_log = cleanup.enter_context(open(folder / "access.log", "wb"))  # noqa: SIM115
    process = subprocess.Popen(
        [str(NGINX), "-e", "stderr", "-p", str(folder), "-c", str(config)],
        stdout=access_log,
        stderr=subprocess.STDOUT,
    )
    cleanup.callback(stop, process)
    gateway = f"http://{listen}"
    eventually(lambda: ready(f"{gateway}/_gateway/health"), timeout=30, what="nginx")
    return gateway


# --- The tries --------------------------------------------------------------------------


def resets_before_refusal(base_url: str, email: str) -> int:
    """Password resets asked for ``email`` until one is refused (429): how many went."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for tried in range(MAX_TRIES):
            response = client.post(
                f"{PREFIXES['accounts']}auth/password/reset/", json={"email": email}
            )
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) > 0
                return tried
            assert response.status_code == 202, response.text
    return MAX_TRIES


def failures_before_wait(base_url: str, identifier: str) -> int:
    """Wrong passwords for ``identifier``, one right after the other, until a try must
    wait (429): how many were checked (401). Each follows the last within milliseconds,
    far inside the first wait's second."""
    body = {"username": identifier, "password": "not-the-password"}
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for tried in range(MAX_TRIES):
            response = client.post(f"{PREFIXES['accounts']}auth/token/", json=body)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
                return tried
            assert response.status_code == 401, response.text
    return MAX_TRIES


def test_a_limit_holds_across_two_replicas_behind_nginx(replicas: tuple[str, Replicas]) -> None:
    cache, stack = replicas
    run = uuid.uuid4().hex[:6]
    alone = stack.replica_urls[0]

    one_replica = resets_before_refusal(alone, f"alone-{run}@example.com")
    behind_nginx = resets_before_refusal(stack.gateway, f"spread-{run}@example.com")
    one_replica_failures = failures_before_wait(alone, f"alone-{run}")
    behind_nginx_failures = failures_before_wait(stack.gateway, f"spread-{run}")

    # Both replicas answered the tries made through nginx.
    replica_addresses = {url.removeprefix("http://") for url in stack.replica_urls}
    assert stack.upstreams_used() == replica_addresses

    assert one_replica == RESET_BUDGET
    assert one_replica_failures == FAILURE_LIMIT
    if cache == "per-process":
        # Each replica counts alone: round-robin doubles both limits.
        assert behind_nginx == 2 * RESET_BUDGET
        assert behind_nginx_failures == 2 * FAILURE_LIMIT
    else:
        assert behind_nginx == one_replica
        assert behind_nginx_failures == one_replica_failures
