"""The handlers of the test "service": effects go to two plain tables the tests create.

``events_test_effect`` gets one row per handled event, with no unique key, so a double
application shows up as two rows. ``events_test_ticket`` is a projection guarded by
``projection.advance``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from django.db import OperationalError, connection, transaction

from servidesk_shared.events import projection
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.registry import HandlerRegistry

EFFECTS = "events_test_effect"
TICKETS = "events_test_ticket"
CREATE_TABLES = [
    f"CREATE TABLE IF NOT EXISTS {EFFECTS} "
    "(id serial PRIMARY KEY, event_id uuid NOT NULL, event_type text NOT NULL, title text)",
    f"CREATE TABLE IF NOT EXISTS {TICKETS} "
    "(id text PRIMARY KEY, status text NOT NULL, title text NOT NULL, sequence int NOT NULL)",
]

#: Titles whose handler raises, for the in-process consumer tests (a "bug" to fix later).
FAILING_TITLES: set[str] = set()
#: Title -> how many more times its handler finds the database "gone".
DATABASE_DOWN: dict[str, int] = {}

#: When set, the consumer process kills itself right after its first commit, before the
#: ack, and leaves this file behind so the restarted process does not do it again.
DIE_AFTER_COMMIT = "SERVIDESK_TEST_DIE_AFTER_COMMIT"

handlers = HandlerRegistry()


@handlers.on("ticket.created", "ticket.status_changed", "ticket.assigned", "ticket.commented")
def on_ticket(event: Event[Any]) -> None:
    ticket = event.data.ticket
    if ticket.title in FAILING_TITLES:
        raise RuntimeError(f"cannot handle {ticket.title!r}")
    if DATABASE_DOWN.get(ticket.title, 0) > 0:
        DATABASE_DOWN[ticket.title] -= 1
        raise OperationalError("server closed the connection unexpectedly")
    record(event, ticket.title)
    if projection.advance(event):
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TICKETS} (id, status, title, sequence) VALUES (%s, %s, %s, %s) "  # noqa: S608
                "ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, "
                "title = EXCLUDED.title, sequence = EXCLUDED.sequence",
                [event.aggregate_id, ticket.status, ticket.title, event.sequence],
            )
    _maybe_die_after_commit()


@handlers.on("user.registered", "user.updated")
def on_user(event: Event[Any]) -> None:
    record(event, event.data.username)


def record(event: Event[Any], title: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {EFFECTS} (event_id, event_type, title) VALUES (%s, %s, %s)",  # noqa: S608
            [event.id, event.type, title],
        )


def _maybe_die_after_commit() -> None:
    marker = os.environ.get(DIE_AFTER_COMMIT)
    if not marker or Path(marker).exists():
        return

    def die() -> None:
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)

    transaction.on_commit(die)
