"""Concurrency against the real PostgreSQL: numbers stay unique, no update is lost.

Each worker thread has its own database connection and transaction, like two gunicorn
workers would. The main thread can hold the ticket's row lock to line the workers up
behind it, so they really do collide.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from tickets import services
from tickets.models import HistoryEntry, Status, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import CALLERS, Caller
from tests.factories import DirectoryUserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people() -> dict[str, Caller]:
    for caller in CALLERS.values():
        DirectoryUserFactory(id=str(caller.id), username=caller.username, role=caller.role)
    return CALLERS


def in_thread(work: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return work()
        finally:
            connection.close()

    return run


def test_ticket_numbers_are_unique_under_concurrent_creation(people: dict[str, Caller]) -> None:
    workers, each = 8, 15
    start = threading.Barrier(workers)

    def create_many() -> list[int]:
        start.wait()
        made = []
        for index in range(each):
            ticket = services.ticket_create(
                actor=people["client"].actor, title=f"t{index}", description="d"
            )
            made.append(ticket.number)
        return made

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(in_thread(create_many)) for _ in range(workers)]
        numbers = [n for future in futures for n in future.result()]
    assert len(numbers) == workers * each
    assert len(set(numbers)) == len(numbers)
    # Nothing rolled back, so the sequence handed out one unbroken run.
    assert sorted(numbers) == list(range(min(numbers), min(numbers) + len(numbers)))
    assert Ticket.objects.count() == workers * each


def post(caller: Caller, path: str, data: dict[str, Any], method: str = "post") -> Any:
    client = Client()
    call = getattr(client, method)
    return call(path, data, content_type="application/json", headers=caller.headers)


def collide(*requests: Callable[[], Any], ticket: Ticket) -> list[Any]:
    """Run ``requests`` at once while this thread holds the ticket's row lock, then let go."""
    ready = threading.Barrier(len(requests) + 1)

    def queued(request: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            ready.wait()
            return request()

        return in_thread(run)

    with ThreadPoolExecutor(len(requests)) as pool, transaction.atomic():
        Ticket.objects.select_for_update().get(pk=ticket.pk)
        futures = [pool.submit(queued(request)) for request in requests]
        ready.wait()
        # Give every worker time to reach the lock and wait on it.
        threading.Event().wait(0.3)
    return [future.result() for future in futures]


@pytest.fixture
def ticket(people: dict[str, Caller]) -> Ticket:
    return services.ticket_create(
        actor=people["client"].actor, title="Printer", description="Jammed"
    )


def test_two_technicians_starting_the_same_ticket(
    people: dict[str, Caller], ticket: Ticket
) -> None:
    url = f"/api/tickets/{ticket.pk}/status/"
    body = {"status": Status.IN_PROGRESS}
    responses = collide(
        lambda: post(people["technician"], url, body),
        lambda: post(people["other_technician"], url, body),
        ticket=ticket,
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    assert HistoryEntry.objects.filter(ticket=ticket, field="status").count() == 2  # + creation
    assert OutboxMessage.objects.filter(event_type="ticket.status_changed").count() == 1


def test_concurrent_edits_of_different_fields_are_both_kept(
    people: dict[str, Caller], ticket: Ticket
) -> None:
    url = f"/api/tickets/{ticket.pk}/"
    responses = collide(
        lambda: post(people["technician"], url, {"title": "Printer on fire"}, "patch"),
        lambda: post(people["other_technician"], url, {"priority": "urgent"}, "patch"),
        lambda: post(people["admin"], f"{url}assign/", {"assignee_id": 21}),
        ticket=ticket,
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    ticket.refresh_from_db()
    assert ticket.title == "Printer on fire"
    assert ticket.priority_key == "urgent"
    assert ticket.assignee_id == "21"
    assert ticket.version == 4
    assert HistoryEntry.objects.filter(ticket=ticket).count() == 4


def test_optimistic_version_check_refuses_the_second_writer(
    people: dict[str, Caller], ticket: Ticket
) -> None:
    url = f"/api/tickets/{ticket.pk}/"
    responses = collide(
        lambda: post(people["technician"], url, {"title": "A", "version": 1}, "patch"),
        lambda: post(people["other_technician"], url, {"title": "B", "version": 1}, "patch"),
        ticket=ticket,
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409]
    conflict = next(r for r in responses if r.status_code == 409).json()
    assert conflict["extra"] == {"code": "stale_version", "version": 2}


def test_event_sequences_follow_commit_order(people: dict[str, Caller], ticket: Ticket) -> None:
    url = f"/api/tickets/{ticket.pk}/comments/"
    collide(
        *[(lambda n=n: post(people["technician"], url, {"body": f"reply {n}"})) for n in range(4)],
        ticket=ticket,
    )
    messages = OutboxMessage.objects.filter(aggregate_id=str(ticket.pk)).order_by("id")
    assert [m.sequence for m in messages] == [1, 2, 3, 4, 5]
