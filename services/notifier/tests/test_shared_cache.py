"""The cache every replica of notifier shares, and health/ready through a broker outage.

The suite counts in memory (core.settings.test); these tests run on the database cache,
the default everywhere else (servidesk_shared.cache).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client
from django.test.utils import override_settings

from servidesk_shared.cache.backends import DatabaseCache
from servidesk_shared.health import worker_problems
from servidesk_testing import auth_header

pytestmark = pytest.mark.django_db

TABLE = "notifier_cache_test"
#: A GET-only endpoint the caller may read: a POST there is a write the throttle counts
#: (DRF throttles before it answers 405).
USER_ID = 7001
WRITE = "/api/notifications/unread-count/"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database_cache(settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "servidesk_shared.cache.backends.DatabaseCache", "LOCATION": TABLE}
    }
    call_command("createcachetable", verbosity=0)
    caches["default"].clear()


def test_writes_are_counted_where_every_replica_reads_them(
    database_cache: None, settings: Any
) -> None:
    settings.SERVIDESK_THROTTLE_RATES = {"write_user": "2/min", "write_anon": None}
    client = Client(headers=auth_header(user_id=USER_ID, role="client"))
    statuses = [client.post(WRITE, {}, content_type="application/json").status_code
                for _ in range(3)]  # fmt: skip
    assert 429 not in statuses[:2], statuses
    assert statuses[2] == 429
    # Another process's cache (a second replica) sees the same two writes.
    other_replica = DatabaseCache(TABLE, {})
    history = other_replica.get(f"throttle_write_user_{USER_ID}")
    assert isinstance(history, list)
    assert len(history) == 2


def test_ready_stays_200_while_the_broker_is_unreachable(client: Client) -> None:
    broker_down = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
    with override_settings(BROKER_URL=broker_down):
        response = client.get("/api/notifications/health/ready")
        problems = worker_problems()
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok"}
    # The relays' and consumers' health check is the one that says so.
    assert [p.split(":")[0] for p in problems] == ["broker unreachable"]
