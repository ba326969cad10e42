"""The benchmark consumer's one effect: a row stamped with the database clock."""

from __future__ import annotations

from typing import Any

from django.db import connection

from servidesk_shared.events.envelope import Event
from servidesk_shared.events.registry import HandlerRegistry

EFFECTS = "bench_effect"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {EFFECTS} "
    "(event_id uuid PRIMARY KEY, applied_at double precision NOT NULL)"
)

handlers = HandlerRegistry()


@handlers.on("ticket.created")
def on_ticket_created(event: Event[Any]) -> None:
    # clock_timestamp(), not now(): the time of this statement, not of the transaction start.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {EFFECTS} (event_id, applied_at) "  # noqa: S608
            "VALUES (%s, extract(epoch FROM clock_timestamp()))",
            [event.id],
        )
