"""Teams: admins manage them (each write a ``team.*`` event), categories route tickets to
them, and their assignment rule hands out new and reopened tickets, fairly."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from tickets import services, teams
from tickets.models import Assignment, Category, DirectoryUser, Role, Status, Team, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import CALLERS, Api, Caller, postgresql_only
from tests.factories import CategoryFactory, DirectoryUserFactory

URL = "/api/tickets/teams/"


def team_events() -> list[tuple[str, dict[str, Any]]]:
    rows = OutboxMessage.objects.filter(event_type__startswith="team.").order_by("id")
    return [(row.event_type, row.envelope["data"]) for row in rows]


def make_team(name: str = "Redes", *, members: list[str], **fields: Any) -> Team:
    return teams.team_create(
        data=teams.TeamData(
            name=name,
            member_ids=members,
            lead_id=fields.get("lead_id"),
            assignment=fields.get("assignment", Assignment.MANUAL),
            category_slugs=fields.get("category_slugs", []),
        )
    )


# --- managing teams -------------------------------------------------------------------


@pytest.mark.django_db
class TestCrud:
    def test_create_read_update_delete_with_their_events(
        self, api: Api, callers: dict[str, Caller]
    ) -> None:
        CategoryFactory(slug="network")
        admin = callers["admin"]
        body = {
            "name": "  Redes   y VPN ",
            "member_ids": [21, 22],
            "lead_id": 22,
            "assignment": "round_robin",
            "category_slugs": ["network"],
        }
        response = api.post(URL, body, as_=admin)
        assert response.status_code == 201, response.content
        team = response.json()
        assert team["name"] == "Redes y VPN"
        assert team["member_ids"] == [21, 22]
        assert team["lead_id"] == 22
        assert team["assignment"] == "round_robin"
        assert team["category_slugs"] == ["network"]
        assert set(team) == {
            "id",
            "name",
            "member_ids",
            "lead_id",
            "assignment",
            "category_slugs",
            "calendar_id",
            "sla_targets",
            "escalation",
            "created_at",
            "updated_at",
        }
        assert team["calendar_id"] is None  # the default calendar
        assert team["sla_targets"] == {}
        assert team["escalation"] == {"raise_priority": False, "reassign_to_lead": False}
        assert Category.objects.get(slug="network").team_id == team["id"]
        url = f"{URL}{team['id']}/"
        assert api.get(url, as_=callers["technician"]).json() == team
        assert api.get(URL, as_=callers["technician"]).json() == [team]

        response = api.patch(url, {"member_ids": [21]}, as_=admin)
        assert response.status_code == 200
        # The lead left the team: no lead, and the rest of the team as it was.
        assert response.json()["lead_id"] is None
        assert response.json()["assignment"] == "round_robin"
        assert response.json()["category_slugs"] == ["network"]

        assert api.delete(url, as_=admin).status_code == 204
        assert api.get(url, as_=admin).status_code == 404
        assert Category.objects.get(slug="network").team_id is None

        events = team_events()
        assert [event_type for event_type, _ in events] == [
            "team.created",
            "team.updated",
            "team.deleted",
        ]
        created = events[0][1]
        assert created["name"] == "Redes y VPN"
        assert created["member_ids"] == [21, 22]
        assert created["lead_id"] == 22
        assert created["category_slugs"] == ["network"]
        assert events[1][1]["member_ids"] == [21]
        assert events[2][1]["id"] == team["id"]

    def test_a_deleted_teams_tickets_keep_no_team(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        team = make_team(members=["21"])
        ticket = open_ticket("admin", client_id="11", team=team)
        assert api.delete(f"{URL}{team.pk}/", as_=callers["admin"]).status_code == 204
        assert Ticket.objects.get(pk=ticket.pk).team_id is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "   "}, "name"),
            ({"name": "Redes", "member_ids": [11]}, "member_ids"),  # a client
            ({"name": "Redes", "member_ids": [999]}, "member_ids"),  # nobody
            ({"name": "Redes", "member_ids": [21], "lead_id": 22}, "lead_id"),
            ({"name": "Redes", "category_slugs": ["no-such"]}, "category_slugs"),
            ({"name": "Redes", "assignment": "random"}, "assignment"),
            ({"name": "x" * 101}, "name"),
        ],
    )
    def test_bad_teams_are_a_400_naming_the_field(
        self, api: Api, callers: dict[str, Caller], body: dict[str, Any], field: str
    ) -> None:
        response = api.post(URL, body, as_=callers["admin"])
        assert response.status_code == 400, response.content
        assert field in response.json()["extra"]["fields"]
        assert team_events() == []

    def test_names_are_unique_whatever_their_case(
        self, api: Api, callers: dict[str, Caller]
    ) -> None:
        make_team("Redes", members=[])
        response = api.post(URL, {"name": "REDES"}, as_=callers["admin"])
        assert response.status_code == 400
        assert "name" in response.json()["extra"]["fields"]

    def test_an_inactive_technician_cannot_join(self, api: Api, callers: dict[str, Caller]) -> None:
        DirectoryUser.objects.filter(pk="22").update(is_active=False)
        response = api.post(URL, {"name": "Redes", "member_ids": [21, 22]}, as_=callers["admin"])
        assert response.status_code == 400

    @pytest.mark.parametrize("role", ["technician", "client"])
    def test_only_admins_write(self, api: Api, callers: dict[str, Caller], role: str) -> None:
        team = make_team(members=["21"])
        caller = callers[role]
        assert api.post(URL, {"name": "Otro"}, as_=caller).status_code == 403
        assert api.patch(f"{URL}{team.pk}/", {"name": "x"}, as_=caller).status_code == 403
        assert api.delete(f"{URL}{team.pk}/", as_=caller).status_code == 403
        assert Team.objects.get(pk=team.pk).name == "Redes"

    def test_clients_do_not_read_teams(self, api: Api, callers: dict[str, Caller]) -> None:
        team = make_team(members=["21"])
        assert api.get(URL, as_=callers["client"]).status_code == 403
        assert api.get(f"{URL}{team.pk}/", as_=callers["client"]).status_code == 403

    def test_the_list_is_five_queries_whatever_its_size(
        self, api: Api, callers: dict[str, Caller], assert_queries: Any
    ) -> None:
        for n in range(8):
            make_team(f"Team {n}", members=["21", "22"], category_slugs=[])
        # The caller, the teams, their members, their categories, their SLA targets.
        with assert_queries(5):
            assert len(api.get(URL, as_=callers["technician"]).json()) == 8


# --- routing --------------------------------------------------------------------------


@pytest.mark.django_db
class TestRouting:
    def test_a_ticket_gets_its_categorys_team_on_creation(
        self, api: Api, callers: dict[str, Caller]
    ) -> None:
        CategoryFactory(slug="network")
        team = make_team(members=["21"], category_slugs=["network"])
        body = {"title": "VPN", "description": "Drops", "category": "network"}
        response = api.post("/api/tickets/", body, as_=callers["client"])
        assert response.status_code == 201
        assert response.json()["team_id"] == team.pk

    def test_and_when_its_category_changes(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        CategoryFactory(slug="network")
        CategoryFactory(slug="printers")
        network = make_team("Redes", members=["21"], category_slugs=["network"])
        ticket = open_ticket("client")
        assert ticket.team_id is None
        url = f"/api/tickets/{ticket.pk}/"
        response = api.patch(url, {"category": "network"}, as_=callers["technician"])
        assert response.json()["team_id"] == network.pk
        # A category routed nowhere leaves the team as it is.
        response = api.patch(url, {"category": "printers"}, as_=callers["technician"])
        assert response.json()["team_id"] == network.pk
        # A team named in the same edit wins over the category's.
        other = make_team("Impresoras", members=["22"])
        body = {"category": "network", "team_id": other.pk}
        assert api.patch(url, body, as_=callers["technician"]).json()["team_id"] == other.pk
        changes = [
            row.envelope["data"]["changes"]
            for row in OutboxMessage.objects.filter(
                event_type="ticket.updated", aggregate_id=str(ticket.pk)
            ).order_by("sequence")
        ]
        assert changes[0]["team_id"] == {"before": None, "after": network.pk}

    def test_staff_set_the_team_by_hand_and_clients_cannot(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        team = make_team(members=["21"])
        ticket = open_ticket("client")
        url = f"/api/tickets/{ticket.pk}/"
        assert api.patch(url, {"team_id": team.pk}, as_=callers["client"]).status_code == 403
        response = api.patch(url, {"team_id": team.pk}, as_=callers["technician"])
        assert response.json()["team_id"] == team.pk
        response = api.patch(url, {"team_id": None}, as_=callers["technician"])
        assert response.json()["team_id"] is None
        response = api.patch(url, {"team_id": 999_999}, as_=callers["technician"])
        assert response.status_code == 400
        assert "team_id" in response.json()["extra"]["fields"]


# --- assignment rules -----------------------------------------------------------------


@pytest.fixture
def four_technicians(callers: dict[str, Caller]) -> list[str]:
    DirectoryUserFactory(id="23", username="teo", role=Role.TECHNICIAN)
    return ["21", "22", "23", "31"]


@pytest.mark.django_db
class TestAssignment:
    def test_manual_assigns_nobody(self, open_ticket: Any, four_technicians: list[str]) -> None:
        team = make_team(members=four_technicians, assignment=Assignment.MANUAL)
        assert open_ticket("admin", client_id="11", team=team).assignee_id is None

    def test_round_robin_takes_turns(self, open_ticket: Any, four_technicians: list[str]) -> None:
        team = make_team(members=four_technicians, assignment=Assignment.ROUND_ROBIN)
        chosen = [open_ticket("admin", client_id="11", team=team).assignee_id for _ in range(6)]
        assert chosen == ["21", "22", "23", "31", "21", "22"]

    def test_only_active_and_available_members_are_chosen(
        self, api: Api, callers: dict[str, Caller], open_ticket: Any, four_technicians: list[str]
    ) -> None:
        team = make_team(members=four_technicians, assignment=Assignment.ROUND_ROBIN)
        # 22 turns their availability off themselves; 23 is deactivated by accounts.
        response = api.patch(
            "/api/tickets/assignees/me/", {"available": False}, as_=callers["other_technician"]
        )
        assert response.status_code == 200
        assert response.json()["available"] is False
        DirectoryUser.objects.filter(pk="23").update(is_active=False)
        chosen = [open_ticket("admin", client_id="11", team=team).assignee_id for _ in range(4)]
        assert chosen == ["21", "31", "21", "31"]

    def test_nobody_available_leaves_it_unassigned(
        self, open_ticket: Any, four_technicians: list[str]
    ) -> None:
        team = make_team(members=four_technicians, assignment=Assignment.LEAST_OPEN)
        DirectoryUser.objects.filter(pk__in=four_technicians).update(available=False)
        assert open_ticket("admin", client_id="11", team=team).assignee_id is None

    def test_least_open_picks_the_member_with_fewest_open_tickets(
        self, callers: dict[str, Caller], open_ticket: Any, four_technicians: list[str]
    ) -> None:
        admin = callers["admin"].actor
        # Open load: 21 has 2, 22 has 1, 23 has 1 open and 3 resolved (which do not count).
        for assignee, count, status in (
            ("21", 2, Status.PENDING),
            ("22", 1, Status.IN_PROGRESS),
            ("23", 1, Status.PENDING),
            ("23", 3, Status.RESOLVED),
            ("31", 3, Status.PENDING),
        ):
            for _ in range(count):
                ticket = open_ticket("client")
                Ticket.objects.filter(pk=ticket.pk).update(assignee_id=assignee, status=status)
        team = make_team(members=four_technicians, assignment=Assignment.LEAST_OPEN)
        first = open_ticket("admin", client_id="11", team=team)
        # 22 and 23 tie at one: the first in turn (member order) wins.
        assert first.assignee_id == "22"
        second = open_ticket("admin", client_id="11", team=team)
        assert second.assignee_id == "23"  # 22 has two now, 23 one
        services.ticket_change_status(ticket_id=second.pk, actor=admin, status=Status.IN_PROGRESS)
        assert open_ticket("admin", client_id="11", team=team).assignee_id in {"21", "22", "23"}

    def test_the_automatic_assignment_is_an_event_without_actor(
        self, open_ticket: Any, four_technicians: list[str]
    ) -> None:
        team = make_team(members=four_technicians, assignment=Assignment.ROUND_ROBIN)
        ticket = open_ticket("admin", client_id="11", team=team)
        rows = OutboxMessage.objects.filter(aggregate_id=str(ticket.pk)).order_by("sequence")
        assert [row.event_type for row in rows] == ["ticket.created", "ticket.assigned"]
        assigned = rows[1].envelope["data"]
        assert assigned["actor_id"] is None
        assert assigned["to_assignee"] == 21

    def test_reopening_an_unassigned_ticket_assigns_it(
        self, callers: dict[str, Caller], open_ticket: Any, four_technicians: list[str]
    ) -> None:
        admin = callers["admin"].actor
        team = make_team(members=four_technicians, assignment=Assignment.ROUND_ROBIN)
        ticket = open_ticket("admin", client_id="11", team=team)
        assert ticket.assignee_id == "21"
        for status in (Status.IN_PROGRESS, Status.RESOLVED):
            services.ticket_change_status(ticket_id=ticket.pk, actor=admin, status=status)
        services.ticket_assign(ticket_id=ticket.pk, actor=admin, assignee_id=None)
        # The client reopens it: nobody holds it, so it goes back in turn.
        services.ticket_change_status(
            ticket_id=ticket.pk, actor=callers["client"].actor, status=Status.IN_PROGRESS
        )
        assert Ticket.objects.get(pk=ticket.pk).assignee_id == "22"

    def test_reopening_an_assigned_ticket_keeps_its_assignee(
        self, callers: dict[str, Caller], open_ticket: Any, four_technicians: list[str]
    ) -> None:
        admin = callers["admin"].actor
        team = make_team(members=four_technicians, assignment=Assignment.ROUND_ROBIN)
        ticket = open_ticket("admin", client_id="11", team=team)
        for status in (Status.IN_PROGRESS, Status.RESOLVED, Status.IN_PROGRESS):
            services.ticket_change_status(ticket_id=ticket.pk, actor=admin, status=status)
        assert Ticket.objects.get(pk=ticket.pk).assignee_id == "21"


# --- availability ---------------------------------------------------------------------


@pytest.mark.django_db
class TestAvailability:
    def test_staff_turn_it_off_and_on(self, api: Api, callers: dict[str, Caller]) -> None:
        url = "/api/tickets/assignees/me/"
        response = api.patch(url, {"available": False}, as_=callers["technician"])
        assert response.status_code == 200
        assert response.json() == {
            "id": 21,
            "username": "tere",
            "name": "Tere Example",
            "role": "technician",
            "available": False,
        }
        rows = api.get("/api/tickets/assignees/", as_=callers["admin"]).json()
        assert {row["id"]: row["available"] for row in rows}[21] is False
        assert api.patch(url, {"available": True}, as_=callers["technician"]).json()["available"]

    def test_bad_input_and_roles(self, api: Api, callers: dict[str, Caller]) -> None:
        url = "/api/tickets/assignees/me/"
        assert api.patch(url, {"available": "maybe"}, as_=callers["technician"]).status_code == 400
        assert api.patch(url, {}, as_=callers["technician"]).status_code == 400
        assert api.patch(url, {"available": False}, as_=callers["client"]).status_code == 403

    def test_a_caller_the_directory_does_not_know_yet_is_a_409(self, api: Api) -> None:
        stranger = Caller(77, Role.TECHNICIAN, "nuevo")
        response = api.patch("/api/tickets/assignees/me/", {"available": False}, as_=stranger)
        # A caller the directory has not heard of is taken as their token says; there
        # is no row to keep their switch in yet.
        assert response.status_code == 409
        assert response.json()["extra"]["code"] == "not_in_directory"


# --- fairness under concurrency ------------------------------------------------------


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_100_tickets_opened_at_once_split_25_each_in_a_round_robin_team_of_4() -> None:
    for caller in CALLERS.values():
        DirectoryUserFactory(id=str(caller.id), username=caller.username, role=caller.role)
    DirectoryUserFactory(id="23", username="teo", role=Role.TECHNICIAN)
    members = ["21", "22", "23", "31"]
    team = make_team(members=members, assignment=Assignment.ROUND_ROBIN)
    admin = CALLERS["admin"].actor
    workers, each = 10, 10
    start = threading.Barrier(workers)

    def open_many() -> list[str | None]:
        try:
            start.wait()
            return [
                services.ticket_create(
                    actor=admin, title=f"t{n}", description="d", client_id="11", team=team
                ).assignee_id
                for n in range(each)
            ]
        finally:
            connection.close()

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(open_many) for _ in range(workers)]
        chosen = [assignee for future in futures for assignee in future.result()]
    assert len(chosen) == 100
    assert Counter(chosen) == dict.fromkeys(members, 25)
    stored = Counter(Ticket.objects.filter(team=team).values_list("assignee_id", flat=True))
    assert stored == dict.fromkeys(members, 25)
