"""A client's history of their own ticket: what the ticket shows them, not the staff's work.

The attack: the history endpoint answered a client with every entry, so a client could
read how their ticket moved between technicians (ids of every staff member who held it)
and anything staff-only that is recorded there. Clients get the changes to status, title,
description, priority and category; staff get everything.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, Caller
from tests.factories import HistoryEntryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked_ticket(api: Api, callers: dict[str, Caller], open_ticket: Any) -> Any:
    """A client's ticket edited by its client, then assigned, reassigned and worked."""
    client, technician, admin = callers["client"], callers["technician"], callers["admin"]
    ticket = open_ticket("client")
    url = f"/api/tickets/{ticket.pk}/"
    steps = [
        api.patch(url, {"title": "Printer jammed again"}, as_=client),
        api.post(f"{url}assign/", {"assignee_id": technician.id}, as_=admin),
        api.post(f"{url}assign/", {"assignee_id": callers["other_technician"].id}, as_=admin),
        api.post(f"{url}comments/", {"body": "VIP, be quick", "internal": True}, as_=admin),
        api.post(f"{url}status/", {"status": "in_progress"}, as_=technician),
        api.patch(url, {"priority": "high"}, as_=technician),
    ]
    assert [response.status_code for response in steps] == [200, 200, 200, 201, 200, 200]
    # A field the service may record later (teams, tags) is staff-only until listed.
    HistoryEntryFactory(
        ticket=ticket, actor_id="31", field="team_id", from_value=None, to_value="4"
    )
    return ticket


def history(api: Api, caller: Caller, ticket: Any) -> list[tuple[str, Any, Any]]:
    response = api.get(f"/api/tickets/{ticket.pk}/history/", as_=caller)
    assert response.status_code == 200
    return [(entry["field"], entry["from"], entry["to"]) for entry in response.json()["results"]]


def test_a_client_gets_only_the_changes_to_what_their_ticket_shows_them(
    api: Api, callers: dict[str, Caller], worked_ticket: Any
) -> None:
    assert history(api, callers["client"], worked_ticket) == [
        ("status", None, "pending"),
        ("title", "Printer on floor 3 is jammed", "Printer jammed again"),
        ("status", "pending", "in_progress"),
        ("priority", "medium", "high"),
    ]


@pytest.mark.parametrize("role", ["technician", "admin"])
def test_staff_get_the_whole_history(
    api: Api, callers: dict[str, Caller], worked_ticket: Any, role: str
) -> None:
    assert history(api, callers[role], worked_ticket) == [
        ("status", None, "pending"),
        ("title", "Printer on floor 3 is jammed", "Printer jammed again"),
        ("assignee_id", None, 21),
        ("assignee_id", 21, 22),
        ("status", "pending", "in_progress"),
        ("priority", "medium", "high"),
        ("team_id", None, "4"),
    ]


def test_another_clients_history_is_not_found(
    api: Api, callers: dict[str, Caller], worked_ticket: Any
) -> None:
    response = api.get(f"/api/tickets/{worked_ticket.pk}/history/", as_=callers["other_client"])
    assert response.status_code == 404
