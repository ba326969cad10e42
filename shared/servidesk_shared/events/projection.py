"""Per-aggregate ordering for projections: never apply an older state over a newer one.

Ticket and user events carry the full snapshot of their aggregate, so a consumer that
keeps a copy (reports' tickets, notifier's contact cards) only needs the newest one.
Events can arrive out of order (several relays, redeliveries, replays), hence:

    @handlers.on("user.registered", "user.updated", "user.deactivated")
    def keep_contact(event: Event[UserCard]) -> None:
        if projection.advance(event):
            Contact.objects.update_or_create(user_id=event.data.id, defaults={...})

Effects that are not copies of state (sending a notification) should not be guarded.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

from servidesk_shared import sql
from servidesk_shared.events.envelope import Event
from servidesk_shared.outbox.models import ProjectionVersion


def advance(event: Event[Any], *, using: str = "default") -> bool:
    """Record ``event`` as the newest applied for its aggregate; ``False`` when it is not.

    One upsert whose update only happens for a higher sequence: the row lock it takes
    lasts until the handler's transaction ends, so concurrent consumers serialize on the
    aggregate and the check cannot race.
    """
    return sql.advance_projection(
        connections[using],
        ProjectionVersion,
        event.data.aggregate_type,
        event.aggregate_id,
        event.sequence,
    )
