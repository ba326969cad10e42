"""``seed_demo``: the demo desk's reference data, teams and three months of history."""

from __future__ import annotations

import io
import logging
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from inbound.models import InboundMessage, Outcome
from tickets import attachments, calendars, demo, demo_history
from tickets.models import (
    Attachment,
    BusinessCalendar,
    Category,
    Comment,
    DirectoryUser,
    HistoryEntry,
    Macro,
    Role,
    SlaAlert,
    SlaTarget,
    Status,
    Team,
    Ticket,
)
from tickets.user_ids import render_user_id

from servidesk_shared.events.envelope import decode, parse_envelope
from servidesk_shared.outbox.models import AggregateSequence, OutboxMessage
from tests.factories import DirectoryUserFactory

pytestmark = pytest.mark.django_db
logger = logging.getLogger(__name__)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def demo_people() -> None:
    """The demo people as accounts' events would have put them in the directory."""
    for n, username in enumerate(demo.DEMO_PEOPLE, start=100):
        role = (
            Role.ADMIN
            if username == demo.DEMO_ADMIN
            else Role.TECHNICIAN
            if username in demo.DEMO_TECHNICIANS
            else Role.CLIENT
        )
        DirectoryUserFactory(
            id=str(n),
            username=username,
            full_name=username.title(),
            email=f"{username}@servidesk.example",
            role=role,
        )


@pytest.fixture
def seeded() -> str:
    demo_people()
    started = time.monotonic()
    output = run()
    # Logged, not asserted: the budget (under 30 s with make up) is this machine's to say.
    logger.warning("seed_demo wrote the history in %.1fs", time.monotonic() - started)
    return output


def test_without_users_seeds_the_reference_data_only() -> None:
    output = run()
    assert Category.objects.count() == 5
    assert SlaTarget.objects.count() == 4
    office = BusinessCalendar.objects.get(is_default=True)
    assert office.week["mon"] == [["09:00", "18:00"]]
    assert office.week["sat"] == []
    assert {"date": "2026-12-25", "name": "Navidad"} in office.holidays
    assert not Ticket.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert "later run" in output


def test_a_few_hundred_tickets_over_three_months_of_working_days(seeded: str) -> None:
    count = Ticket.objects.count()
    assert 200 <= count <= 450, count
    assert f"{count} tickets" in seeded
    now = timezone.now()
    created = list(Ticket.objects.order_by("created_at").values_list("created_at", flat=True))
    assert created[0] < now - timedelta(days=80)
    assert created[-1] > now - timedelta(days=7)
    # Every week of the span has tickets; office hours, Monday to Friday.
    weeks = Counter((now - at).days // 7 for at in created)
    assert all(weeks[week] > 0 for week in range(12)), weeks
    zone = calendars.calendar_of_team(None)[1].zone
    assert all(at.astimezone(zone).weekday() < 5 for at in created)
    numbers = list(Ticket.objects.order_by("created_at").values_list("number", flat=True))
    assert numbers == sorted(numbers) == list(range(numbers[0], numbers[0] + count))


def test_a_desk_at_work(seeded: str) -> None:
    statuses = Counter(Ticket.objects.values_list("status", flat=True))
    assert statuses[Status.CLOSED] > statuses[Status.RESOLVED] > 0
    assert statuses[Status.CLOSED] > Ticket.objects.count() // 2
    assert statuses[Status.PENDING] + statuses[Status.IN_PROGRESS] + statuses[Status.WAITING]
    assignees = Counter(
        Ticket.objects.exclude(assignee_id=None).values_list("assignee_id", flat=True)
    )
    assert len(assignees) == len(demo.DEMO_TECHNICIANS)
    assert len(set(Ticket.objects.values_list("client_id", flat=True))) == len(demo.DEMO_CLIENTS)
    assert len(set(Ticket.objects.exclude(team=None).values_list("team_id", flat=True))) == 2
    assert Ticket.objects.filter(team=None).exists()  # "other" has no team
    done = Ticket.objects.filter(status__in=[Status.RESOLVED, Status.CLOSED])
    assert not done.filter(first_response_at=None).exists()
    assert not done.filter(resolved_at=None).exists()
    assert not Ticket.objects.filter(status=Status.CLOSED, closed_at=None).exists()
    # Conversations: public replies from both sides and internal notes.
    assert Comment.objects.filter(internal=True).count() > 50
    assert Comment.objects.filter(internal=False).count() > 2 * Ticket.objects.count()
    assert Ticket.objects.filter(tags__isnull=False).distinct().count() > count_share(0.5)
    assert Ticket.objects.exclude(rating=None).count() > count_share(0.3)
    ratings = Counter(Ticket.objects.exclude(rating=None).values_list("rating", flat=True))
    assert ratings["good"] > ratings["bad"] > 0
    assert Ticket.objects.exclude(rating_comment="").exists()
    moves = HistoryEntry.objects.filter(field="status")
    assert moves.filter(to_value=Status.WAITING).exists()  # the desk waited on clients
    assert moves.filter(from_value=Status.RESOLVED, to_value=Status.IN_PROGRESS).exists()


def count_share(share: float) -> int:
    return int(Ticket.objects.count() * share)


def test_sla_breaches_some_in_the_past_some_open(seeded: str) -> None:
    breached = Ticket.objects.breached()
    assert count_share(0.05) < breached.count() < count_share(0.4)
    assert breached.filter(status=Status.CLOSED).exists()
    assert (
        SlaAlert.objects.filter(kind="breached").count()
        >= breached.filter(status=Status.CLOSED).count()
    )
    # Escalation rules of the teams acted on some breaches.
    assert HistoryEntry.objects.filter(actor_id="sla:escalation").exists()
    # What is still to come is watch_sla's; nothing that passed is due again.
    now = timezone.now()
    open_ = Ticket.objects.filter(status__in=[Status.PENDING, Status.IN_PROGRESS])
    for ticket in open_.filter(resolution_due__lt=now):
        assert ticket.resolution_stage == 2, ticket.number


def test_attachments_and_mails(seeded: str) -> None:
    files = Attachment.objects.all()
    assert 5 <= files.count() <= 60
    assert {"image/png", "text/plain"} >= set(files.values_list("content_type", flat=True))
    assert files.filter(comment__isnull=False).exists()
    for attachment in files[:5]:
        with attachments.storage().open(attachment.storage_key) as handle:
            assert len(handle.read()) == attachment.size
    opened = InboundMessage.objects.filter(outcome=Outcome.TICKET)
    assert count_share(0.08) < opened.count() < count_share(0.3)
    assert InboundMessage.objects.filter(outcome=Outcome.COMMENT).exists()


def test_events_carry_the_history(seeded: str) -> None:
    messages = list(OutboxMessage.objects.filter(event_type__startswith="ticket.").order_by("id"))
    assert len(messages) > 4 * Ticket.objects.count()
    types = Counter(message.event_type for message in messages)
    for name in (
        "ticket.created",
        "ticket.assigned",
        "ticket.status_changed",
        "ticket.rated",
        "ticket.closed",
        "ticket.sla_breached",
    ):
        assert types[name] > 0, name
    # The conversations stay in tickets' records: not announced again three months on.
    assert not types["ticket.commented"]
    assert types["ticket.created"] == Ticket.objects.count()
    events = [decode(parse_envelope(message.envelope)) for message in messages]
    # Oldest first, with the dates they happened at: spread over three months.
    times = [event.occurred_at for event in events]
    assert times == sorted(times)
    assert times[0] < timezone.now() - timedelta(days=80)
    # Numbered per ticket from 1, as publish() numbers them; the sequences go on from there.
    by_ticket: dict[str, list[int]] = {}
    for event in events:
        by_ticket.setdefault(event.aggregate_id, []).append(event.sequence)
    assert all(seq == list(range(1, len(seq) + 1)) for seq in by_ticket.values())
    last = dict(AggregateSequence.objects.values_list("aggregate_id", "last_sequence"))
    assert all(last[ticket] == len(seq) for ticket, seq in by_ticket.items())
    # The newest snapshot of each ticket is the ticket as it is now.
    newest = {event.aggregate_id: event.data.ticket for event in events}
    for ticket in Ticket.objects.all():
        snapshot = newest[str(ticket.pk)]
        assert snapshot.status == ticket.status
        assert render_user_id(ticket.assignee_id) == snapshot.assignee_id
        assert snapshot.first_response_at == ticket.first_response_at
        assert snapshot.resolved_at == ticket.resolved_at
        assert snapshot.closed_at == ticket.closed_at
        assert snapshot.rating == ticket.rating
        if ticket.status != Status.PENDING:
            assert tuple(sorted(ticket.tags.values_list("name", flat=True))) == snapshot.tags
    # A status change's snapshot is dated by the change.
    moves = [event for event in events if event.type == "ticket.status_changed"]
    assert all(event.data.ticket.updated_at == event.occurred_at for event in moves)


def test_seeded_once(seeded: str) -> None:
    tickets, events = Ticket.objects.count(), OutboxMessage.objects.count()
    teams, macros = Team.objects.count(), Macro.objects.count()
    output = run()
    assert "no demo history added" in output
    assert (Ticket.objects.count(), OutboxMessage.objects.count()) == (tickets, events)
    assert (Team.objects.count(), Macro.objects.count()) == (teams, macros) == (2, 3)
    assert Category.objects.count() == 5


def test_teams_route_the_categories_and_have_their_members(seeded: str) -> None:
    assert set(Team.objects.values_list("name", flat=True)) == {
        "Soporte de campo",
        "Aplicaciones y accesos",
    }
    assert Category.objects.filter(team__isnull=False).count() == 4
    for team in Team.objects.all():
        assert team.members.count() == 3
    assert OutboxMessage.objects.filter(event_type="team.created").count() == 2
    assert set(Macro.objects.values_list("shared", flat=True)) == {True}


def test_the_same_seed_and_moment_give_the_same_desk() -> None:
    demo_people()
    run()  # the reference data, the teams and the history
    Ticket.objects.all().delete()
    users = list(DirectoryUser.objects.filter(role__in=[Role.TECHNICIAN, Role.CLIENT]))
    people = demo_history.People(
        technicians=[user for user in users if user.role == Role.TECHNICIAN],
        clients=[user for user in users if user.role == Role.CLIENT],
    )
    now = timezone.now()

    def desk() -> list[tuple[Any, ...]]:
        return [
            (life.ticket.created_at, life.ticket.title, life.ticket.status, len(life.steps))
            for life in demo_history.simulate(people=people, now=now)
        ]

    assert desk() == desk()


def test_waits_for_the_demo_people() -> None:
    # Nobody in the directory and a short wait: reference data only, said so.
    started = time.monotonic()
    output = run("--wait", "1")
    assert time.monotonic() - started >= 1
    assert "later run" in output
    assert not Ticket.objects.exists()


def test_waits_for_the_events_to_reach_the_consumers() -> None:
    demo_people()
    # No relay runs here: the events stay in the outbox, and the wait says so at its end.
    started = time.monotonic()
    output = run("--wait", "3")
    assert time.monotonic() - started >= 3
    assert "events still on their way at the deadline" in output
    # Once relayed, and with no queue of ticket events holding any: delivered.
    OutboxMessage.objects.update(sent_at=timezone.now())
    output = run("--wait", "10")
    assert "no demo history added" in output
    assert "every consumer has the events" in output
