"""Date-times read back from the database are the moments that were stored, as aware
values, and the API writes them in the server's time zone (``Z`` for UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from tickets import selectors

from tests.conftest import Api, Caller
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

#: One second before and half an hour after Madrid moves to summer time (01:00 UTC).
BEFORE_DST = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)
AFTER_DST = datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=UTC)
#: Stored from an offset other than UTC: the moment counts, not the offset it came with.
FROM_OFFSET = datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-5.5)))


@pytest.fixture
def ticket(callers: dict[str, Caller]) -> Any:
    return TicketFactory(
        client_id="11",
        created_at=BEFORE_DST,
        updated_at=AFTER_DST,
        first_response_at=FROM_OFFSET,
        resolved_at=None,
        first_response_due=AFTER_DST + timedelta(hours=8),
        resolution_due=BEFORE_DST + timedelta(days=3),
    )


def shown(api: Api, caller: Caller, ticket: Any) -> list[dict[str, Any]]:
    """The ticket as the list and the detail show it."""
    listed = api.get("/api/tickets/", as_=caller).json()["results"]
    assert [row["id"] for row in listed] == [ticket.pk]
    detail = api.get(f"/api/tickets/{ticket.pk}/", as_=caller).json()
    return [listed[0], detail]


def test_reads_give_the_stored_moments_as_aware_values(ticket: Any, callers: Any) -> None:
    for actor in (callers["client"].actor, callers["technician"].actor):
        read = selectors.ticket_get(actor=actor, ticket_id=ticket.pk)
        listed = selectors.ticket_list(actor=actor, filters={}).get(pk=ticket.pk)
        for row in (read, listed):
            assert (row.created_at, row.updated_at, row.first_response_at) == (
                BEFORE_DST,
                AFTER_DST,
                FROM_OFFSET,
            )
            assert row.resolved_at is None
            assert all(
                value.utcoffset() is not None
                for value in (row.created_at, row.updated_at, row.first_response_at)
            )


def test_the_api_writes_them_in_utc_by_default(
    api: Api, callers: dict[str, Caller], ticket: Any
) -> None:
    for caller in (callers["client"], callers["technician"]):
        for body in shown(api, caller, ticket):
            assert body["created_at"] == "2026-03-29T00:59:59.999999Z"
            assert body["updated_at"] == "2026-03-29T01:30:00.123456Z"
            assert body["first_response_at"] == "2000-01-01T05:29:59.000001Z"
            assert body["resolved_at"] is None
            assert body["first_response_due"] == "2026-03-29T09:30:00.123456Z"
            assert body["resolution_due"] == "2026-04-01T00:59:59.999999Z"


def test_the_api_writes_them_in_the_server_s_time_zone(
    api: Api, callers: dict[str, Caller], ticket: Any, settings: Any
) -> None:
    settings.TIME_ZONE = "Europe/Madrid"
    for body in shown(api, callers["technician"], ticket):
        # Either side of the change to summer time: the offset follows the date.
        assert body["created_at"] == "2026-03-29T01:59:59.999999+01:00"
        assert body["updated_at"] == "2026-03-29T03:30:00.123456+02:00"
        assert body["first_response_at"] == "2000-01-01T06:29:59.000001+01:00"
        parsed = datetime.fromisoformat(body["updated_at"])
        assert parsed == AFTER_DST
