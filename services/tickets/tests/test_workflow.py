"""The state machine as a table: every (from, to) pair x every role -> the answer.

Written out by hand rather than derived from ``tickets.workflow``, so the test states
the contract instead of repeating the code.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from tickets.models import HistoryEntry, Status, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from servidesk_shared.vocabulary import STATUS_LABELS
from tests.conftest import Api, Caller
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

P, I, R = Status.PENDING, Status.IN_PROGRESS, Status.RESOLVED  # noqa: E741

#: (from, to): (client on own ticket, technician, admin)
TABLE: dict[tuple[str, str], tuple[int, int, int]] = {
    (P, P): (409, 409, 409),
    (P, I): (403, 200, 200),
    (P, R): (409, 409, 409),
    (I, P): (403, 200, 200),
    (I, I): (409, 409, 409),
    (I, R): (403, 200, 200),
    (R, P): (409, 409, 409),
    (R, I): (200, 200, 200),  # reopen: the one move a client may make
    (R, R): (409, 409, 409),
}
ROLES = ("client", "technician", "admin")

CASES = [
    pytest.param(source, target, role, code, id=f"{source}->{target}-{role}")
    for (source, target), codes in TABLE.items()
    for role, code in zip(ROLES, codes, strict=True)
]


def ticket_in(status: str) -> Ticket:
    ticket: Ticket = TicketFactory(
        client_id="11",
        status=status,
        resolved_at=timezone.now() if status == Status.RESOLVED else None,
    )
    return ticket


@pytest.mark.parametrize(("source", "target", "role", "expected"), CASES)
def test_state_machine(
    api: Api, callers: dict[str, Caller], source: str, target: str, role: str, expected: int
) -> None:
    ticket = ticket_in(source)
    response = api.post(f"/api/tickets/{ticket.pk}/status/", {"status": target}, as_=callers[role])
    assert response.status_code == expected, response.content
    ticket.refresh_from_db()
    history = HistoryEntry.objects.filter(ticket=ticket)
    events = OutboxMessage.objects.filter(event_type="ticket.status_changed")
    if expected == 200:
        assert ticket.status == target
        assert response.json()["status"] == target
        assert list(history.values_list("from_value", "to_value")) == [(source, target)]
        assert events.count() == 1
    else:
        # Refused: nothing written, not the status, not a history entry, not an event.
        assert ticket.status == source
        assert ticket.version == 1
        assert not history.exists()
        assert not events.exists()


@pytest.mark.parametrize(("source", "target"), list(TABLE))
def test_another_clients_ticket_is_not_found_whatever_the_move(
    api: Api, callers: dict[str, Caller], source: str, target: str
) -> None:
    ticket = ticket_in(source)
    response = api.post(
        f"/api/tickets/{ticket.pk}/status/", {"status": target}, as_=callers["other_client"]
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("source", "target", "role", "allowed"),
    [
        (P, R, "technician", ["in_progress"]),
        (I, I, "admin", ["pending", "waiting", "resolved"]),
        (R, R, "technician", ["in_progress"]),
        (R, P, "client", ["in_progress"]),
        (P, R, "client", []),
    ],
)
def test_a_refused_move_names_the_allowed_ones(
    api: Api, callers: dict[str, Caller], source: str, target: str, role: str, allowed: list[str]
) -> None:
    ticket = ticket_in(source)
    response = api.post(f"/api/tickets/{ticket.pk}/status/", {"status": target}, as_=callers[role])
    assert response.status_code == 409
    body = response.json()
    assert body["extra"]["code"] == "invalid_transition"
    assert body["extra"]["allowed"] == allowed
    # The message names them as people read them; ``extra`` as programs do.
    for move in allowed:
        assert str(STATUS_LABELS[move]) in body["message"]


def test_resolving_sets_resolved_at_and_reopening_clears_it(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")
    url = f"/api/tickets/{ticket.pk}/status/"
    technician, client = callers["technician"], callers["client"]
    assert api.post(url, {"status": I}, as_=technician).json()["resolved_at"] is None
    resolved = api.post(url, {"status": R}, as_=technician).json()
    assert resolved["resolved_at"] is not None
    reopened = api.post(url, {"status": I}, as_=client).json()
    assert reopened["status"] == I
    assert reopened["resolved_at"] is None
    moves = HistoryEntry.objects.filter(ticket=ticket, field="status").order_by("id")
    assert [(m.actor_id, m.from_value, m.to_value) for m in moves] == [
        ("11", None, P),
        ("21", P, I),
        ("21", I, R),
        ("11", R, I),
    ]


def test_status_change_sends_the_signal(callers: dict[str, Caller], open_ticket: Any) -> None:
    from tickets import services, signals  # noqa: PLC0415

    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(kwargs)

    signals.ticket_status_changed.connect(receiver, sender=Ticket)
    try:
        ticket = open_ticket("client")
        services.ticket_change_status(
            ticket_id=ticket.pk, actor=callers["technician"].actor, status=I
        )
    finally:
        signals.ticket_status_changed.disconnect(receiver, sender=Ticket)
    assert len(received) == 1
    assert received[0]["from_status"] == P
    assert received[0]["to_status"] == I
    assert received[0]["actor"].id == "21"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", "Un ticket no puede pasar de Pendiente a Resuelto. Desde Pendiente se permite: "),
        ("en", "A ticket cannot go from Pending to Resolved. Allowed from Pending: "),
    ],
)
def test_messages_speak_the_callers_language(
    api: Api, callers: dict[str, Caller], language: str, expected: str
) -> None:
    ticket = ticket_in(P)
    headers = {**callers["technician"].headers, "Accept-Language": language}
    response = api.client.post(
        f"/api/tickets/{ticket.pk}/status/",
        {"status": R},
        content_type="application/json",
        headers=headers,
    )
    in_progress = "En progreso." if language == "es" else "In progress."
    assert response.json()["message"] == expected + in_progress
