"""Checks every service runs on the cache its replicas share (servidesk_shared.cache).

The suites count in memory (core.settings.test); these run on the database cache, the
default everywhere else, and on health/ready through a broker outage.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings

from servidesk_shared.cache.backends import DatabaseCache
from servidesk_shared.health import worker_problems
from servidesk_testing.fakes import free_port


def use_database_cache(settings: Any, table: str) -> None:
    """The default cache becomes the database cache in ``table``, created and empty."""
    settings.CACHES = {
        "default": {"BACKEND": "servidesk_shared.cache.backends.DatabaseCache", "LOCATION": table}
    }
    call_command("createcachetable", verbosity=0)
    caches["default"].clear()


def assert_writes_counted_for_every_replica(
    settings: Any, client: Client, *, write: str, user_id: object, table: str
) -> None:
    """Two writes allowed, the third refused, and another replica's cache sees both."""
    settings.SERVIDESK_THROTTLE_RATES = {"write_user": "2/min", "write_anon": None}
    statuses = [client.post(write, {}, content_type="application/json").status_code
                for _ in range(3)]  # fmt: skip
    assert 429 not in statuses[:2], statuses
    assert statuses[2] == 429
    other_replica = DatabaseCache(table, {})
    history = other_replica.get(f"throttle_write_user_{user_id}")
    assert isinstance(history, list)
    assert len(history) == 2


def assert_ready_without_the_broker(client: Client, ready: str) -> None:
    """health/ready stays 200 (database only); the workers' check names the broker."""
    broker_down = f"amqp://guest:guest@127.0.0.1:{free_port()}//"  # nothing listens there
    with override_settings(BROKER_URL=broker_down):
        response = client.get(ready)
        problems = worker_problems()
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok"}
    assert [p.split(":")[0] for p in problems] == ["broker unreachable"]
