"""Who is told about each ticket event: the rules of issue 6 as one table."""

from __future__ import annotations

import pytest
from notifications.rules import recipients_for

from servidesk_shared.events.schemas import (
    EventData,
    TicketAssigned,
    TicketCommented,
    TicketCreated,
    TicketStatusChanged,
)
from tests.factories import CommentSnapshotFactory, TicketSnapshotFactory

CLIENT, TECH, OTHER_TECH = 1, 2, 4


def ticket(assignee: int | None = TECH, status: str = "in_progress") -> object:
    return TicketSnapshotFactory(client_id=CLIENT, assignee_id=assignee, status=status)


def comment(author: int, *, internal: bool = False) -> object:
    return CommentSnapshotFactory(author_id=author, internal=internal)


CASES: list[tuple[str, EventData, list[tuple[str, str]]]] = [
    (
        "created by the client, unassigned: receipt only",
        TicketCreated(ticket=ticket(None, "pending"), actor_id=CLIENT),
        [("1", "created_receipt")],
    ),
    (
        "created by staff for the client, assigned to a technician",
        TicketCreated(ticket=ticket(TECH, "pending"), actor_id=OTHER_TECH),
        [("1", "created_receipt"), ("2", "created_alert")],
    ),
    (
        "created and self-assigned by the technician: no alert to themselves",
        TicketCreated(ticket=ticket(TECH, "pending"), actor_id=TECH),
        [("1", "created_receipt")],
    ),
    (
        "status changed by the assignee: the client only",
        TicketStatusChanged(
            ticket=ticket(), actor_id=TECH, from_status="pending", to_status="in_progress"
        ),
        [("1", "status_changed")],
    ),
    (
        "status changed by someone else: client and assignee",
        TicketStatusChanged(
            ticket=ticket(), actor_id=OTHER_TECH, from_status="pending", to_status="in_progress"
        ),
        [("1", "status_changed"), ("2", "status_changed")],
    ),
    (
        "status changed on an unassigned ticket",
        TicketStatusChanged(
            ticket=ticket(None), actor_id=OTHER_TECH, from_status="pending", to_status="in_progress"
        ),
        [("1", "status_changed")],
    ),
    (
        "assigned by someone else: the new technician",
        TicketAssigned(
            ticket=ticket(TECH), actor_id=OTHER_TECH, from_assignee=None, to_assignee=TECH
        ),
        [("2", "assigned")],
    ),
    (
        "self-assigned: nobody",
        TicketAssigned(ticket=ticket(TECH), actor_id=TECH, from_assignee=None, to_assignee=TECH),
        [],
    ),
    (
        "unassigned: nobody",
        TicketAssigned(
            ticket=ticket(None), actor_id=OTHER_TECH, from_assignee=TECH, to_assignee=None
        ),
        [],
    ),
    (
        "public comment by the client: the assignee",
        TicketCommented(ticket=ticket(), actor_id=CLIENT, comment=comment(CLIENT)),
        [("2", "commented")],
    ),
    (
        "public comment by the client on an unassigned ticket: nobody",
        TicketCommented(ticket=ticket(None), actor_id=CLIENT, comment=comment(CLIENT)),
        [],
    ),
    (
        "public comment by the assignee: the client",
        TicketCommented(ticket=ticket(), actor_id=TECH, comment=comment(TECH)),
        [("1", "commented")],
    ),
    (
        "public comment by another technician: client and assignee",
        TicketCommented(ticket=ticket(), actor_id=OTHER_TECH, comment=comment(OTHER_TECH)),
        [("1", "commented"), ("2", "commented")],
    ),
    (
        "internal note by another technician: the assignee only",
        TicketCommented(
            ticket=ticket(), actor_id=OTHER_TECH, comment=comment(OTHER_TECH, internal=True)
        ),
        [("2", "internal_note")],
    ),
    (
        "internal note by the assignee: nobody (and never the client)",
        TicketCommented(ticket=ticket(), actor_id=TECH, comment=comment(TECH, internal=True)),
        [],
    ),
    (
        "internal note on an unassigned ticket: nobody",
        TicketCommented(
            ticket=ticket(None), actor_id=OTHER_TECH, comment=comment(OTHER_TECH, internal=True)
        ),
        [],
    ),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_recipients(data: EventData, expected: list[tuple[str, str]]) -> None:
    assert [(r.user_id, r.kind) for r in recipients_for(data)] == expected


def test_clients_never_hear_of_internal_notes() -> None:
    for actor in (TECH, OTHER_TECH, None):
        for assignee in (TECH, OTHER_TECH, None):
            data = TicketCommented(
                ticket=ticket(assignee),
                actor_id=actor,
                comment=comment(actor or OTHER_TECH, internal=True),
            )
            assert all(r.user_id != str(CLIENT) for r in recipients_for(data))


def test_ids_are_opaque_strings() -> None:
    data = TicketStatusChanged(
        ticket=TicketSnapshotFactory(client_id="c-9", assignee_id="t-3"),
        actor_id="t-7",
        from_status="pending",
        to_status="in_progress",
    )
    assert [r.user_id for r in recipients_for(data)] == ["c-9", "t-3"]
