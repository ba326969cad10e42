"""The cache every replica of web shares, and health/ready without a broker.

The suite keeps its memos in memory (core.settings.test); these tests run on the
database cache, the default everywhere else (servidesk_shared.cache).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache, caches
from django.core.management import call_command
from django.test import Client
from portal.views.common import forget_category_names

from servidesk_shared.cache.backends import DatabaseCache
from servidesk_shared.health import worker_problems

pytestmark = pytest.mark.django_db

TABLE = "web_cache_test"
STAFF_NAMES = "servidesk:category-names:staff"


@pytest.fixture
def database_cache(settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "servidesk_shared.cache.backends.DatabaseCache", "LOCATION": TABLE}
    }
    call_command("createcachetable", verbosity=0)
    caches["default"].clear()


def test_a_memo_one_replica_keeps_is_read_and_dropped_by_another(database_cache: None) -> None:
    """A category renamed through one replica is not shown by name on the other for the
    memo's minute: the memo and its forgetting live in the shared table."""
    other_replica = DatabaseCache(TABLE, {})
    other_replica.set(STAFF_NAMES, {"network": "Red"}, 60)
    assert cache.get(STAFF_NAMES) == {"network": "Red"}
    forget_category_names()
    assert other_replica.get(STAFF_NAMES) is None


def test_ready_checks_the_database_and_web_has_no_worker_checks(client: Client) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok"}
    assert worker_problems() == []
