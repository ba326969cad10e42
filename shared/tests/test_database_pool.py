"""Pooled database connections (Django's psycopg pool), against the real PostgreSQL.

A connection the server dropped is never handed out again, one given back mid-transaction
or failed comes back clean, the waiter's LISTEN never enters the pool, and the relay's
commit setting stays inside its transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection, transaction
from psycopg.pq import TransactionStatus
from rest_framework.test import APIClient

from servidesk_shared import sql
from servidesk_shared.settings import DIRECT_KEY, POOL_MAX_SIZE, database_config
from servidesk_shared.waiter import NotifyWaiter, direct_connection

CHANNEL = "servidesk_test_pool"
POOL_VARIABLES = (
    "DB_POOL",
    "DB_POOL_MIN_SIZE",
    "DB_POOL_MAX_SIZE",
    "DB_POOL_TIMEOUT",
    "DB_CONN_MAX_AGE",
    "DB_DISABLE_SERVER_SIDE_CURSORS",
    "GUNICORN_THREADS",
    "TICKETS_DATABASE_DIRECT_URL",
    "DATABASE_DIRECT_URL",
)


# --- the settings -----------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("TICKETS_DATABASE_URL", "DATABASE_URL", *POOL_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TICKETS_DATABASE_URL", "postgres://u@db:5432/tickets")
    return monkeypatch


def test_postgresql_is_pooled_by_default(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = database_config("tickets", var=tmp_path)
    assert config["OPTIONS"]["pool"] == {
        "name": "tickets",
        "min_size": 0,
        "max_size": POOL_MAX_SIZE,
        "timeout": 5.0,
        "reconnect_timeout": 10.0,
    }
    assert config["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections
    assert config["CONN_HEALTH_CHECKS"] is True  # Django then gives the pool its check
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert DIRECT_KEY not in config


def test_the_pool_is_sized_from_the_environment(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("GUNICORN_THREADS", "16")
    assert database_config("tickets", var=tmp_path)["OPTIONS"]["pool"]["max_size"] == 16
    clean_env.setenv("DB_POOL_MIN_SIZE", "2")
    clean_env.setenv("DB_POOL_MAX_SIZE", "6")
    clean_env.setenv("DB_POOL_TIMEOUT", "2.5")
    pool = database_config("tickets", var=tmp_path)["OPTIONS"]["pool"]
    assert (pool["min_size"], pool["max_size"], pool["timeout"]) == (2, 6, 2.5)


@pytest.mark.parametrize(("low", "high"), [("5", "4"), ("-1", "4"), ("0", "0")])
def test_impossible_pool_sizes_are_refused(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, low: str, high: str
) -> None:
    clean_env.setenv("DB_POOL_MIN_SIZE", low)
    clean_env.setenv("DB_POOL_MAX_SIZE", high)
    with pytest.raises(ImproperlyConfigured, match="DB_POOL_MIN_SIZE"):
        database_config("tickets", var=tmp_path)


def test_pool_off_keeps_persistent_checked_connections(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DB_POOL", "off")
    clean_env.setenv("TICKETS_DATABASE_DIRECT_URL", "postgres://u@db-direct:5432/tickets")
    clean_env.setenv("DB_DISABLE_SERVER_SIDE_CURSORS", "true")
    config = database_config("tickets", var=tmp_path)
    assert "pool" not in config["OPTIONS"]
    assert config["CONN_MAX_AGE"] == 60
    assert config["CONN_HEALTH_CHECKS"] is True
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert config[DIRECT_KEY] == "postgres://u@db-direct:5432/tickets"


def test_sqlite_is_not_pooled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TICKETS_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    config = database_config("tickets", var=tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert "pool" not in config["OPTIONS"]
    assert "CONN_MAX_AGE" not in config


def test_the_direct_url_replaces_the_address_of_a_direct_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = connection.settings_dict
    monkeypatch.setitem(entry, DIRECT_KEY, "postgres://other:secret@pg-direct:6543/elsewhere")
    direct = direct_connection("default")
    assert (direct.settings_dict["HOST"], direct.settings_dict["PORT"]) == ("pg-direct", 6543)
    assert direct.settings_dict["NAME"] == "elsewhere"
    assert direct.settings_dict["USER"] == "other"
    assert "pool" not in direct.settings_dict["OPTIONS"]
    assert "pool" in entry["OPTIONS"]  # the alias's own entry is left alone


# --- the live pool ----------------------------------------------------------------------


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def admin_connection() -> psycopg.Connection:
    """A plain psycopg connection beside Django's, to act on its sessions."""
    entry = connection.settings_dict
    return psycopg.connect(
        dbname=entry["NAME"],
        user=entry["USER"],
        password=entry["PASSWORD"],
        host=entry["HOST"],
        port=entry["PORT"] or 5432,
        autocommit=True,
    )


def terminate(pid: int) -> None:
    with admin_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        # pg_terminate_backend only signals: wait until the session is gone.
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} still there"
            time.sleep(0.02)


@pytest.fixture
def pooled(transactional_db: None) -> Iterator[None]:
    """Connections go back to the pool between statements (no test transaction holds one)."""
    assert connection.pool is not None, "the test database is pooled (database_config)"
    yield
    connection.close()


def test_the_services_connections_come_from_the_pool(pooled: None) -> None:
    first = backend_pid()
    connection.close()  # back to the pool...
    with admin_connection() as admin:  # ...still open on the server, for the next request
        alive = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [first])
        assert alive.fetchone() == (1,)
    assert connection.pool.get_stats()["pool_size"] >= 1


def test_a_terminated_pooled_connection_is_not_handed_out_again(pooled: None) -> None:
    dropped = backend_pid()
    connection.close()
    terminate(dropped)  # while it waits in the pool, as pg_terminate_backend or a restart
    assert backend_pid() != dropped  # the next query just works, on a new connection


def test_a_request_after_the_backends_were_terminated_succeeds(
    pooled: None, api_client: APIClient
) -> None:
    dropped = backend_pid()
    connection.close()
    terminate(dropped)
    response = api_client.get("/api/test/health/ready")
    assert response.status_code == 200, response.content


def test_a_connection_dropped_while_in_use_fails_once_then_heals(pooled: None) -> None:
    terminate(backend_pid())
    with pytest.raises(OperationalError), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.close_if_unusable_or_obsolete()  # what the request cycle and the loops do
    assert backend_pid() > 0


def test_a_transaction_left_open_is_rolled_back_not_handed_out(pooled: None) -> None:
    connection.set_autocommit(False)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE pool_left_open (n int)")
    connection.close()  # given back in the middle of the transaction
    connection.set_autocommit(True)
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('pool_left_open') IS NULL")
        assert cursor.fetchone() == (True,)  # nothing of it was committed


def test_a_failed_transaction_is_not_handed_out(pooled: None) -> None:
    connection.set_autocommit(False)
    with pytest.raises(Exception, match="division by zero"), connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")
    assert connection.connection.info.transaction_status == TransactionStatus.INERROR
    connection.close()
    connection.set_autocommit(True)
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert backend_pid() > 0


def test_an_atomic_block_on_a_dropped_connection_raises_and_the_next_commits(
    pooled: None,
) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE pool_committed (n int)")
    try:
        terminate(backend_pid())
        with pytest.raises(OperationalError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO pool_committed VALUES (1)")
        assert connection.get_autocommit()  # nothing left for the next block to nest in
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO pool_committed VALUES (2)")
        with admin_connection() as admin:
            assert admin.execute("SELECT n FROM pool_committed").fetchall() == [(2,)]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE pool_committed")


def test_the_relays_commit_setting_ends_with_its_transaction(pooled: None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        sql.skip_commit_flush(connection)
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("off",)
    connection.close()  # back to the pool, where other code takes it
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)


def test_a_server_side_cursor_streams_outside_a_transaction(pooled: None) -> None:
    with connection.chunked_cursor() as cursor:
        cursor.execute("SELECT generate_series(1, 2500)")
        assert len(cursor.fetchmany(1000)) == 1000
        assert sum(1 for _ in cursor) == 1500


# --- the waiter's LISTEN ----------------------------------------------------------------


def listening_sessions(admin: psycopg.Connection) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
        [f"LISTEN {CHANNEL}"],
    ).fetchall()
    return [int(pid) for (pid,) in rows]


def test_the_waiters_listen_connection_is_its_own(pooled: None) -> None:
    waiter = NotifyWaiter(threading.Event(), channel=CHANNEL, name="test")
    try:
        waiter.wait(0.01)  # LISTEN is in place from here on
        assert waiter.listener is not None
        assert waiter.listener.pool is None  # not taken from the pool
        with admin_connection() as admin:
            listening = listening_sessions(admin)
        assert len(listening) == 1
        assert backend_pid() not in listening  # Django's own connection is another one
    finally:
        waiter.close()
    with admin_connection() as admin:
        assert listening_sessions(admin) == []  # closed, not given to the pool
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_listening_channels()")
        assert cursor.fetchone() == (0,)
