"""Bulk actions: each ticket checked on its own, one result per id given in order, one
event per changed ticket, and the rest applied when some are refused."""

from __future__ import annotations

from typing import Any

import pytest
from tickets import services
from tickets.models import HistoryEntry, Priority, Status, Team, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Api, Caller

pytestmark = pytest.mark.django_db

URL = "/api/tickets/bulk/"


def outbox_count(event_type: str) -> int:
    return OutboxMessage.objects.filter(event_type=event_type).count()


def test_unknown_ids_are_reported_and_the_others_applied_in_order(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    first, second = open_ticket("client"), open_ticket("other_client")
    missing = second.pk + 1000
    body = {"ids": [second.pk, missing, first.pk], "action": "priority", "value": "high"}
    before = outbox_count("ticket.updated")
    response = api.post(URL, body, as_=callers["technician"])
    assert response.status_code == 200, response.content
    assert response.json() == {
        "results": [
            {"id": second.pk, "ok": True, "error": None},
            {"id": missing, "ok": False, "error": "Not found."},
            {"id": first.pk, "ok": True, "error": None},
        ]
    }
    assert set(Ticket.objects.values_list("priority", flat=True)) == {Priority.HIGH}
    assert outbox_count("ticket.updated") == before + 2


def test_a_refused_ticket_leaves_the_others_applied(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    admin = callers["admin"].actor
    working = open_ticket("client")
    services.ticket_change_status(ticket_id=working.pk, actor=admin, status=Status.IN_PROGRESS)
    pending = open_ticket("client")  # pending cannot jump to resolved
    before = outbox_count("ticket.status_changed")
    body = {"ids": [pending.pk, working.pk], "action": "status", "value": "resolved"}
    results = api.post(URL, body, as_=callers["technician"]).json()["results"]
    assert [r["ok"] for r in results] == [False, True]
    assert "cannot go from Pending to Resolved" in results[0]["error"]
    assert Ticket.objects.get(pk=working.pk).status == Status.RESOLVED
    assert Ticket.objects.get(pk=pending.pk).status == Status.PENDING
    assert outbox_count("ticket.status_changed") == before + 1


def test_a_ticket_already_in_the_status_is_left_alone(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")
    version = ticket.version
    body = {"ids": [ticket.pk], "action": "status", "value": "pending"}
    assert api.post(URL, body, as_=callers["technician"]).json()["results"][0]["ok"] is True
    assert Ticket.objects.get(pk=ticket.pk).version == version


def test_assign_follows_the_role_rules_per_ticket(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    tickets = [open_ticket("client") for _ in range(3)]
    ids = [ticket.pk for ticket in tickets]
    # A technician may only take tickets, not give them to someone else.
    body = {"ids": ids, "action": "assign", "value": 22}
    results = api.post(URL, body, as_=callers["technician"]).json()["results"]
    assert [r["ok"] for r in results] == [False, False, False]
    assert results[0]["error"] == "Technicians can only assign tickets to themselves."
    body["value"] = 21
    results = api.post(URL, body, as_=callers["technician"]).json()["results"]
    assert all(r["ok"] for r in results)
    assert set(Ticket.objects.filter(pk__in=ids).values_list("assignee_id", flat=True)) == {"21"}
    # An admin unassigns them all.
    body["value"] = None
    results = api.post(URL, body, as_=callers["admin"]).json()["results"]
    assert all(r["ok"] for r in results)
    assert set(Ticket.objects.filter(pk__in=ids).values_list("assignee_id", flat=True)) == {None}


def test_team_and_tags(api: Api, callers: dict[str, Caller], open_ticket: Any) -> None:
    team = Team.objects.create(name="Redes")
    tagged = open_ticket("admin", client_id="11", tags=["vpn", "urgente"])
    plain = open_ticket("client")
    ids = [tagged.pk, plain.pk]
    technician = callers["technician"]
    body: dict[str, Any] = {"ids": ids, "action": "team", "value": team.pk}
    assert all(r["ok"] for r in api.post(URL, body, as_=technician).json()["results"])
    assert set(Ticket.objects.filter(pk__in=ids).values_list("team_id", flat=True)) == {team.pk}

    body = {"ids": ids, "action": "add_tags", "value": [" Facturación ", "VPN"]}
    assert all(r["ok"] for r in api.post(URL, body, as_=technician).json()["results"])
    tags_of = {
        row["id"]: row["tags"] for row in api.get("/api/tickets/", as_=technician).json()["results"]
    }
    assert tags_of == {
        tagged.pk: ["facturación", "urgente", "vpn"],
        plain.pk: ["facturación", "vpn"],
    }
    body = {"ids": ids, "action": "remove_tags", "value": ["VPN", "nunca-puesta"]}
    assert all(r["ok"] for r in api.post(URL, body, as_=technician).json()["results"])
    assert set(
        Ticket.tags.through.objects.filter(ticket_id__in=ids).values_list("tag__name", flat=True)
    ) == {"facturación", "urgente"}
    # Each change of each ticket is in its history.
    assert HistoryEntry.objects.filter(ticket_id=plain.pk, field="tags").count() == 2


def test_too_many_tags_on_one_ticket_refuses_only_that_one(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    full = open_ticket("admin", client_id="11", tags=[f"t{n}" for n in range(20)])
    empty = open_ticket("client")
    body = {"ids": [full.pk, empty.pk], "action": "add_tags", "value": ["one-more"]}
    results = api.post(URL, body, as_=callers["technician"]).json()["results"]
    assert results[0] == {
        "id": full.pk,
        "ok": False,
        "error": "A ticket can have at most 20 tags.",
    }
    assert results[1]["ok"] is True


def test_a_merged_ticket_is_refused_on_its_own(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    from tickets import merge  # noqa: PLC0415

    merged, into = open_ticket("client"), open_ticket("client")
    merge.ticket_merge(actor=callers["admin"].actor, ticket_id=merged.pk, into_id=into.pk)
    body = {"ids": [merged.pk, into.pk], "action": "priority", "value": "low"}
    results = api.post(URL, body, as_=callers["technician"]).json()["results"]
    assert results[0]["ok"] is False
    assert "merged" in results[0]["error"]
    assert results[1]["ok"] is True


def test_an_id_given_twice_is_applied_once_and_answered_twice(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")
    services.ticket_change_status(
        ticket_id=ticket.pk, actor=callers["admin"].actor, status=Status.IN_PROGRESS
    )
    body = {"ids": [ticket.pk, ticket.pk], "action": "status", "value": "resolved"}
    results = api.post(URL, body, as_=callers["technician"]).json()["results"]
    assert results == [{"id": ticket.pk, "ok": True, "error": None}] * 2
    assert HistoryEntry.objects.filter(ticket=ticket, to_value="resolved").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": [], "action": "status", "value": "pending"}, "ids"),
        ({"ids": list(range(1, 502)), "action": "status", "value": "pending"}, "ids"),
        ({"ids": ["x"], "action": "status", "value": "pending"}, "ids"),
        ({"ids": [1], "action": "delete", "value": None}, "action"),
        ({"ids": [1], "action": "status", "value": "closed"}, "value"),
        ({"ids": [1], "action": "priority", "value": 3}, "value"),
        ({"ids": [1], "action": "team", "value": 999_999}, "value"),
        ({"ids": [1], "action": "team", "value": "1"}, "value"),
        ({"ids": [1], "action": "assign", "value": 999_999}, "value"),
        ({"ids": [1], "action": "assign", "value": True}, "value"),
        ({"ids": [1], "action": "add_tags", "value": "vpn"}, "value"),
        ({"ids": [1], "action": "add_tags", "value": ["  "]}, "value"),
        ({"ids": [1], "action": "remove_tags", "value": [{"a": 1}]}, "value"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field(
    api: Api, callers: dict[str, Caller], body: dict[str, Any], field: str
) -> None:
    response = api.post(URL, body, as_=callers["technician"])
    assert response.status_code == 400, response.content
    assert any(name.split(".")[0] == field for name in response.json()["extra"]["fields"])


def test_500_tickets_cost_no_more_queries_each_than_their_service(
    api: Api, callers: dict[str, Caller], open_ticket: Any, assert_queries: Any
) -> None:
    """The per-ticket cost is flat: 10 tickets and 40 tickets differ by 30 times one
    ticket's statements, and the fixed part (the caller, reading and locking every ticket
    at once) does not grow."""
    from django.db import connection  # noqa: PLC0415
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    def statements(count: int) -> int:
        ids = [open_ticket("client").pk for _ in range(count)]
        with CaptureQueriesContext(connection) as context:
            response = api.post(
                URL, {"ids": ids, "action": "priority", "value": "high"}, as_=callers["admin"]
            )
        assert all(r["ok"] for r in response.json()["results"])
        return len([q for q in context.captured_queries if "SAVEPOINT" not in q["sql"]])

    small, large = statements(10), statements(40)
    per_ticket = (large - small) / 30
    assert per_ticket == int(per_ticket)
    assert small - 10 * per_ticket == 2  # the caller, all the tickets locked in one query


@pytest.mark.parametrize("role", ["client", "other_client"])
def test_clients_cannot_bulk(
    api: Api, callers: dict[str, Caller], open_ticket: Any, role: str
) -> None:
    ticket = open_ticket("client")
    body = {"ids": [ticket.pk], "action": "status", "value": "in_progress"}
    assert api.post(URL, body, as_=callers[role]).status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING


def test_the_outcomes_speak_the_callers_language(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")
    headers = {**callers["technician"].headers, "Accept-Language": "es"}
    body = {"ids": [ticket.pk + 1000, ticket.pk], "action": "status", "value": "resolved"}
    response = api.client.post(URL, body, content_type="application/json", headers=headers)
    results = response.json()["results"]
    assert results[0]["error"] == "No encontrado."
    assert results[1]["error"].startswith("Un ticket no puede pasar de Pendiente a Resuelto")
