"""Settings helpers: environment parsing, the database fallback chain, common defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()


def find_repo_root(start: Path) -> Path | None:
    """The repository root above ``start`` (the folder holding ``services/``), if any."""
    for folder in [start, *start.parents]:
        if (folder / "services").is_dir() and (folder / "shared").is_dir():
            return folder
    return None


def read_env_file(service_dir: Path) -> None:
    """Load the root ``.env`` (or ``SERVIDESK_ENV_FILE``) without overriding the environment."""
    explicit = os.environ.get("SERVIDESK_ENV_FILE")
    root = find_repo_root(service_dir)
    candidate = Path(explicit) if explicit else (root / ".env" if root else None)
    if candidate is not None and candidate.is_file():
        environ.Env.read_env(str(candidate), overwrite=False)


def var_dir(service_dir: Path) -> Path:
    """Where local state lives: ``SERVIDESK_VAR_DIR``, else ``var/`` at the repository root."""
    configured = env.str("SERVIDESK_VAR_DIR", default="")
    if configured:
        folder = Path(configured)
    else:
        root = find_repo_root(service_dir)
        folder = (root or service_dir) / "var"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def database_url(service: str, *, default: str) -> str:
    """``<SERVICE>_DATABASE_URL``, then ``DATABASE_URL``, then ``default``."""
    for name in (f"{service.upper()}_DATABASE_URL", "DATABASE_URL"):
        value = str(env.str(name, default=""))
        if value:
            return value
    return default


def database_config(service: str, *, var: Path, default: str | None = None) -> dict[str, Any]:
    """The ``DATABASES["default"]`` entry for ``service``; SQLite under ``var`` when unset."""
    url = database_url(service, default=default or f"sqlite:///{var / f'{service}.sqlite3'}")
    config: dict[str, Any] = env.db_url_config(url)
    config["ATOMIC_REQUESTS"] = False  # a service function owns its transaction, not the request
    if config["ENGINE"].endswith("sqlite3"):
        # Several processes (web, relay, consumer) share the file: wait for locks and use WAL.
        # IMMEDIATE takes the write lock when a transaction starts, so a read that later
        # writes waits on the busy timeout instead of failing at once with "locked".
        config.setdefault("OPTIONS", {}).update(
            {
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
            }
        )
    else:
        options = config.setdefault("OPTIONS", {})
        options.setdefault("connect_timeout", 5)
        # Checked before use, so a backend the server dropped heals by itself: Django's
        # health check of a persistent connection, or the pool's check of each one it hands
        # out (psycopg_pool's ``ConnectionPool.check_connection``, which Django sets then).
        config["CONN_HEALTH_CHECKS"] = True
        pool = pool_options(service)
        if pool is None:
            # Persistent connections (DB_POOL=off, e.g. behind pgbouncer in transaction mode).
            config["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
        else:
            config["CONN_MAX_AGE"] = 0  # Django: a pool and persistent connections exclude
            options["pool"] = pool
        direct = str(env.str(f"{service.upper()}_DATABASE_DIRECT_URL", default="")) or str(
            env.str("DATABASE_DIRECT_URL", default="")
        )
        if direct:
            config[DIRECT_KEY] = direct
        # Behind a transaction pooler (pgbouncer), a cursor held across transactions may
        # land on another server session: Django then reads ``iterator()`` client-side.
        config["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
            "DB_DISABLE_SERVER_SIDE_CURSORS", default=False
        )
    return config


#: The key of a ``DATABASES`` entry naming where a connection that keeps a server session
#: of its own (the waiter's LISTEN) connects when the entry's address is a transaction
#: pooler: ``<SERVICE>_DATABASE_DIRECT_URL``, then ``DATABASE_DIRECT_URL``
#: (``servidesk_shared.waiter.direct_connection``). Unset: the entry's own address.
DIRECT_KEY = "SERVIDESK_DIRECT_URL"
#: Seconds psycopg_pool keeps retrying a new connection before it gives that attempt up
#: (its default is five minutes, with a delay doubling from one second: after an outage the
#: pool could wait a minute before its next try). A request for a connection after that
#: starts a new attempt at once.
POOL_RECONNECT_TIMEOUT = 10.0


#: The default ceiling of a process's pool: the most threads any worker process runs with a
#: connection each (the webhook sender: ``WEBHOOK_THREADS``, 8, and its claiming loop).
POOL_MAX_SIZE = 10


def pool_options(service: str) -> dict[str, Any] | None:
    """Django's ``OPTIONS["pool"]`` (psycopg_pool's ``ConnectionPool`` arguments), or
    ``None`` when ``DB_POOL`` is off.

    One pool per process, opening connections as threads ask for them: a thread holds at
    most one, so a process never opens more than it has threads using the database (a
    gunicorn worker: ``GUNICORN_THREADS``; a relay, consumer or sender: its own threads).
    ``DB_POOL_MAX_SIZE`` is only the ceiling above that: ``POOL_MAX_SIZE``, or
    ``GUNICORN_THREADS`` when larger, so that no thread ever waits for a connection another
    thread of its process could give back. ``DB_POOL_MIN_SIZE`` (0) stay open however long
    idle; the others close after ten idle minutes. With a minimum of 1, psycopg_pool opens
    that one at the first request and, as the request cannot wait for it, a second: every
    single-threaded worker would hold two. ``DB_POOL_TIMEOUT`` (5 s) bounds the wait for
    a connection, which only happens while the database is away: the request then fails
    with a database error, as a refused connection would.
    """
    if not env.bool("DB_POOL", default=True):
        return None
    threads = env.int("GUNICORN_THREADS", default=1)
    max_size = env.int("DB_POOL_MAX_SIZE", default=max(threads, POOL_MAX_SIZE))
    min_size = env.int("DB_POOL_MIN_SIZE", default=0)
    if not 0 <= min_size <= max_size or max_size < 1:
        raise ImproperlyConfigured(
            f"DB_POOL_MIN_SIZE ({min_size}) must be between 0 and DB_POOL_MAX_SIZE ({max_size}),"
            " which must be at least 1."
        )
    return {
        "name": service,
        "min_size": min_size,
        "max_size": max_size,
        "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
        "reconnect_timeout": POOL_RECONNECT_TIMEOUT,
    }


#: The database cache's table, in each service's own database (servidesk_shared.cache).
CACHE_TABLE = "servidesk_cache"
#: Rows the database cache keeps before it culls: well above the live counters of a busy
#: desk (one per user, address and account tried), so no counter is culled while it counts.
CACHE_MAX_ENTRIES = 50_000
_DJANGO_DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"
_DJANGO_REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


def cache_config(service: str) -> dict[str, Any]:
    """The ``CACHES["default"]`` entry of ``service``: shared by all its processes.

    ``CACHE_URL`` when not empty (``redis://host:6379/0``, ``dbcache://table``, or
    ``locmemcache://`` for one process alone), else the database cache in the service's
    own database. Keys carry the service's name, so several services may share a Redis.
    Redis gets short socket timeouts: a Redis that stopped answering fails a request in
    seconds rather than hanging it.
    """
    url = str(env.str("CACHE_URL", default="")) or f"dbcache://{CACHE_TABLE}"  # empty: unset
    config: dict[str, Any] = env.cache_url_config(url)
    options: dict[str, Any] = config.setdefault("OPTIONS", {})
    if config["BACKEND"] == _DJANGO_DATABASE_CACHE:
        config["BACKEND"] = "servidesk_shared.cache.backends.DatabaseCache"
        options.setdefault("MAX_ENTRIES", CACHE_MAX_ENTRIES)
    elif config["BACKEND"] == _DJANGO_REDIS_CACHE:
        try:
            import redis  # noqa: F401, PLC0415 (needed only for this choice)
        except ImportError as exc:
            raise ImproperlyConfigured(
                "CACHE_URL names Redis, but the redis package is not installed "
                "(pip install redis), or leave CACHE_URL unset for the database cache."
            ) from exc
        options.setdefault("socket_connect_timeout", 2)
        options.setdefault("socket_timeout", 2)
    config.setdefault("KEY_PREFIX", service)
    return config


def throttle_rate(scope: str, default: str) -> str | None:
    """``THROTTLE_<SCOPE>`` (e.g. ``THROTTLE_LOGIN_IP=20/min``); ``off`` disables it."""
    value = str(env.str(f"THROTTLE_{scope.upper()}", default=default))
    return None if value.lower() in {"off", "none", ""} else value


# Read the root .env once, before any settings module reads a variable. Services run from
# their own folder, so the repository root is found upwards from the working directory.
read_env_file(Path.cwd())
