"""What a new ticket needs to know before its INSERT, read in one round trip.

Its number (the sequence), the SLA targets of its priority and its client's directory
entry (to check a client named by staff, and to answer with the client's name). On
PostgreSQL that is one statement instead of three queries: creating tickets is the
hottest write of the service, and each round trip costs more in Django and psycopg
than in the database. The statement is ``tickets.sql.opening_row``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickets import numbers, sql
from tickets.models import DEFAULT_SLA_HOURS, DirectoryUser, Role
from tickets.sla import Targets, targets_for


@dataclass(frozen=True)
class Opening:
    number: int
    targets: Targets
    #: The client's display name in the directory; None when the directory has no entry.
    client_name: str | None
    #: The directory knows the client as an active client.
    client_is_active_client: bool


def read_opening(*, priority: int, client_id: str) -> Opening:
    """Take the next number and read the SLA targets and the client, in one statement."""
    if not sql.is_postgresql():
        client = DirectoryUser.objects.filter(pk=client_id).first()
        return _opening(numbers.next_ticket_number(), targets_for(priority), client)
    row = sql.opening_row(priority=priority, client_id=client_id)
    if row.sla_hours is None:
        first, resolution = DEFAULT_SLA_HOURS[priority]
        targets = Targets(priority, first, resolution, is_default=True)
    else:
        targets = Targets(priority, *row.sla_hours, is_default=False)
    client = None
    if row.client is not None:
        full_name, username, role, is_active = row.client
        client = DirectoryUser(
            pk=client_id, full_name=full_name, username=username, role=role, is_active=is_active
        )
    return _opening(row.number, targets, client)


def _opening(number: int, targets: Targets, client: DirectoryUser | None) -> Opening:
    return Opening(
        number=number,
        targets=targets,
        client_name=client.display_name if client else None,
        client_is_active_client=bool(client and client.is_active and client.role == Role.CLIENT),
    )
