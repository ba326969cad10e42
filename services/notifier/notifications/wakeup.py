"""Waking the senders when deliveries are queued: PostgreSQL NOTIFY, or a local event.

``nudge()`` runs after the recording transaction commits; a sender waits on ``Waiter``
for a nudge, the next retry falling due, or its poll interval, whichever comes first.
The poll alone guarantees progress: a lost nudge only costs latency.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Final

from django.db import DatabaseError, connections, transaction

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL: Final = "servidesk_notifier_deliveries"

_local_events: list[threading.Event] = []
_local_lock = threading.Lock()


def nudge(using: str = "default") -> None:
    with _local_lock:
        for event in _local_events:
            event.set()
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
    except DatabaseError as exc:  # the poll picks the rows up anyway
        logger.warning("cannot notify the senders: %s", exc)


def nudge_on_commit(using: str = "default") -> None:
    """``nudge`` once the current transaction commits; once, however many times it is asked
    (the consumer may apply a whole batch of events in one transaction)."""
    pending = connections[using].run_on_commit
    if not any(entry[1] is _nudge_after_commit for entry in pending):
        transaction.on_commit(_nudge_after_commit, using=using, robust=True)


def _nudge_after_commit() -> None:
    nudge()


class Waiter:
    """Sleeps until a nudge from this process or ``timeout``."""

    def __init__(self) -> None:
        self.event = threading.Event()
        with _local_lock:
            _local_events.append(self.event)

    def wait(self, timeout: float) -> None:
        self.event.wait(timeout)
        self.event.clear()

    def close(self) -> None:
        with _local_lock:
            if self.event in _local_events:
                _local_events.remove(self.event)


class PostgresWaiter(Waiter):
    """Sleeps until a NOTIFY from any process (on a connection of its own) or ``timeout``."""

    def __init__(self, using: str) -> None:
        super().__init__()
        self.using = using
        self.listener: Any = None

    def wait(self, timeout: float) -> None:
        try:
            if self.listener is None:
                self.listener = connections.create_connection(self.using)
                self.listener.set_autocommit(True)
                with self.listener.cursor() as cursor:
                    cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
            for _ in self.listener.connection.notifies(timeout=timeout, stop_after=1):
                pass
            self.event.clear()
        except Exception as exc:  # psycopg's own errors when the socket dies
            level = logging.WARNING if isinstance(exc, DatabaseError) else logging.INFO
            logger.log(level, "sender: LISTEN unavailable (%s); polling", exc)
            self._close_listener()
            super().wait(timeout)

    def _close_listener(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(Exception):
                self.listener.close()
            self.listener = None

    def close(self) -> None:
        self._close_listener()
        super().close()


def make_waiter(using: str = "default") -> Waiter:
    if connections[using].vendor == "postgresql":
        return PostgresWaiter(using)
    return Waiter()
