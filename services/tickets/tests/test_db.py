"""``tickets.db``: date-times read through psycopg's C parser, exactly as Django reads them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from tickets.db import TIMESTAMPTZ_OID, c_timestamptz_loader

from tests.conftest import postgresql_only

pytestmark = [pytest.mark.django_db, postgresql_only]


def test_connections_parse_timestamptz_in_c() -> None:
    if c_timestamptz_loader() is None:
        pytest.skip("psycopg's C implementation is not installed")
    connection.ensure_connection()
    from psycopg.pq import Format  # noqa: PLC0415

    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    assert getattr(loader, "parses_in_c", False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-29 01:30:00.123456+00", datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=UTC)),
        ("2026-10-25 02:59:59+02", datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC)),
        ("1999-12-31 23:59:59.000001-05:30", datetime(2000, 1, 1, 5, 29, 59, 1, tzinfo=UTC)),
        ("0001-01-01 00:00:00+00", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_values_are_what_django_would_read(text: str, expected: datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [text])
        (value,) = cursor.fetchone()
    assert value == expected
    # Django's own loader stamps every value with the connection's time zone object.
    assert value.tzinfo is connection.timezone
