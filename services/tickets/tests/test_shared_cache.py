"""The cache every replica of tickets shares, and health/ready through a broker outage.

The checks themselves: servidesk_testing.shared_cache.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from servidesk_testing.shared_cache import (
    assert_ready_without_the_broker,
    assert_writes_counted_for_every_replica,
    use_database_cache,
)
from tests.conftest import Caller

pytestmark = pytest.mark.django_db

TABLE = "tickets_cache_test"
#: A GET-only endpoint the caller may read: a POST there is a write the throttle counts
#: (DRF throttles before it answers 405).
WRITE = "/api/tickets/status-counts/"


def test_writes_are_counted_where_every_replica_reads_them(
    settings: Any, callers: dict[str, Caller]
) -> None:
    use_database_cache(settings, TABLE)
    client = Client(headers=callers["client"].headers)
    assert_writes_counted_for_every_replica(
        settings, client, write=WRITE, user_id=callers["client"].id, table=TABLE
    )


def test_ready_stays_200_while_the_broker_is_unreachable(client: Client) -> None:
    assert_ready_without_the_broker(client, "/api/tickets/health/ready")
