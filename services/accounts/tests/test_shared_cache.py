"""Counters every replica of accounts shares, counted exactly, and health/ready through a
broker outage.

The suite counts in memory (core.settings.test); these tests run on the database cache,
the default everywhere else (servidesk_shared.cache). Threads stand for replicas: each
has its own database connection, as each process does.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.core.cache import cache, caches
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.test.utils import override_settings
from rest_framework.test import APIClient

from servidesk_shared.health import worker_problems
from tests.factories import ClientFactory
from users import lockout, verification

T = TypeVar("T")
TABLE = "accounts_cache_test"
TOKEN = "/api/accounts/auth/token/"
REPLICAS = 8


@pytest.fixture
def database_cache(transactional_db: None, settings: Any) -> Iterator[None]:
    settings.CACHES = {
        "default": {"BACKEND": "servidesk_shared.cache.backends.DatabaseCache", "LOCATION": TABLE}
    }
    call_command("createcachetable", verbosity=0)
    caches["default"].clear()
    yield
    caches["default"].clear()


def at_once(job: Callable[[], T], *, replicas: int = REPLICAS) -> list[T]:
    """``job`` run by ``replicas`` threads started together; what each returned."""
    start = threading.Barrier(replicas)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(job())
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def test_failed_sign_ins_sent_at_once_are_each_counted(database_cache: None, settings: Any) -> None:
    """An attacker's tries sent in parallel to every replica: none goes uncounted."""
    settings.LOGIN_FAILURE_LIMIT = settings.LOGIN_ADDRESS_FAILURE_LIMIT = 1000
    rest = {**settings.REST_FRAMEWORK}
    rest["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(rest["DEFAULT_THROTTLE_RATES"])
    settings.REST_FRAMEWORK = rest
    ClientFactory(username="carla")
    tries = 3

    def attacker() -> list[int]:
        api = APIClient(HTTP_X_FORWARDED_FOR="203.0.113.77")
        body = {"username": "carla", "password": "not-her-password"}
        return [api.post(TOKEN, body).status_code for _ in range(tries)]

    statuses = at_once(attacker)
    assert sorted(s for replica in statuses for s in replica) == [401] * REPLICAS * tries
    subject = lockout.account_key("carla")
    assert cache.get(f"login:failures:{subject}") == REPLICAS * tries
    address = lockout._address_key("203.0.113.77")
    assert cache.get(f"login:failures:{address}") == REPLICAS * tries


def test_the_last_confirmation_mail_goes_out_once(database_cache: None) -> None:
    """Asked at once on every replica, a budget of three sends hands out three."""

    def ask() -> int:
        return verification.send_allowance("email:42", limit=3, period=3600)

    waits = at_once(ask)
    assert sorted(waits)[:3] == [0, 0, 0]
    assert all(wait > 0 for wait in sorted(waits)[3:])
    assert verification.send_allowance("email:42", limit=3, period=3600) > 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.django_db
def test_ready_stays_200_while_the_broker_is_unreachable(client: Client) -> None:
    with override_settings(BROKER_URL=f"amqp://guest:guest@127.0.0.1:{closed_port()}//"):
        response = client.get("/api/accounts/health/ready")
        problems = worker_problems()
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok"}
    # The relay's and consumer's health check is the one that says so.
    assert [p.split(":")[0] for p in problems] == ["broker unreachable"]
