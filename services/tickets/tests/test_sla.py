"""The SLA's clocks on a ticket: the pause while waiting on the client, a client's reply
bringing a ticket back to work, cycles after a reopen, closing and follow-ups."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone
from tickets import services, sla_watch
from tickets.models import BusinessCalendar, Comment, HistoryEntry, Priority, Status, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Api, Caller

pytestmark = pytest.mark.django_db

CLOSE_ENOUGH = timedelta(seconds=30)


def event_types(ticket_id: int) -> list[str]:
    return list(
        OutboxMessage.objects.filter(aggregate_id=str(ticket_id))
        .order_by("sequence")
        .values_list("event_type", flat=True)
    )


def last_event(ticket_id: int, event_type: str) -> dict[str, Any]:
    message = (
        OutboxMessage.objects.filter(aggregate_id=str(ticket_id), event_type=event_type)
        .order_by("-sequence")
        .first()
    )
    assert message is not None, f"no {event_type}"
    return message.envelope  # type: ignore[no-any-return]


def move(ticket: Ticket, caller: Caller, status: str) -> Ticket:
    return services.ticket_change_status(ticket_id=ticket.pk, actor=caller.actor, status=status)


def reply(ticket: Ticket, caller: Caller, body: str = "Here it is.") -> Comment:
    return services.comment_create(ticket_id=ticket.pk, actor=caller.actor, body=body)


@pytest.fixture
def working(callers: dict[str, Caller], open_ticket: Any) -> Ticket:
    """A client's high-priority ticket a technician is working on (targets 4 h / 24 h)."""
    ticket = open_ticket("client", priority=Priority.HIGH)
    return move(ticket, callers["technician"], Status.IN_PROGRESS)


class TestWaitingOnTheClient:
    def test_waiting_pauses_the_resolution_clock_and_the_wait_is_added_back(
        self, callers: dict[str, Caller], working: Ticket
    ) -> None:
        due = working.resolution_due
        waiting = move(working, callers["technician"], Status.WAITING)
        assert waiting.waiting_since is not None
        assert waiting.resolution_due == due  # paused, not moved yet
        # Three hours pass while the desk waits.
        Ticket.objects.filter(pk=working.pk).update(
            waiting_since=F("waiting_since") - timedelta(hours=3)
        )

        reply(working, callers["client"])

        ticket = Ticket.objects.get(pk=working.pk)
        assert ticket.status == Status.IN_PROGRESS
        assert ticket.waiting_since is None
        assert abs(ticket.resolution_paused - timedelta(hours=3)) < CLOSE_ENOUGH
        # Around the clock (the default calendar): the due time moved by the wait.
        assert abs(ticket.resolution_due - (due + timedelta(hours=3))) < CLOSE_ENOUGH

    def test_the_clients_reply_moves_it_back_before_the_comment_in_one_go(
        self, api: Api, callers: dict[str, Caller], working: Ticket
    ) -> None:
        move(working, callers["technician"], Status.WAITING)
        before = event_types(working.pk)

        response = api.post(
            f"/api/tickets/{working.pk}/comments/",
            {"body": "The model is HP 4250."},
            as_=callers["client"],
        )

        assert response.status_code == 201
        assert response.json()["ticket_id"] == working.pk
        assert event_types(working.pk)[len(before) :] == [
            "ticket.status_changed",
            "ticket.commented",
        ]
        change = last_event(working.pk, "ticket.status_changed")
        assert change["version"] == 2
        assert (change["data"]["from_status"], change["data"]["to_status"]) == (
            "waiting",
            "in_progress",
        )
        assert change["data"]["actor_id"] == 11  # the client moved it, by replying
        assert change["data"]["reply_comment_id"] == response.json()["id"]
        entry = HistoryEntry.objects.filter(ticket=working, field="status").latest("id")
        assert (entry.actor_id, entry.from_value, entry.to_value) == (
            "11",
            "waiting",
            "in_progress",
        )

    @pytest.mark.parametrize("internal", [False, True])
    def test_staff_writing_does_not_end_the_wait(
        self, callers: dict[str, Caller], working: Ticket, internal: bool
    ) -> None:
        move(working, callers["technician"], Status.WAITING)
        services.comment_create(
            ticket_id=working.pk,
            actor=callers["technician"].actor,
            body="Any news?",
            internal=internal,
        )
        assert Ticket.objects.get(pk=working.pk).status == Status.WAITING

    def test_a_waiting_ticket_is_late_only_if_it_was_when_the_wait_began(
        self, api: Api, callers: dict[str, Caller], working: Ticket
    ) -> None:
        move(working, callers["technician"], Status.WAITING)
        url = f"/api/tickets/{working.pk}/"
        now = timezone.now()
        # The due time passed during the wait: not late, the clock was stopped before.
        Ticket.objects.filter(pk=working.pk).update(
            resolution_due=now - timedelta(hours=1), waiting_since=now - timedelta(hours=2)
        )
        detail = api.get(url, as_=callers["technician"]).json()
        assert detail["resolution_breached"] is False
        assert detail["sla"]["resolution"]["state"] == "paused"
        left = detail["sla"]["resolution"]["business_seconds_left"]
        assert left == 3600  # frozen at what was left when the wait began

        # Already late when the wait began: late.
        Ticket.objects.filter(pk=working.pk).update(waiting_since=now)
        detail = api.get(url, as_=callers["technician"]).json()
        assert detail["resolution_breached"] is True
        assert detail["sla"]["resolution"]["business_seconds_left"] == -3600
        listed = api.get("/api/tickets/", as_=callers["technician"], breached="true").json()
        assert working.pk in [ticket["id"] for ticket in listed["results"]]

    def test_the_detail_shows_both_clocks(
        self, api: Api, callers: dict[str, Caller], working: Ticket
    ) -> None:
        detail = api.get(f"/api/tickets/{working.pk}/", as_=callers["technician"]).json()
        clocks = detail["sla"]
        default = BusinessCalendar.objects.filter(is_default=True).first()
        assert clocks["calendar_id"] == (default.pk if default else None)
        assert clocks["first_response"]["state"] == "running"
        assert 4 * 3600 - 60 < clocks["first_response"]["business_seconds_left"] <= 4 * 3600
        assert clocks["resolution"]["state"] == "running"
        reply(working, callers["technician"], "On it.")
        detail = api.get(f"/api/tickets/{working.pk}/", as_=callers["technician"]).json()
        assert detail["sla"]["first_response"] == {
            "due_at": detail["first_response_due"],
            "state": "met",
            "business_seconds_left": None,
        }
        listed = api.get("/api/tickets/", as_=callers["technician"]).json()["results"]
        assert "sla" not in listed[0]  # the list does not pay for business time


class TestReopening:
    def test_a_clients_reply_reopens_a_resolved_ticket_as_a_new_cycle(
        self, callers: dict[str, Caller], working: Ticket
    ) -> None:
        resolved = move(working, callers["technician"], Status.RESOLVED)
        assert resolved.next_check_at == resolved.resolved_at + timedelta(days=7)  # type: ignore[operator]

        reply(working, callers["client"], "It jams again.")

        ticket = Ticket.objects.get(pk=working.pk)
        assert ticket.status == Status.IN_PROGRESS
        assert ticket.resolved_at is None
        assert ticket.sla_cycle == 2
        assert ticket.resolution_stage == 0
        assert ticket.resolution_started_at is not None
        assert abs(
            ticket.resolution_due - (ticket.resolution_started_at + timedelta(hours=24))
        ) < timedelta(seconds=1)
        assert ticket.next_check_at is not None
        assert ticket.next_check_at < ticket.resolution_due  # the 80 % warning comes first

    def test_a_reopen_by_hand_names_no_reply(
        self, callers: dict[str, Caller], working: Ticket
    ) -> None:
        move(working, callers["technician"], Status.RESOLVED)
        move(working, callers["client"], Status.IN_PROGRESS)
        data = last_event(working.pk, "ticket.status_changed")["data"]
        assert (data["from_status"], data["reply_comment_id"]) == ("resolved", None)
        assert Ticket.objects.get(pk=working.pk).sla_cycle == 2

    def test_resolving_mints_a_rating_link_and_nothing_else_does(
        self, callers: dict[str, Caller], working: Ticket
    ) -> None:
        move(working, callers["technician"], Status.WAITING)
        assert last_event(working.pk, "ticket.status_changed")["data"]["rating_token"] is None
        move(working, callers["technician"], Status.RESOLVED)
        token = last_event(working.pk, "ticket.status_changed")["data"]["rating_token"]
        assert isinstance(token, str)
        assert len(token) > 20


class TestClosing:
    @pytest.mark.parametrize("status", ["closed", "Closed"])
    def test_nobody_closes_by_hand(
        self, api: Api, callers: dict[str, Caller], working: Ticket, status: str
    ) -> None:
        response = api.post(
            f"/api/tickets/{working.pk}/status/", {"status": status}, as_=callers["admin"]
        )
        assert response.status_code == 400
        assert "status" in response.json()["extra"]["fields"]

    def close(self, ticket: Ticket, caller: Caller) -> Ticket:
        resolved = move(ticket, caller, Status.RESOLVED)
        assert resolved.resolved_at is not None
        result = sla_watch.run_pass(now=resolved.resolved_at + timedelta(days=7, seconds=1))
        assert result.closed == 1
        return Ticket.objects.get(pk=ticket.pk)

    def test_a_resolved_ticket_closes_after_auto_close_days(
        self, callers: dict[str, Caller], working: Ticket
    ) -> None:
        resolved = move(working, callers["technician"], Status.RESOLVED)
        assert resolved.resolved_at is not None
        assert sla_watch.run_pass(now=resolved.resolved_at + timedelta(days=6)).closed == 0

        closed = self.close_pass(resolved)

        assert closed.status == Status.CLOSED
        assert closed.closed_at is not None
        assert closed.next_check_at is None
        assert event_types(working.pk)[-1] == "ticket.closed"
        data = last_event(working.pk, "ticket.closed")["data"]
        assert (data["from_status"], data["actor_id"]) == ("resolved", None)
        entry = HistoryEntry.objects.filter(ticket=working, field="status").latest("id")
        assert (entry.actor_id, entry.to_value) == ("sla:auto_close", "closed")

    def close_pass(self, ticket: Ticket) -> Ticket:
        assert ticket.resolved_at is not None
        assert sla_watch.run_pass(now=ticket.resolved_at + timedelta(days=7, seconds=1)).closed
        return Ticket.objects.get(pk=ticket.pk)

    def test_auto_close_days_is_a_setting(
        self, settings: Any, callers: dict[str, Caller], working: Ticket
    ) -> None:
        settings.AUTO_CLOSE_DAYS = 2
        resolved = move(working, callers["technician"], Status.RESOLVED)
        assert resolved.resolved_at is not None
        assert resolved.next_check_at == resolved.resolved_at + timedelta(days=2)
        now = resolved.resolved_at + timedelta(days=2, seconds=1)
        assert sla_watch.run_pass(now=now).closed == 1

    def test_a_reply_before_the_close_keeps_it_open(
        self, callers: dict[str, Caller], working: Ticket
    ) -> None:
        resolved = move(working, callers["technician"], Status.RESOLVED)
        reply(working, callers["client"], "Not fixed.")
        assert resolved.resolved_at is not None
        sla_watch.run_pass(now=resolved.resolved_at + timedelta(days=8))
        assert Ticket.objects.get(pk=working.pk).status != Status.CLOSED

    def test_a_closed_ticket_is_final_for_staff(
        self, api: Api, callers: dict[str, Caller], working: Ticket
    ) -> None:
        closed = self.close(working, callers["technician"])
        url = f"/api/tickets/{closed.pk}/"
        staff = callers["technician"]
        for response in (
            api.patch(url, {"title": "x"}, as_=staff),
            api.post(f"{url}status/", {"status": "in_progress"}, as_=staff),
            api.post(f"{url}comments/", {"body": "Hello?"}, as_=staff),
            api.post(f"{url}status/", {"status": "in_progress"}, as_=callers["client"]),
        ):
            assert response.status_code == 409, response.content
            assert response.json()["extra"]["code"] == "closed"

    def test_a_clients_reply_to_a_closed_ticket_opens_a_follow_up(
        self, api: Api, callers: dict[str, Caller], working: Ticket
    ) -> None:
        closed = self.close(working, callers["technician"])

        response = api.post(
            f"/api/tickets/{closed.pk}/comments/",
            {"body": "It is broken again since Monday."},
            as_=callers["client"],
        )

        assert response.status_code == 201, response.content
        follow_up = Ticket.objects.get(pk=response.json()["ticket_id"])
        assert follow_up.pk != closed.pk
        assert follow_up.follow_up_of_id == closed.pk
        assert follow_up.client_id == closed.client_id
        assert follow_up.priority == closed.priority
        assert follow_up.title.endswith(closed.title)
        assert closed.reference in follow_up.title
        assert follow_up.status == Status.PENDING
        assert list(follow_up.comments.values_list("body", flat=True)) == [
            "It is broken again since Monday."
        ]
        assert Ticket.objects.get(pk=closed.pk).status == Status.CLOSED
        assert event_types(follow_up.pk) == ["ticket.created", "ticket.commented"]
        created = last_event(follow_up.pk, "ticket.created")
        assert created["data"]["ticket"]["follow_up_of_id"] == closed.pk
        detail = api.get(f"/api/tickets/{follow_up.pk}/", as_=callers["client"]).json()
        assert detail["follow_up_of_id"] == closed.pk


class TestDueTimesMove:
    def test_a_new_priority_moves_both_due_times_from_the_clocks_starts(
        self, api: Api, callers: dict[str, Caller], working: Ticket
    ) -> None:
        response = api.patch(
            f"/api/tickets/{working.pk}/", {"priority": "urgent"}, as_=callers["technician"]
        )
        assert response.status_code == 200
        ticket = Ticket.objects.get(pk=working.pk)
        assert ticket.first_response_due == ticket.created_at + timedelta(hours=1)
        assert ticket.resolution_due == ticket.created_at + timedelta(hours=4)
        assert ticket.next_check_at == ticket.created_at + timedelta(minutes=48)
