"""``watch_sla``: warnings at 80 %, breaches, escalation, and each alert exactly once,
even with two watchers at once or one killed in the middle of a pass."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.utils import timezone
from tickets import services, sla, sla_watch, teams
from tickets.models import HistoryEntry, Priority, SlaAlert, Status, Team, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Caller
from tests.factories import DirectoryUserFactory

pytestmark = pytest.mark.django_db


def alerts(ticket_id: int) -> list[tuple[str, str, str]]:
    """``(event type, clock, cycle)`` of the SLA events published for the ticket."""
    found = []
    for message in OutboxMessage.objects.filter(
        aggregate_id=str(ticket_id), event_type__startswith="ticket.sla_"
    ).order_by("sequence"):
        data = message.envelope["data"]
        found.append((message.event_type, data["clock"], data["cycle"]))
    return found


def urgent(open_ticket: Any) -> Ticket:
    """Targets 1 h to first response, 4 h to resolution (around the clock)."""
    ticket: Ticket = open_ticket("client", priority=Priority.URGENT)
    return ticket


def at(ticket: Ticket, **delta: float) -> datetime:
    return ticket.created_at + timedelta(**delta)


class TestAlerts:
    def test_a_warning_at_80_percent_and_a_breach_at_the_due_time_once_each(
        self, open_ticket: Any
    ) -> None:
        ticket = urgent(open_ticket)
        assert ticket.next_check_at == at(ticket, minutes=48)

        assert sla_watch.run_pass(now=at(ticket, minutes=47)).examined == 0
        first = sla_watch.run_pass(now=at(ticket, minutes=48, seconds=1))
        assert (first.warnings, first.breaches) == (1, 0)
        assert sla_watch.run_pass(now=at(ticket, minutes=50)).examined == 0  # said once
        assert sla_watch.run_pass(now=at(ticket, minutes=61)).breaches == 1
        assert sla_watch.run_pass(now=at(ticket, hours=3, minutes=13)).warnings == 1
        assert sla_watch.run_pass(now=at(ticket, hours=4, minutes=1)).breaches == 1
        assert sla_watch.run_pass(now=at(ticket, hours=9)).examined == 0

        assert alerts(ticket.pk) == [
            ("ticket.sla_warning", "first_response", 1),
            ("ticket.sla_breached", "first_response", 1),
            ("ticket.sla_warning", "resolution", 1),
            ("ticket.sla_breached", "resolution", 1),
        ]
        warning = OutboxMessage.objects.filter(event_type="ticket.sla_warning").first()
        assert warning is not None
        assert warning.envelope["version"] == 2
        assert warning.envelope["data"]["actor_id"] is None
        assert warning.envelope["data"]["due_at"].startswith(
            ticket.first_response_due.strftime("%Y-%m-%dT%H:%M")
        )
        stored = Ticket.objects.get(pk=ticket.pk)
        assert (stored.first_response_stage, stored.resolution_stage) == (2, 2)
        assert stored.next_check_at is None
        assert SlaAlert.objects.filter(ticket=ticket).count() == 4

    def test_a_late_watcher_skips_the_warning_the_breach_overtook(self, open_ticket: Any) -> None:
        ticket = urgent(open_ticket)
        result = sla_watch.run_pass(now=at(ticket, hours=2))
        assert (result.warnings, result.breaches) == (0, 1)
        assert alerts(ticket.pk) == [("ticket.sla_breached", "first_response", 1)]
        # The resolution clock's warning (3 h 12 min) is still to come.
        assert Ticket.objects.get(pk=ticket.pk).next_check_at == at(ticket, hours=3, minutes=12)

    def test_a_first_response_stops_its_clock(
        self, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = urgent(open_ticket)
        services.comment_create(ticket_id=ticket.pk, actor=callers["technician"].actor, body="Hi")
        assert Ticket.objects.get(pk=ticket.pk).next_check_at == at(ticket, hours=3, minutes=12)
        assert sla_watch.run_pass(now=at(ticket, hours=2)).examined == 0

    def test_waiting_holds_the_resolution_alerts_back(
        self, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = urgent(open_ticket)
        technician = callers["technician"]
        services.comment_create(ticket_id=ticket.pk, actor=technician.actor, body="Which one?")
        services.ticket_change_status(
            ticket_id=ticket.pk, actor=technician.actor, status="in_progress"
        )
        services.ticket_change_status(ticket_id=ticket.pk, actor=technician.actor, status="waiting")
        assert Ticket.objects.get(pk=ticket.pk).next_check_at is None
        assert sla_watch.run_pass(now=at(ticket, hours=10)).examined == 0

    def test_a_reopened_ticket_is_warned_again_in_its_new_cycle(
        self, callers: dict[str, Caller], open_ticket: Any
    ) -> None:
        ticket = urgent(open_ticket)
        technician = callers["technician"].actor
        sla_watch.run_pass(now=at(ticket, hours=5))  # both clocks breached in cycle 1
        services.ticket_change_status(ticket_id=ticket.pk, actor=technician, status="in_progress")
        services.ticket_change_status(ticket_id=ticket.pk, actor=technician, status="resolved")
        services.comment_create(
            ticket_id=ticket.pk, actor=callers["client"].actor, body="Broken again."
        )
        reopened = Ticket.objects.get(pk=ticket.pk)
        assert reopened.sla_cycle == 2
        assert reopened.resolution_started_at is not None
        sla_watch.run_pass(now=reopened.resolution_started_at + timedelta(hours=5))
        assert alerts(ticket.pk)[-1] == ("ticket.sla_breached", "resolution", 2)


class TestEscalation:
    @pytest.fixture
    def team(self) -> Team:
        for user_id in ("21", "22"):
            DirectoryUserFactory(id=user_id, role="technician")
        created = teams.team_create(
            data=teams.TeamData(
                name="Redes",
                member_ids=["21", "22"],
                lead_id="22",
                assignment="manual",
                category_slugs=[],
                escalate_raise_priority=True,
                escalate_to_lead=True,
            )
        )
        return created

    def test_a_breach_raises_the_priority_and_gives_the_ticket_to_the_lead(
        self, callers: dict[str, Caller], open_ticket: Any, team: Team
    ) -> None:
        ticket = open_ticket("client", priority=Priority.MEDIUM)  # 8 h / 72 h
        services.ticket_update(
            ticket_id=ticket.pk, actor=callers["admin"].actor, changes={"team": team}
        )
        services.ticket_assign(
            ticket_id=ticket.pk, actor=callers["technician"].actor, assignee_id="21"
        )
        before = OutboxMessage.objects.filter(aggregate_id=str(ticket.pk)).count()

        result = sla_watch.run_pass(now=at(ticket, hours=9))

        assert (result.breaches, result.escalations) == (1, 1)
        escalated = Ticket.objects.get(pk=ticket.pk)
        assert escalated.priority == Priority.HIGH
        assert escalated.assignee_id == "22"
        # High's targets (4 h / 24 h) from creation: still breached, due earlier.
        assert escalated.resolution_due == at(ticket, hours=24)
        entries = HistoryEntry.objects.filter(ticket=ticket, actor_id="sla:escalation")
        assert sorted(entries.values_list("field", "from_value", "to_value")) == [
            ("assignee_id", "21", "22"),
            ("priority", "medium", "high"),
        ]
        published = list(
            OutboxMessage.objects.filter(aggregate_id=str(ticket.pk)).order_by("sequence")[before:]
        )
        assert [message.event_type for message in published] == [
            "ticket.sla_breached",
            "ticket.updated",
            "ticket.assigned",
        ]
        breach, updated, assigned = (message.envelope["data"] for message in published)
        assert breach["escalation"] == ["raised_priority", "reassigned_to_lead"]
        assert breach["ticket"]["priority"] == "high"
        assert updated["actor_id"] is None
        assert updated["changes"] == {"priority": {"before": "medium", "after": "high"}}
        assert (assigned["actor_id"], assigned["from_assignee"], assigned["to_assignee"]) == (
            None,
            21,
            22,
        )

    def test_an_urgent_ticket_of_the_lead_has_nothing_to_escalate(
        self, callers: dict[str, Caller], open_ticket: Any, team: Team
    ) -> None:
        ticket = open_ticket("client", priority=Priority.URGENT)
        services.ticket_update(
            ticket_id=ticket.pk, actor=callers["admin"].actor, changes={"team": team}
        )
        Ticket.objects.filter(pk=ticket.pk).update(assignee_id="22")
        result = sla_watch.run_pass(now=at(ticket, hours=2))
        assert (result.breaches, result.escalations) == (1, 0)
        breach = OutboxMessage.objects.get(event_type="ticket.sla_breached").envelope
        assert breach["data"]["escalation"] == []

    def test_without_a_rule_a_breach_changes_nothing(self, open_ticket: Any) -> None:
        ticket = urgent(open_ticket)
        version = ticket.version
        sla_watch.run_pass(now=at(ticket, hours=2))
        stored = Ticket.objects.get(pk=ticket.pk)
        assert (stored.priority, stored.version) == (Priority.URGENT, version)


# --- exactly once, whatever happens -------------------------------------------------------


def overdue_tickets(open_ticket: Any, count: int) -> list[Ticket]:
    """``count`` tickets whose first response is due, committed (real transactions)."""
    made = [open_ticket("client", priority=Priority.URGENT) for _ in range(count)]
    for index, ticket in enumerate(made):
        # Opened 55 min ago (a second apart, in order): the warning (48 min) is due, the
        # breach (1 h) is not.
        created = timezone.now() - timedelta(minutes=55) + timedelta(seconds=index)
        Ticket.objects.filter(pk=ticket.pk).update(
            created_at=created,
            first_response_due=created + timedelta(hours=1),
            resolution_due=created + timedelta(hours=4),
            next_check_at=created + timedelta(minutes=48),
        )
    return made


def warnings_per_ticket() -> dict[str, int]:
    counts: dict[str, int] = {}
    for aggregate_id in OutboxMessage.objects.filter(event_type="ticket.sla_warning").values_list(
        "aggregate_id", flat=True
    ):
        counts[aggregate_id] = counts.get(aggregate_id, 0) + 1
    return counts


@pytest.mark.django_db(transaction=True)
def test_two_watchers_at_once_send_each_warning_once(open_ticket: Any) -> None:
    tickets = overdue_tickets(open_ticket, 60)
    results: list[sla_watch.PassResult] = []
    start = threading.Barrier(2)

    def watch() -> None:
        try:
            start.wait()
            while True:
                result = sla_watch.run_pass(batch_size=7)
                results.append(result)
                if not result.examined:
                    return
        finally:
            close_old_connections()

    threads = [threading.Thread(target=watch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert warnings_per_ticket() == {str(ticket.pk): 1 for ticket in tickets}
    assert SlaAlert.objects.count() == 60
    assert sum(result.warnings for result in results) == 60
    # Both took part (SKIP LOCKED shares the work rather than queueing it).
    assert sum(1 for result in results if result.examined) >= 2


def database_url() -> str:
    database = connection.settings_dict
    return (
        f"postgres://{quote(database['USER'])}:{quote(database['PASSWORD'] or '')}"
        f"@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"
    )


def start_watch_sla(*arguments: str) -> subprocess.Popen[str]:
    """``manage.py watch_sla`` as the Procfile runs it, on the test database."""
    env = {
        **os.environ,
        "TICKETS_DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "core.settings.test",
        "PYTHONUNBUFFERED": "1",
        "PYTHONFAULTHANDLER": "1",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "watch_sla", *arguments],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_lock_wait(process: subprocess.Popen[str], timeout: float = 30) -> None:
    """Until ``process``'s database session waits for a lock."""
    deadline = time.monotonic() + timeout
    # Autocommit: within one transaction pg_stat_activity answers the same snapshot.
    with psycopg.connect(
        database_url().replace("postgres://", "postgresql://"), autocommit=True
    ) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
            if row and row[0]:
                return
            if process.poll() is not None:
                raise AssertionError(f"watch_sla ended: {process.communicate()}")
            time.sleep(0.05)
    process.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: where it was, on stderr
    _out, err = process.communicate(timeout=10)
    raise AssertionError(f"watch_sla never waited for the lock: {err}")


@pytest.mark.django_db(transaction=True)
def test_a_watcher_killed_in_the_middle_of_a_pass_leaves_nothing_half_done(
    open_ticket: Any,
) -> None:
    tickets = overdue_tickets(open_ticket, 30)
    blocker = tickets[20]
    # Hold the 21st ticket's event sequence: the watcher's pass stops there, after it has
    # written the first twenty tickets' alerts and events in its transaction.
    with psycopg.connect(database_url().replace("postgres://", "postgresql://")) as holder:
        holder.execute(
            "SELECT 1 FROM servidesk_outbox_aggregatesequence "
            "WHERE aggregate_type = 'ticket' AND aggregate_id = %s FOR UPDATE",
            [str(blocker.pk)],
        )
        process = start_watch_sla("--once")
        try:
            wait_for_lock_wait(process)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        holder.rollback()
    assert process.returncode == -signal.SIGKILL
    assert SlaAlert.objects.count() == 0
    assert not OutboxMessage.objects.filter(event_type="ticket.sla_warning").exists()

    finished = start_watch_sla("--once")
    stdout, stderr = finished.communicate(timeout=60)
    assert finished.returncode == 0, stderr
    assert "30 ticket(s): 30 warning(s)" in stdout
    assert warnings_per_ticket() == {str(ticket.pk): 1 for ticket in tickets}
    assert SlaAlert.objects.count() == 30


def test_the_watcher_reports_its_pass(open_ticket: Any) -> None:
    ticket = urgent(open_ticket)
    Ticket.objects.filter(pk=ticket.pk).update(next_check_at=timezone.now() - timedelta(days=1))
    plan = sla.plan_for(ticket)
    assert plan.targets.first_response_hours == 1
    # Not due yet by its clocks: looked at, nothing said, next moment set again.
    result = sla_watch.run_pass()
    assert (result.examined, result.warnings, result.breaches) == (1, 0, 0)
    assert Ticket.objects.get(pk=ticket.pk).next_check_at == at(ticket, minutes=48)
    assert Ticket.objects.get(pk=ticket.pk).status == Status.PENDING


def test_a_pass_reads_the_batchs_tags_at_once(callers: dict[str, Caller], open_ticket: Any) -> None:
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    made = [open_ticket("client", priority=Priority.URGENT) for _ in range(5)]
    for ticket in made:
        services.ticket_update(
            ticket_id=ticket.pk, actor=callers["admin"].actor, changes={"tags": ["vpn", "red"]}
        )
    with CaptureQueriesContext(connection) as queries:
        result = sla_watch.run_pass(now=at(made[-1], minutes=50))
    assert result.warnings == 5
    tag_reads = [q["sql"] for q in queries.captured_queries if "tickets_tag" in q["sql"]]
    assert len(tag_reads) == 1, tag_reads
    warning = OutboxMessage.objects.filter(event_type="ticket.sla_warning").first()
    assert warning is not None
    assert warning.envelope["data"]["ticket"]["tags"] == ["red", "vpn"]
