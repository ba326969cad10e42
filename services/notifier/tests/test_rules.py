"""Who is told about each ticket event: the rules of issues 6 and 18 as tables."""

from __future__ import annotations

from typing import Any

import pytest
from notifications.rules import landing_team, recipients_for

from servidesk_shared.events.schemas import (
    EventData,
    FieldChange,
    TicketAssigned,
    TicketCommented,
    TicketCreated,
    TicketMerged,
    TicketStatusChanged,
    TicketUpdated,
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


# --- teams, edits and merges (issue 18) ------------------------------------------------

TEAM, LEAD = 10, 5
#: Who works team 10's queue, as the directory hands them over (members, then the lead).
PEOPLE = ("2", "4", "6", "5")


def team_ticket(assignee: int | None = None, team: int | None = TEAM, **extra: Any) -> Any:
    values: dict[str, Any] = {"status": "pending", **extra}
    return TicketSnapshotFactory(client_id=CLIENT, assignee_id=assignee, team_id=team, **values)


def edit(ticket: Any, actor: int = OTHER_TECH, **changes: tuple[Any, Any]) -> TicketUpdated:
    return TicketUpdated(
        ticket=ticket,
        actor_id=actor,
        changes={name: FieldChange(before=b, after=a) for name, (b, a) in changes.items()},
    )


TEAM_CASES: list[tuple[str, EventData, list[tuple[str, str]]]] = [
    (
        "created by the client into a team, unassigned: receipt, then the team's people",
        TicketCreated(ticket=team_ticket(), actor_id=CLIENT),
        [
            ("1", "created_receipt"),
            ("2", "team_queue"),
            ("4", "team_queue"),
            ("6", "team_queue"),
            ("5", "team_queue"),
        ],
    ),
    (
        "created by a team member for the client: the others of the team, not the actor",
        TicketCreated(ticket=team_ticket(), actor_id=OTHER_TECH),
        [("1", "created_receipt"), ("2", "team_queue"), ("6", "team_queue"), ("5", "team_queue")],
    ),
    (
        "created into a team and assigned at once: the assignee's alert, no team message",
        TicketCreated(ticket=team_ticket(TECH), actor_id=CLIENT),
        [("1", "created_receipt"), ("2", "created_alert")],
    ),
    (
        "created without a team: the team people given are not told",
        TicketCreated(ticket=team_ticket(team=None), actor_id=CLIENT),
        [("1", "created_receipt")],
    ),
    (
        "moved into a team while unassigned: the team's people but the actor",
        edit(team_ticket(), team_id=(None, TEAM)),
        [("2", "team_queue"), ("6", "team_queue"), ("5", "team_queue")],
    ),
    (
        "moved into a team while assigned: nobody",
        edit(team_ticket(TECH), team_id=(None, TEAM)),
        [],
    ),
    (
        "taken out of its team: nobody",
        edit(team_ticket(team=None), team_id=(TEAM, None)),
        [],
    ),
    (
        "title, description, category and tags edited on a team ticket: nobody",
        edit(
            team_ticket(),
            title=("a", "b"),
            description=("c", "d"),
            category=("hardware", "software"),
            tags=([], ["vip"]),
        ),
        [],
    ),
    (
        "priority raised to urgent by someone else: the assignee",
        edit(team_ticket(TECH, priority="urgent"), priority=("high", "urgent")),
        [("2", "priority_urgent")],
    ),
    (
        "priority raised to urgent by the assignee: nobody",
        edit(team_ticket(TECH, priority="urgent"), actor=TECH, priority=("low", "urgent")),
        [],
    ),
    (
        "priority raised to urgent on an unassigned ticket: nobody (the team was told before)",
        edit(team_ticket(priority="urgent"), priority=("medium", "urgent")),
        [],
    ),
    (
        "priority raised, not to urgent: nobody",
        edit(team_ticket(TECH, priority="high"), priority=("low", "high")),
        [],
    ),
    (
        "priority lowered from urgent: nobody",
        edit(team_ticket(TECH, priority="high"), priority=("urgent", "high")),
        [],
    ),
    (
        "moved into a team and raised to urgent while unassigned: the team only",
        edit(team_ticket(priority="urgent"), team_id=(None, TEAM), priority=("low", "urgent")),
        [("2", "team_queue"), ("6", "team_queue"), ("5", "team_queue")],
    ),
    (
        "merged by a technician: the client of the merged ticket, once",
        TicketMerged(
            ticket=team_ticket(TECH, status="resolved", merged_into_id=77),
            into=TicketSnapshotFactory(id=77, client_id=CLIENT, assignee_id=OTHER_TECH),
            actor_id=OTHER_TECH,
        ),
        [("1", "merged")],
    ),
    (
        "a status change of a merged ticket is no resolution to announce: nobody",
        TicketStatusChanged(
            ticket=team_ticket(TECH, status="resolved", merged_into_id=77),
            actor_id=OTHER_TECH,
            from_status="in_progress",
            to_status="resolved",
        ),
        [],
    ),
    (
        "an edit of a merged ticket: nobody",
        edit(
            team_ticket(status="resolved", merged_into_id=77, priority="urgent"),
            team_id=(None, TEAM),
            priority=("low", "urgent"),
        ),
        [],
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"), [c[1:] for c in TEAM_CASES], ids=[c[0] for c in TEAM_CASES]
)
def test_recipients_of_teams_edits_and_merges(
    data: EventData, expected: list[tuple[str, str]]
) -> None:
    found = recipients_for(data, team_people=PEOPLE)
    assert [(r.user_id, r.kind) for r in found] == expected


def test_the_client_is_never_told_of_a_team_queue_nor_of_an_urgent_priority() -> None:
    """Even should the client sit in the team's list or be the assignee."""
    people = (str(CLIENT), "9")
    created = TicketCreated(ticket=team_ticket(), actor_id=TECH)
    assert [(r.user_id, r.kind) for r in recipients_for(created, team_people=people)] == [
        ("1", "created_receipt"),
        ("9", "team_queue"),
    ]
    urgent = edit(team_ticket(CLIENT, priority="urgent"), priority=("low", "urgent"))
    assert recipients_for(urgent, team_people=people) == []


def test_landing_team_is_the_team_only_when_the_ticket_waits_unassigned_in_it() -> None:
    assert landing_team(TicketCreated(ticket=team_ticket(), actor_id=CLIENT)) == "10"
    assert landing_team(TicketCreated(ticket=team_ticket(TECH), actor_id=CLIENT)) is None
    assert landing_team(edit(team_ticket(), team_id=(None, TEAM))) == "10"
    assert landing_team(edit(team_ticket(), title=("a", "b"))) is None
    assert landing_team(edit(team_ticket(team=None), team_id=(TEAM, None))) is None
    status = TicketStatusChanged(
        ticket=team_ticket(), actor_id=TECH, from_status="pending", to_status="in_progress"
    )
    assert landing_team(status) is None
