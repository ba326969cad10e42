"""What a new ticket needs to know before its INSERT, read in one round trip.

Its number (the sequence), the SLA targets of its priority and its client's directory
entry (to check a client named by staff, and to answer with the client's name). On
PostgreSQL that is one statement instead of three queries: creating tickets is the
hottest write of the service (issue 5's benchmark), and each round trip costs more in
Django and psycopg than in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from tickets import numbers
from tickets.models import DEFAULT_SLA_HOURS, DirectoryUser, Role, SlaTarget
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
    if not numbers.uses_sequence():
        client = DirectoryUser.objects.filter(pk=client_id).first()
        return _opening(numbers.next_ticket_number(), targets_for(priority), client)
    sla = connection.ops.quote_name(SlaTarget._meta.db_table)
    users = connection.ops.quote_name(DirectoryUser._meta.db_table)
    with connection.cursor() as cursor:
        # One row whatever exists: both joins are on unique keys.
        cursor.execute(
            "SELECT nextval(%s), sla.first_response_hours, sla.resolution_hours, "  # noqa: S608 (table names from the models)
            "u.full_name, u.username, u.role, u.is_active "
            f"FROM (SELECT 1) AS one LEFT JOIN {sla} AS sla ON sla.priority = %s "
            f"LEFT JOIN {users} AS u ON u.id = %s",
            [numbers.SEQUENCE, priority, client_id],
        )
        number, first, resolution, full_name, username, role, is_active = cursor.fetchone()
    if first is None:
        first, resolution = DEFAULT_SLA_HOURS[priority]
        targets = Targets(priority, first, resolution, is_default=True)
    else:
        targets = Targets(priority, first, resolution, is_default=False)
    client = None
    if username is not None:
        client = DirectoryUser(
            pk=client_id, full_name=full_name, username=username, role=role, is_active=is_active
        )
    return _opening(int(number), targets, client)


def _opening(number: int, targets: Targets, client: DirectoryUser | None) -> Opening:
    return Opening(
        number=number,
        targets=targets,
        client_name=client.display_name if client else None,
        client_is_active_client=bool(client and client.is_active and client.role == Role.CLIENT),
    )
