"""Ticket numbers (``SD-<n>``): unique and increasing, never ``max() + 1``.

PostgreSQL hands them out from the sequence ``tickets_ticket_number_seq`` (migration
0002): ``nextval`` never blocks and never gives the same value twice, whatever the
concurrency. A rolled-back creation leaves a gap, as every sequence does; numbers are
unique and increasing, not gapless. Elsewhere (SQLite, for ``make up`` with no
configuration) a single counter row is incremented under a row lock; SQLite serializes
writers anyway.
"""

from __future__ import annotations

from typing import Final

from django.db import connection
from django.db.models import F

from tickets.models import TicketNumberCounter

SEQUENCE: Final = "tickets_ticket_number_seq"


def uses_sequence() -> bool:
    return connection.vendor == "postgresql"


def next_ticket_number() -> int:
    """The next number; call inside the creating transaction."""
    if uses_sequence():
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [SEQUENCE])
            return int(cursor.fetchone()[0])
    counter, _ = TicketNumberCounter.objects.select_for_update().get_or_create(pk=1)
    TicketNumberCounter.objects.filter(pk=counter.pk).update(last_number=F("last_number") + 1)
    counter.refresh_from_db(fields=["last_number"])
    return counter.last_number


def reserve_ticket_numbers(count: int) -> list[int]:
    """``count`` numbers at once, for bulk seeding."""
    if count <= 0:
        return []
    if uses_sequence():
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [SEQUENCE, count])
            return sorted(int(row[0]) for row in cursor.fetchall())
    counter, _ = TicketNumberCounter.objects.select_for_update().get_or_create(pk=1)
    start = counter.last_number + 1
    TicketNumberCounter.objects.filter(pk=counter.pk).update(last_number=F("last_number") + count)
    return list(range(start, start + count))
