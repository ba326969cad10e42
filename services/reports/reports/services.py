"""Writes to the projection: applying ``ticket.*``, ``user.*`` and ``team.*`` events.

Each function owns its transaction (``@transaction.atomic``): inside the consumer's, the
one that records the event id in the inbox, it is a savepoint, so the effect and the id
commit together. Each takes a row lock on the aggregate first, so two consumers applying
events of one ticket serialize.

Ordering: every event carries its aggregate's ``sequence``. A snapshot is copied only
when its sequence is higher than the stored one, so an older event arriving after a
newer one never rolls the state back. A status change is history, not state: it is
recorded whatever its order, and the derived figures are recomputed from all of them.
Every ticket event carries the full snapshot (``ticket.updated`` and ``ticket.merged``
included), so team and tags follow the same rule as every other attribute; the ``into``
snapshot of ``ticket.merged`` belongs to another aggregate, whose sequence the event does
not carry, so that ticket is kept by its own events only. Teams follow the users' rule:
the card with the highest sequence wins, and ``team.deleted`` marks the row deleted
rather than removing it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from reports import history
from reports.models import (
    ID_LENGTH,
    TAG_LENGTH,
    TEAM_NAME_LENGTH,
    OpenSpell,
    Person,
    StatusChange,
    Team,
    TicketFact,
    TicketTag,
)
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import (
    TeamCard,
    TicketEvent,
    TicketSnapshot,
    TicketStatusChanged,
    UserCard,
)


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _tags(tags: tuple[str, ...]) -> list[str]:
    """The snapshot's tags, each cut to fit, without repeats, in their order."""
    return list(dict.fromkeys(tag[:TAG_LENGTH] for tag in tags))


def _snapshot_values(ticket: TicketSnapshot) -> dict[str, Any]:
    return {
        "number": ticket.number[:50],
        "title": ticket.title[:300],
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category[:100],
        "client_id": str(ticket.client_id),
        "assignee_id": _id(ticket.assignee_id),
        "team_id": _id(ticket.team_id),
        "tags": _tags(ticket.tags),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "first_response_at": ticket.first_response_at,
        "resolved_at": ticket.resolved_at,
        "first_response_due": ticket.first_response_due,
        "resolution_due": ticket.resolution_due,
    }


@transaction.atomic
def person_apply_event(*, event: Event[UserCard]) -> bool:
    """Keep a user's name and role; ``False`` when the event is older than what we have."""
    card = event.data
    user_id = str(card.id)
    Person.objects.bulk_create(
        [Person(user_id=user_id, username=card.username, role=card.role, sequence=0)],
        ignore_conflicts=True,
    )
    person = Person.objects.select_for_update().get(user_id=user_id)
    if event.sequence <= person.sequence:
        return False
    person.username = card.username[:150]
    person.full_name = card.full_name[:300]
    person.role = card.role
    # A deactivation is one whatever its card says, as in tickets and notifier.
    person.is_active = card.is_active and event.type != "user.deactivated"
    person.sequence = event.sequence
    person.save()
    return True


@transaction.atomic
def team_apply_event(*, event: Event[TeamCard]) -> bool:
    """Keep a team's name, lead and members; ``False`` when the card is older than ours.

    ``team.deleted`` keeps the row (marked deleted, with the name it had), so tickets of
    the team still show its name.
    """
    card = event.data
    team_id = str(card.id)[:ID_LENGTH]
    Team.objects.bulk_create(
        [Team(team_id=team_id, name=card.name[:TEAM_NAME_LENGTH], sequence=0)],
        ignore_conflicts=True,
    )
    team = Team.objects.select_for_update().get(team_id=team_id)
    if event.sequence <= team.sequence:
        return False
    team.name = card.name[:TEAM_NAME_LENGTH]
    team.lead_id = _id(card.lead_id)
    team.member_ids = [str(member) for member in card.member_ids]
    team.deleted = event.type == "team.deleted"
    team.sequence = event.sequence
    team.save()
    return True


@transaction.atomic
def ticket_apply_event(*, event: Event[TicketEvent]) -> bool:
    """Apply one ticket event; ``False`` when its snapshot was older than the stored one.

    A status change is recorded and counted in the history in either case.
    """
    snapshot = event.data.ticket
    ticket_id = str(snapshot.id)
    values = _snapshot_values(snapshot)
    TicketFact.objects.bulk_create(
        [TicketFact(ticket_id=ticket_id, sequence=0, **values)], ignore_conflicts=True
    )
    fact = TicketFact.objects.select_for_update().get(ticket_id=ticket_id)
    newer = event.sequence > fact.sequence
    if newer:
        _replace_tags(fact=fact, tags=values["tags"])
        for name, value in values.items():
            setattr(fact, name, value)
        fact.sequence = event.sequence

    data = event.data
    if isinstance(data, TicketStatusChanged):
        StatusChange.objects.bulk_create(
            [
                StatusChange(
                    ticket=fact,
                    sequence=event.sequence,
                    changed_at=_change_time(data),
                    from_status=data.from_status,
                    to_status=data.to_status,
                    actor_id=_id(data.actor_id),
                )
            ],
            ignore_conflicts=True,
        )
    elif not newer:
        return False  # an old snapshot and no history in it: nothing to do

    _refresh_derived(fact=fact)
    return bool(newer)


def _replace_tags(*, fact: TicketFact, tags: list[str]) -> None:
    """Make ``fact``'s tag rows ``tags`` (a step of ``ticket_apply_event``).

    A new fact's row was just inserted with the snapshot's tags and has no tag rows yet,
    hence the sequence check rather than a comparison with ``fact.tags``.
    """
    if fact.sequence and fact.tags == tags:
        return
    TicketTag.objects.filter(ticket=fact).exclude(tag__in=tags).delete()
    TicketTag.objects.bulk_create(
        [TicketTag(ticket=fact, tag=tag) for tag in tags], ignore_conflicts=True
    )


def _change_time(data: TicketStatusChanged) -> datetime:
    ticket = data.ticket
    when: datetime = ticket.updated_at
    if data.to_status == history.RESOLVED and ticket.resolved_at is not None:
        when = ticket.resolved_at
    return when


def _refresh_derived(*, fact: TicketFact) -> None:
    """Recompute the derived columns and open spells of ``fact`` and save both (a step of
    ``ticket_apply_event``, in its transaction)."""
    changes = [
        history.Change(sequence, at, from_status, to_status)
        for sequence, at, from_status, to_status in StatusChange.objects.filter(
            ticket=fact
        ).values_list("sequence", "changed_at", "from_status", "to_status")
    ]
    derived = history.derive(
        history.Snapshot(
            sequence=fact.sequence,
            status=fact.status,
            created_at=fact.created_at,
            updated_at=fact.updated_at,
            resolved_at=fact.resolved_at,
        ),
        changes,
    )
    resolved = fact.status == history.RESOLVED and fact.resolved_at is not None
    fact.first_response_seconds = _seconds(fact.created_at, fact.first_response_at)
    fact.resolution_seconds = _seconds(fact.created_at, fact.resolved_at) if resolved else None
    fact.first_response_met = _met(fact.first_response_at, fact.first_response_due)
    fact.resolution_met = _met(fact.resolved_at, fact.resolution_due) if resolved else None
    fact.first_resolved_at = derived.first_resolved_at
    fact.times_resolved = derived.times_resolved
    fact.reopen_count = derived.reopen_count
    fact.pending_seconds = derived.pending_seconds
    fact.in_progress_seconds = derived.in_progress_seconds
    fact.save()

    OpenSpell.objects.filter(ticket=fact).delete()
    OpenSpell.objects.bulk_create(
        OpenSpell(
            ticket=fact,
            started_at=spell.started_at,
            ended_at=spell.ended_at,
            reopened=spell.reopened,
            status=fact.status,
            priority=fact.priority,
            category=fact.category,
            assignee_id=fact.assignee_id,
            team_id=fact.team_id,
        )
        for spell in derived.spells
    )


def _seconds(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _met(done_at: datetime | None, due: datetime | None) -> bool | None:
    if done_at is None or due is None:
        return None
    return done_at <= due
