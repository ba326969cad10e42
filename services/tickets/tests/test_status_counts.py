"""The status tabs' counts: the list's filters and scoping, one grouped query."""

from __future__ import annotations

from typing import Any

import pytest
from tickets import selectors
from tickets.models import Status, Team

from tests.conftest import Api, Caller
from tests.factories import CategoryFactory, TicketFactory

pytestmark = pytest.mark.django_db

URL = "/api/tickets/status-counts/"


@pytest.fixture
def tickets(callers: dict[str, Caller]) -> None:
    network = CategoryFactory(slug="network")
    for status, count in ((Status.PENDING, 3), (Status.IN_PROGRESS, 2), (Status.RESOLVED, 4)):
        for n in range(count):
            TicketFactory(client_id="11", status=status, category=network if n == 0 else None)
    TicketFactory(client_id="12", status=Status.PENDING)


def test_counts_per_status_and_in_all(
    api: Api, callers: dict[str, Caller], tickets: None, assert_queries: Any
) -> None:
    # The caller, the capped count that sizes the set, the grouped count.
    with assert_queries(3) as context:
        response = api.get(URL, as_=callers["technician"])
    assert response.status_code == 200
    assert response.json() == {
        "pending": 4,
        "in_progress": 2,
        "waiting": 0,
        "closed": 0,
        "resolved": 4,
        "total": 10,
        "capped": [],
    }
    sql = context.captured_queries[-1]["sql"]
    assert "GROUP BY" in sql
    # COUNT(*): an index of the filtered columns and the status answers it alone.
    assert "COUNT(*)" in sql


def test_a_client_counts_only_their_own(
    api: Api, callers: dict[str, Caller], tickets: None
) -> None:
    counts = api.get(URL, as_=callers["client"]).json()
    assert counts == {
        "pending": 3,
        "in_progress": 2,
        "waiting": 0,
        "closed": 0,
        "resolved": 4,
        "total": 9,
        "capped": [],
    }
    assert api.get(URL, as_=callers["other_client"]).json()["total"] == 1


def test_the_list_filters_apply(
    api: Api, callers: dict[str, Caller], tickets: None, assert_queries: Any
) -> None:
    # +1: the category filter checks the slug, as the list does.
    with assert_queries(4):
        counts = api.get(URL, as_=callers["technician"], category="network").json()
    assert counts == {
        "pending": 1,
        "in_progress": 1,
        "waiting": 0,
        "closed": 0,
        "resolved": 1,
        "total": 3,
        "capped": [],
    }
    counts = api.get(URL, as_=callers["technician"], client_id="12").json()
    assert counts == {
        "pending": 1,
        "in_progress": 0,
        "waiting": 0,
        "closed": 0,
        "resolved": 0,
        "total": 1,
        "capped": [],
    }


def test_a_status_with_no_tickets_is_zero(api: Api, callers: dict[str, Caller]) -> None:
    assert api.get(URL, as_=callers["admin"]).json() == {
        "pending": 0,
        "in_progress": 0,
        "waiting": 0,
        "closed": 0,
        "resolved": 0,
        "total": 0,
        "capped": [],
    }


def test_beyond_the_cap_each_status_counts_up_to_it_and_says_so(
    api: Api,
    callers: dict[str, Caller],
    tickets: None,
    assert_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over ``COUNT_CAP`` tickets a figure is a lower bound ("3+"), never a full count."""
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    # The caller, the capped count that sizes the set, one capped count per status.
    with assert_queries(2 + len(Status.values)) as context:
        counts = api.get(URL, as_=callers["technician"]).json()
    assert counts == {
        "pending": 3,
        "in_progress": 2,
        "waiting": 0,
        "closed": 0,
        "resolved": 3,
        "total": 8,
        "capped": ["pending", "resolved", "total"],
    }
    assert all("LIMIT 4" in query["sql"] for query in context.captured_queries[1:])
    # Under the cap, exact again.
    counts = api.get(URL, as_=callers["technician"], category="network").json()
    assert counts == {
        "pending": 1,
        "in_progress": 1,
        "waiting": 0,
        "closed": 0,
        "resolved": 1,
        "total": 3,
        "capped": [],
    }


def test_team_and_tag_filters(api: Api, callers: dict[str, Caller], open_ticket: Any) -> None:
    team = Team.objects.create(name="Redes")
    open_ticket("admin", client_id="11", team=team, tags=["vpn"])
    open_ticket("admin", client_id="11", tags=["vpn"])
    technician = callers["technician"]
    assert api.get(URL, as_=technician, team_id=str(team.pk)).json()["total"] == 1
    assert api.get(URL, as_=technician, team_id="none").json()["total"] == 1
    assert api.get(URL, as_=technician, tag="VPN").json()["total"] == 2
    # Tags are staff-only: a client's tag filter matches nothing.
    assert api.get(URL, as_=callers["client"], tag="vpn").json()["total"] == 0


def test_a_bad_filter_is_a_400(api: Api, callers: dict[str, Caller]) -> None:
    response = api.get(URL, as_=callers["technician"], status="closedish")
    assert response.status_code == 400
    assert "status" in response.json()["extra"]["fields"]
    assert api.get(URL).status_code == 401
