"""Events crossing services in the running stack (PostgreSQL + RabbitMQ, through nginx).

A client registers in accounts and opens a ticket; a technician takes it and resolves it.
The relays and consumers `make up` runs must carry each change to the other services:
tickets' user directory, notifier's feed and reports' projection.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from stack import (
    DEMO_ADMIN,
    DEMO_TECHNICIAN,
    Stack,
    eventually,
    login,
)

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def gateway(pg_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pg_stack.base_url, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def client_user(gateway: httpx.Client) -> dict[str, Any]:
    name = f"e2e{uuid.uuid4().hex[:8]}"
    password = "Una-clave-larga-42"
    registered = gateway.post(
        "/api/accounts/auth/register/",
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": password,
            "full_name": "Cliente de Prueba",
            "language": "es",
        },
    )
    assert registered.status_code == 201, registered.text
    return {**registered.json(), "headers": login(gateway, name, password)}


def test_a_ticket_travels_through_every_service(
    gateway: httpx.Client, client_user: dict[str, Any]
) -> None:
    technician = login(gateway, *DEMO_TECHNICIAN)
    admin = login(gateway, *DEMO_ADMIN)
    # A category of this test's own, so reports' totals below count this ticket alone (the
    # demo seed's tickets would satisfy any total over the whole stack).
    category = f"e2e-{uuid.uuid4().hex[:8]}"
    made = gateway.post(
        "/api/tickets/categories/", json={"slug": category, "name": category}, headers=admin
    )
    assert made.status_code == 201, made.text

    # accounts → tickets: the new client reaches tickets' directory through user.registered,
    # so staff can open a ticket on their behalf.
    def opened_for_client() -> dict[str, Any] | None:
        response = gateway.post(
            "/api/tickets/",
            json={
                "title": "La impresora no imprime",
                "description": "Desde ayer no sale nada por la bandeja.",
                "priority": "high",
                "category": category,
                "client_id": client_user["id"],
            },
            headers=technician,
        )
        return response.json() if response.status_code == 201 else None

    ticket = eventually(opened_for_client, what="the client in tickets' directory")
    assert ticket["number"].startswith("SD-")
    assert str(ticket["client_id"]) == str(client_user["id"])

    # tickets → notifier: the client is told about the new ticket.
    def client_notifications() -> list[dict[str, Any]]:
        response = gateway.get("/api/notifications/", headers=client_user["headers"])
        assert response.status_code == 200, response.text
        return [n for n in response.json()["results"] if str(n["ticket_id"]) == str(ticket["id"])]

    created = eventually(client_notifications, what="the ticket.created notification")
    assert created[0]["event_type"] == "ticket.created"

    # The technician takes it and resolves it; the client hears about the status change.
    assigned = gateway.post(
        f"/api/tickets/{ticket['id']}/assign/",
        json={"assignee_id": gateway.get("/api/accounts/me/", headers=technician).json()["id"]},
        headers=technician,
    )
    assert assigned.status_code == 200, assigned.text
    for status in ("in_progress", "resolved"):
        moved = gateway.post(
            f"/api/tickets/{ticket['id']}/status/", json={"status": status}, headers=technician
        )
        assert moved.status_code == 200, moved.text

    def status_notices() -> list[dict[str, Any]]:
        return [n for n in client_notifications() if n["event_type"] == "ticket.status_changed"]

    eventually(lambda: len(status_notices()) >= 2, what="both status-change notifications")
    unread = gateway.get("/api/notifications/unread-count/", headers=client_user["headers"])
    assert unread.json()["count"] >= 3

    # tickets → reports: the admin's summary counts the ticket as created and resolved.
    def summary_counts_it() -> dict[str, Any] | None:
        response = gateway.get(
            "/api/reports/summary/", params={"category": category}, headers=admin
        )
        if response.status_code == 400 and "category" in response.json()["extra"]["fields"]:
            return None  # reports knows a category once a ticket of it has reached it
        assert response.status_code == 200, response.text
        totals = response.json()["totals"]
        return totals if totals["resolved"] >= 1 else None

    totals = eventually(summary_counts_it, what="the ticket in reports' projection")
    assert (totals["created"], totals["resolved"]) == (1, 1), totals


def test_a_team_s_queue_reaches_notifier_and_reports(
    gateway: httpx.Client, client_user: dict[str, Any]
) -> None:
    """tickets publishes ``team.created``; notifier tells the team of a ticket waiting in
    its queue, reports counts the ticket under the team's name, and a tag edit reaches
    reports as ``ticket.updated``."""
    technician = login(gateway, *DEMO_TECHNICIAN)
    admin = login(gateway, *DEMO_ADMIN)
    me = gateway.get("/api/accounts/me/", headers=technician).json()
    run = uuid.uuid4().hex[:8]
    category = f"e2e-team-{run}"
    made = gateway.post(
        "/api/tickets/categories/", json={"slug": category, "name": category}, headers=admin
    )
    assert made.status_code == 201, made.text
    name = f"Equipo {run} <b>&</b>"
    team = gateway.post(
        "/api/tickets/teams/",
        json={
            "name": name,
            "member_ids": [me["id"]],
            "lead_id": me["id"],
            "assignment": "manual",
            "category_slugs": [category],
        },
        headers=admin,
    )
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]

    def opened() -> dict[str, Any] | None:
        response = gateway.post(
            "/api/tickets/",
            json={
                "title": "El proyector no enciende",
                "description": "Sala 2, desde esta mañana.",
                "category": category,
                "client_id": client_user["id"],
            },
            headers=admin,
        )
        return response.json() if response.status_code == 201 else None

    ticket = eventually(opened, what="the client in tickets' directory")
    assert (ticket["team_id"], ticket["assignee_id"]) == (team_id, None)  # routed, manual

    # notifier knows the team from team.created and tells its member.
    def team_notice() -> list[dict[str, Any]]:
        response = gateway.get("/api/notifications/", headers=technician)
        assert response.status_code == 200, response.text
        return [n for n in response.json()["results"] if str(n["ticket_id"]) == str(ticket["id"])]

    eventually(team_notice, what="the team member told of the ticket in the queue")

    tagged = gateway.patch(
        f"/api/tickets/{ticket['id']}/", json={"tags": ["Proyector", "sala 2"]}, headers=admin
    )
    assert tagged.status_code == 200, tagged.text
    assert tagged.json()["tags"] == ["proyector", "sala 2"]

    # reports: the ticket under the team's name (as typed), and its tags from ticket.updated.
    def reported() -> dict[str, Any] | None:
        response = gateway.get(
            "/api/reports/summary/", params={"team_id": team_id, "tag": "proyector"}, headers=admin
        )
        if response.status_code == 400:
            return None  # the team or the tag has not reached reports yet
        assert response.status_code == 200, response.text
        return response.json()

    summary = eventually(reported, what="the team and the tags in reports")
    # Reports renders other services' ids as opaque strings (its projection stores them so).
    assert [(row["team_id"], row["name"], row["tickets"]) for row in summary["by_team"]] == [
        (str(team_id), name, 1)
    ]
    assert {row["tag"]: row["count"] for row in summary["by_tag"]} == {
        "proyector": 1,
        "sala 2": 1,
    }


def test_a_client_cannot_read_the_reports(
    gateway: httpx.Client, client_user: dict[str, Any]
) -> None:
    response = gateway.get("/api/reports/summary/", headers=client_user["headers"])
    assert response.status_code in {403, 404}
