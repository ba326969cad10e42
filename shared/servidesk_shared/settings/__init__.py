"""Settings helpers: environment parsing, the database fallback chain, common defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import environ

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
        # Persistent connections, checked before reuse so a dropped backend heals by itself.
        config["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    return config


def throttle_rate(scope: str, default: str) -> str | None:
    """``THROTTLE_<SCOPE>`` (e.g. ``THROTTLE_LOGIN_IP=20/min``); ``off`` disables it."""
    value = str(env.str(f"THROTTLE_{scope.upper()}", default=default))
    return None if value.lower() in {"off", "none", ""} else value


# Read the root .env once, before any settings module reads a variable. Services run from
# their own folder, so the repository root is found upwards from the working directory.
read_env_file(Path.cwd())
