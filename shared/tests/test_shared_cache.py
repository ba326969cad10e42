"""The cache every replica of a service shares: its settings, its table, exact counting."""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections
from django.test import override_settings

from servidesk_shared.cache.backends import DatabaseCache
from servidesk_shared.settings import CACHE_MAX_ENTRIES, cache_config

#: The migration's module name starts with a digit: imported by name.
cache_migration = importlib.import_module("servidesk_shared.cache.migrations.0001_cache_table")

TABLE = "servidesk_cache_test"
DATABASE_CACHE = {
    "default": {"BACKEND": "servidesk_shared.cache.backends.DatabaseCache", "LOCATION": TABLE}
}


def table_exists(name: str) -> bool:
    return name in connection.introspection.table_names()


def drop_table(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(name)}")


# --- Settings ---------------------------------------------------------------------------


class TestCacheConfig:
    def test_the_default_is_the_database_cache_in_the_services_own_database(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("CACHE_URL", raising=False)
        assert cache_config("tickets") == {
            "BACKEND": "servidesk_shared.cache.backends.DatabaseCache",
            "LOCATION": "servidesk_cache",
            "OPTIONS": {"MAX_ENTRIES": CACHE_MAX_ENTRIES},
            "KEY_PREFIX": "tickets",
        }

    def test_an_empty_cache_url_is_the_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CACHE_URL", "")
        assert cache_config("tickets")["LOCATION"] == "servidesk_cache"

    def test_a_database_cache_url_keeps_its_table_and_options(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CACHE_URL", "dbcache://accounts_cache?max_entries=500")
        config = cache_config("accounts")
        assert config["BACKEND"] == "servidesk_shared.cache.backends.DatabaseCache"
        assert config["LOCATION"] == "accounts_cache"
        assert config["OPTIONS"] == {"MAX_ENTRIES": 500}

    def test_redis_needs_the_redis_package(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CACHE_URL", "redis://127.0.0.1:6379/3")
        monkeypatch.setitem(sys.modules, "redis", None)  # `import redis` raises ImportError
        with pytest.raises(ImproperlyConfigured, match="redis package"):
            cache_config("accounts")

    def test_redis_gets_the_service_prefix_and_short_timeouts(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pytest.importorskip("redis")
        monkeypatch.setenv("CACHE_URL", "redis://127.0.0.1:6379/3")
        assert cache_config("notifier") == {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/3",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
            "KEY_PREFIX": "notifier",
        }

    def test_one_process_alone_may_say_so(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CACHE_URL", "locmemcache://")
        config = cache_config("web")
        assert config["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
        assert config["KEY_PREFIX"] == "web"


# --- The table: made by `migrate` --------------------------------------------------------


@pytest.mark.django_db
class TestTheMigration:
    def test_it_makes_the_configured_table_and_may_run_again(self) -> None:
        drop_table(TABLE)
        with override_settings(CACHES=DATABASE_CACHE), connection.schema_editor() as editor:
            cache_migration.create_cache_tables(None, editor)  # type: ignore[arg-type]
            assert table_exists(TABLE)
            cache_migration.create_cache_tables(None, editor)  # type: ignore[arg-type]
        assert table_exists(TABLE)

    def test_it_makes_nothing_for_a_cache_outside_the_database(self) -> None:
        before = set(connection.introspection.table_names())
        locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        with override_settings(CACHES=locmem), connection.schema_editor() as editor:
            cache_migration.create_cache_tables(None, editor)  # type: ignore[arg-type]
        assert set(connection.introspection.table_names()) == before

    def test_it_belongs_to_an_app_every_service_installs(self) -> None:
        from servidesk_shared.settings.defaults import SHARED_APPS  # noqa: PLC0415

        assert "servidesk_shared.cache" in SHARED_APPS


# --- Counting across processes ----------------------------------------------------------


@pytest.fixture
def database_cache(transactional_db: None) -> Iterator[DatabaseCache]:
    with override_settings(CACHES=DATABASE_CACHE), connection.schema_editor() as editor:
        cache_migration.create_cache_tables(None, editor)  # type: ignore[arg-type]
    with override_settings(CACHES=DATABASE_CACHE):
        cache = caches["default"]
        assert isinstance(cache, DatabaseCache)
        cache.clear()
        yield cache
        cache.clear()


class TestAtomicIncr:
    def test_concurrent_increments_lose_nothing(self, database_cache: DatabaseCache) -> None:
        """Eight "replicas" counting at once: each has its own connection, as processes do."""
        database_cache.add("failures", 0, timeout=60)
        threads, each = 8, 25
        start = threading.Barrier(threads)
        seen: list[int] = []

        def count() -> None:
            # A cache of the thread's own, on the thread's own database connection.
            mine = DatabaseCache(TABLE, {})
            start.wait()
            try:
                seen.extend(mine.incr("failures") for _ in range(each))
            finally:
                connections.close_all()

        workers = [threading.Thread(target=count) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert database_cache.get("failures") == threads * each
        # Every count was handed out once: no two callers saw the same number.
        assert sorted(seen) == list(range(1, threads * each + 1))

    def test_incr_keeps_the_expiry(self, database_cache: DatabaseCache) -> None:
        database_cache.set("n", 1, timeout=2)
        assert database_cache.incr("n", 4) == 5
        assert database_cache.decr("n") == 4
        time.sleep(2.5)
        assert database_cache.get("n") is None

    def test_incr_of_a_key_without_expiry_keeps_none(self, database_cache: DatabaseCache) -> None:
        database_cache.set("forever", 1, timeout=None)
        database_cache.incr("forever")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT expires FROM {TABLE}")  # noqa: S608
            (expires,) = cursor.fetchone()
        assert expires.year == 9999

    def test_incr_of_a_missing_or_expired_key_raises_value_error(
        self, database_cache: DatabaseCache
    ) -> None:
        with pytest.raises(ValueError, match="not found"):
            database_cache.incr("missing")
        database_cache.set("gone", 1, timeout=1)
        time.sleep(1.5)
        with pytest.raises(ValueError, match="not found"):
            database_cache.incr("gone")

    def test_incr_inside_a_transaction_counts_once_it_commits(
        self, database_cache: DatabaseCache
    ) -> None:
        from django.db import transaction  # noqa: PLC0415

        database_cache.add("k", 0)
        with transaction.atomic():
            assert database_cache.incr("k") == 1
        assert database_cache.get("k") == 1
