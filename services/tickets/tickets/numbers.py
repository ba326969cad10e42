"""Ticket numbers (``SD-<n>``): unique and increasing, never ``max() + 1``.

PostgreSQL hands them out from the sequence ``tickets_ticket_number_seq`` (migration
0002; ``tickets.sql`` reads it): ``nextval`` never blocks and never gives the same value
twice, whatever the concurrency. A rolled-back creation leaves a gap, as every sequence
does; numbers are unique and increasing, not gapless. Elsewhere (SQLite, for ``make up``
with no configuration) a single counter row is incremented under a row lock; SQLite
serializes writers anyway.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F

from tickets import sql
from tickets.models import TicketNumberCounter


def next_ticket_number() -> int:
    """The next number; call inside the creating transaction."""
    if sql.is_postgresql():
        return sql.next_number()
    counter, _ = TicketNumberCounter.objects.select_for_update().get_or_create(pk=1)
    TicketNumberCounter.objects.filter(pk=counter.pk).update(last_number=F("last_number") + 1)
    counter.refresh_from_db(fields=["last_number"])
    return counter.last_number


def number_expression() -> tuple[str, list[Any]]:
    """The next number as an SQL expression and its parameters, for a statement that reads
    it along with other things: ``nextval`` on PostgreSQL (no round trip of its own), else
    a number taken from the counter now."""
    if sql.is_postgresql():
        return "nextval(%s)", [sql.NUMBER_SEQUENCE]
    return "%s", [next_ticket_number()]


def reserve_ticket_numbers(count: int) -> list[int]:
    """``count`` numbers at once, for bulk seeding."""
    if count <= 0:
        return []
    if sql.is_postgresql():
        return sql.next_numbers(count)
    counter, _ = TicketNumberCounter.objects.select_for_update().get_or_create(pk=1)
    start = counter.last_number + 1
    TicketNumberCounter.objects.filter(pk=counter.pk).update(last_number=F("last_number") + count)
    return list(range(start, start + count))
