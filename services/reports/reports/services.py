"""Writes to the projection: applying ``ticket.*`` and ``user.*`` events.

Each function owns its transaction (``@transaction.atomic``): inside the consumer's, the
one that records the event id in the inbox, it is a savepoint, so the effect and the id
commit together. Each takes a row lock on the aggregate first, so two consumers applying
events of one ticket serialize.

Ordering: every event carries its aggregate's ``sequence``. A snapshot is copied only
when its sequence is higher than the stored one, so an older event arriving after a
newer one never rolls the state back. A status change is history, not state: it is
recorded whatever its order, and the derived figures are recomputed from all of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from reports import history
from reports.models import OpenSpell, Person, StatusChange, TicketFact
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import (
    TicketEvent,
    TicketSnapshot,
    TicketStatusChanged,
    UserCard,
)


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _snapshot_values(ticket: TicketSnapshot) -> dict[str, Any]:
    return {
        "number": ticket.number[:50],
        "title": ticket.title[:300],
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category[:100],
        "client_id": str(ticket.client_id),
        "assignee_id": _id(ticket.assignee_id),
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
