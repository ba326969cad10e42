"""Behaviour of the ticket endpoints: create, edit, assign, conversation, SLA clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from tickets.models import HistoryEntry, Priority, Role, SlaTarget, Ticket

from tests.conftest import Api, Caller
from tests.factories import CategoryFactory, DirectoryUserFactory, TicketFactory

pytestmark = pytest.mark.django_db

CONTRACT_FIELDS = {
    "id",
    "number",
    "title",
    "description",
    "status",
    "priority",
    "category",
    "client_id",
    "assignee_id",
    "created_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "first_response_due",
    "resolution_due",
}


def hours_between(start: str, end: str) -> float:
    return (parse_datetime(end) - parse_datetime(start)).total_seconds() / 3600  # type: ignore[operator]


class TestCreate:
    def test_a_client_opens_a_ticket_for_themselves(
        self, api: Api, callers: dict[str, Caller]
    ) -> None:
        CategoryFactory(slug="network")
        body = {
            "title": "  VPN drops  ",
            "description": "Every 10 minutes.",
            "priority": "high",
            "category": "network",
        }
        response = api.post("/api/tickets/", body, as_=callers["client"])
        assert response.status_code == 201
        ticket = response.json()
        assert set(ticket) >= CONTRACT_FIELDS
        assert ticket["number"].startswith("SD-")
        assert ticket["title"] == "VPN drops"
        assert ticket["status"] == "pending"
        assert ticket["priority"] == "high"
        assert ticket["category"] == "network"
        assert ticket["client_id"] == 11
        assert ticket["assignee_id"] is None
        assert ticket["client_name"] == "Ana Example"
        assert hours_between(ticket["created_at"], ticket["first_response_due"]) == 4
        assert hours_between(ticket["created_at"], ticket["resolution_due"]) == 24

    def test_defaults_are_medium_and_no_category(
        self, api: Api, callers: dict[str, Caller]
    ) -> None:
        body = {"title": "Mouse", "description": "Broken."}
        ticket = api.post("/api/tickets/", body, as_=callers["client"]).json()
        assert ticket["priority"] == "medium"
        assert ticket["category"] is None

    @pytest.mark.parametrize("role", ["technician", "admin"])
    @pytest.mark.parametrize("client_id", [11, "11"])
    def test_staff_open_tickets_for_a_client(
        self, api: Api, callers: dict[str, Caller], role: str, client_id: Any
    ) -> None:
        body = {"title": "Phoned in", "description": "Printer.", "client_id": client_id}
        response = api.post("/api/tickets/", body, as_=callers[role])
        assert response.status_code == 201
        assert response.json()["client_id"] == 11
        entry = HistoryEntry.objects.get(ticket_id=response.json()["id"])
        assert entry.actor_id == str(callers[role].id)

    def test_numbers_are_unique_and_increasing(self, api: Api, callers: dict[str, Caller]) -> None:
        body = {"title": "t", "description": "d"}
        numbers = [
            int(api.post("/api/tickets/", body, as_=callers["client"]).json()["number"][3:])
            for _ in range(5)
        ]
        assert numbers == sorted(numbers)
        assert len(set(numbers)) == 5

    def test_uses_the_admins_sla_targets(self, api: Api, callers: dict[str, Caller]) -> None:
        SlaTarget.objects.create(
            priority=Priority.URGENT, first_response_hours=2, resolution_hours=6
        )
        body = {"title": "Server down", "description": "All of it.", "priority": "urgent"}
        ticket = api.post("/api/tickets/", body, as_=callers["client"]).json()
        assert hours_between(ticket["created_at"], ticket["first_response_due"]) == 2
        assert hours_between(ticket["created_at"], ticket["resolution_due"]) == 6


class TestEdit:
    def test_edits_are_kept_as_history(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        CategoryFactory(slug="hardware")
        ticket = open_ticket("client")
        body = {"title": "Printer jammed", "priority": "urgent", "category": "hardware"}
        response = api.patch(f"/api/tickets/{ticket.pk}/", body, as_=callers["technician"])
        assert response.status_code == 200
        data = response.json()
        assert data["version"] == 2
        assert hours_between(data["created_at"], data["resolution_due"]) == 4
        entries = HistoryEntry.objects.filter(ticket=ticket).exclude(field="status")
        assert sorted(entries.values_list("field", "from_value", "to_value")) == [
            ("category", None, "hardware"),
            ("priority", "medium", "urgent"),
            ("title", "Printer on floor 3 is jammed", "Printer jammed"),
        ]

    def test_an_edit_that_changes_nothing_writes_nothing(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = open_ticket("client")
        body = {"title": ticket.title, "version": 1}
        data = api.patch(f"/api/tickets/{ticket.pk}/", body, as_=callers["technician"]).json()
        assert data["version"] == 1
        assert HistoryEntry.objects.filter(ticket=ticket).count() == 1

    def test_the_title_change_is_searchable(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = open_ticket("client")
        api.patch(f"/api/tickets/{ticket.pk}/", {"title": "Quokka"}, as_=callers["client"])
        found = api.get("/api/tickets/", as_=callers["client"], q="quokka").json()["results"]
        assert [row["id"] for row in found] == [ticket.pk]


class TestAssign:
    def test_a_technician_takes_and_gives_up_a_ticket(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = open_ticket("client")
        url = f"/api/tickets/{ticket.pk}/assign/"
        taken = api.post(url, {"assignee_id": 21}, as_=callers["technician"]).json()
        assert taken["assignee_id"] == 21
        assert taken["assignee_name"] == "Tere Example"
        # Another technician cannot unassign a colleague; an admin can.
        refused = api.post(url, {"assignee_id": None}, as_=callers["other_technician"])
        assert refused.status_code == 403
        freed = api.post(url, {"assignee_id": None}, as_=callers["technician"]).json()
        assert freed["assignee_id"] is None
        entries = HistoryEntry.objects.filter(ticket=ticket, field="assignee_id").order_by("id")
        assert [(e.from_value, e.to_value) for e in entries] == [(None, "21"), ("21", None)]

    def test_an_admin_assigns_to_any_active_technician_or_admin(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = open_ticket("client")
        url = f"/api/tickets/{ticket.pk}/assign/"
        admin = callers["admin"]
        assert api.post(url, {"assignee_id": 22}, as_=admin).json()["assignee_id"] == 22
        DirectoryUserFactory(id="32", role=Role.ADMIN)
        assert api.post(url, {"assignee_id": "32"}, as_=admin).json()["assignee_id"] == 32
        assert api.post(url, {"assignee_id": None}, as_=admin).json()["assignee_id"] is None

    def test_a_deactivated_technician_cannot_be_assigned(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = open_ticket("client")
        DirectoryUserFactory(id="22", role=Role.TECHNICIAN).__class__.objects.filter(
            pk="22"
        ).update(is_active=False)
        response = api.post(
            f"/api/tickets/{ticket.pk}/assign/", {"assignee_id": 22}, as_=callers["admin"]
        )
        assert response.status_code == 400

    def test_assigning_the_same_person_again_is_a_no_op(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = open_ticket("client")
        url = f"/api/tickets/{ticket.pk}/assign/"
        api.post(url, {"assignee_id": 21}, as_=callers["technician"])
        again = api.post(url, {"assignee_id": 21}, as_=callers["technician"]).json()
        assert again["version"] == 2

    def test_the_assignee_list_is_active_staff(self, api: Api, callers: dict[str, Caller]) -> None:
        DirectoryUserFactory(id="29", role=Role.TECHNICIAN, is_active=False)
        people = api.get("/api/tickets/assignees/", as_=callers["technician"]).json()
        assert {p["id"] for p in people} == {21, 22, 31}


class TestConversationAndSla:
    def test_first_public_staff_reply_sets_first_response_at(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = open_ticket("client")
        url = f"/api/tickets/{ticket.pk}/comments/"
        api.post(url, {"body": "More detail from me"}, as_=callers["client"])
        api.post(url, {"body": "note", "internal": True}, as_=callers["technician"])
        ticket.refresh_from_db()
        assert ticket.first_response_at is None
        reply = api.post(url, {"body": "We are on it"}, as_=callers["technician"]).json()
        ticket.refresh_from_db()
        assert ticket.first_response_at == parse_datetime(reply["created_at"])
        api.post(url, {"body": "Still on it"}, as_=callers["admin"])
        ticket.refresh_from_db()
        assert ticket.first_response_at == parse_datetime(reply["created_at"])

    def test_comment_shape(self, api: Api, callers: dict[str, Caller], open_ticket: Any) -> None:
        ticket = open_ticket("client")
        response = api.post(
            f"/api/tickets/{ticket.pk}/comments/", {"body": " Hi "}, as_=callers["client"]
        )
        assert response.status_code == 201
        comment = response.json()
        assert {"id", "author_id", "body", "internal", "created_at"} <= set(comment)
        assert comment["author_id"] == 11
        assert comment["body"] == "Hi"
        assert comment["internal"] is False
        assert comment["author_name"] == "Ana Example"

    def test_breach_flags_and_filter(self, api: Api, callers: dict[str, Caller]) -> None:
        now = timezone.now()
        late_reply = TicketFactory(
            client_id="11",
            first_response_due=now - timedelta(hours=2),
            first_response_at=now - timedelta(hours=1),
            resolution_due=now + timedelta(days=1),
        )
        overdue = TicketFactory(
            client_id="11",
            first_response_due=now - timedelta(hours=1),
            resolution_due=now + timedelta(days=1),
        )
        fine = TicketFactory(
            client_id="11",
            first_response_due=now - timedelta(hours=2),
            first_response_at=now - timedelta(hours=3),
            resolution_due=now - timedelta(hours=1),
            resolved_at=now - timedelta(hours=2),
            status="resolved",
        )
        late_fix = TicketFactory(
            client_id="11",
            first_response_due=now + timedelta(hours=1),
            resolution_due=now - timedelta(hours=1),
        )
        rows = api.get("/api/tickets/", as_=callers["technician"]).json()["results"]
        flags = {r["id"]: (r["first_response_breached"], r["resolution_breached"]) for r in rows}
        assert flags == {
            late_reply.pk: (True, False),
            overdue.pk: (True, False),
            fine.pk: (False, False),
            late_fix.pk: (False, True),
        }

        def ids(value: str) -> set[int]:
            found = api.get("/api/tickets/", as_=callers["technician"], breached=value).json()
            return {r["id"] for r in found["results"]}

        assert ids("true") == {late_reply.pk, overdue.pk, late_fix.pk}
        assert ids("false") == {fine.pk}

    def test_a_new_sla_target_moves_the_open_tickets_that_count_in_it(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket: Ticket = open_ticket("client", priority=Priority.HIGH)
        due = ticket.resolution_due
        body = {"first_response_hours": 1, "resolution_hours": 2}
        target = api.put("/api/tickets/sla-targets/high/", body, as_=callers["admin"]).json()
        assert target == {
            "priority": "high",
            "first_response_hours": 1,
            "resolution_hours": 2,
            "is_default": False,
        }
        ticket.refresh_from_db()
        # The default calendar is open around the clock: two hours are two hours.
        assert ticket.resolution_due == ticket.created_at + timedelta(hours=2)
        assert ticket.resolution_due != due
        assert ticket.first_response_due == ticket.created_at + timedelta(hours=1)
        patched = api.patch(
            "/api/tickets/sla-targets/high/", {"resolution_hours": 3}, as_=callers["admin"]
        ).json()
        assert (patched["first_response_hours"], patched["resolution_hours"]) == (1, 3)


class TestCategories:
    def test_clients_see_active_categories_only(self, api: Api, callers: dict[str, Caller]) -> None:
        CategoryFactory(slug="network", name="Network")
        CategoryFactory(slug="fax", name="Fax", is_active=False)
        client_view = api.get("/api/tickets/categories/", as_=callers["client"]).json()
        staff_view = api.get("/api/tickets/categories/", as_=callers["technician"]).json()
        assert [c["slug"] for c in client_view] == ["network"]
        assert [c["slug"] for c in staff_view] == ["fax", "network"]

    def test_admin_renames_and_retires(self, api: Api, callers: dict[str, Caller]) -> None:
        CategoryFactory(slug="network", name="Network")
        url = "/api/tickets/categories/network/"
        body = {"name": "Networking", "is_active": False, "slug": "ignored"}
        data = api.patch(url, body, as_=callers["admin"]).json()
        assert data == {
            "slug": "network",
            "name": "Networking",
            "description": "",
            "is_active": False,
        }


def test_text_is_stored_with_one_kind_of_line_end(api: Api, callers: dict[str, Caller]) -> None:
    """A browser's textarea sends CRLF, an old mail program a lone CR: stored as LF."""
    client = callers["client"]
    body = {"title": "Impresora", "description": "Línea uno\r\nLínea dos\rLínea tres\n"}
    created = api.post("/api/tickets/", body, as_=client)
    assert created.status_code == 201, created.content
    assert created.json()["description"] == "Línea uno\nLínea dos\nLínea tres"
    url = f"/api/tickets/{created.json()['id']}/"
    comment = api.post(f"{url}comments/", {"body": "Hola\r\n\r\nAdiós"}, as_=client)
    assert comment.json()["body"] == "Hola\n\nAdiós"
    assert Ticket.objects.get(pk=created.json()["id"]).description.count("\r") == 0
