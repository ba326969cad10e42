"""Waking the export workers when a job is queued: PostgreSQL NOTIFY, or a local event.

``notify_at_commit()`` runs in the transaction that queues a job: PostgreSQL delivers the
``NOTIFY`` when it commits (and never if it rolls back), to every worker of every replica
LISTENing on ``NOTIFY_CHANNEL``; workers in this process (tests, SQLite, which has no
NOTIFY) are woken by an event set after the commit. A worker waits on ``make_waiter()``
(``servidesk_shared.waiter``) for either, or its poll interval: a lost nudge only costs
latency.
"""

from __future__ import annotations

import threading
from typing import Final

from django.db import connections, transaction

from servidesk_shared.waiter import PollingWaiter
from servidesk_shared.waiter import make_waiter as shared_make_waiter

NOTIFY_CHANNEL: Final = "servidesk_reports_exports"

_local_events: list[threading.Event] = []
_local_lock = threading.Lock()


def notify_at_commit(using: str = "default") -> None:
    """Wake the export workers once the current transaction commits."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The channel is a constant; pg_notify takes it as a parameter.
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
    transaction.on_commit(wake_local_workers, using=using, robust=True)


def wake_local_workers() -> None:
    with _local_lock:
        for event in _local_events:
            event.set()


def make_waiter(using: str = "default") -> PollingWaiter:
    """A waiter for one worker: any process's NOTIFY (PostgreSQL) or this process's nudge."""
    event = threading.Event()
    with _local_lock:
        _local_events.append(event)

    def forget() -> None:
        with _local_lock:
            if event in _local_events:
                _local_events.remove(event)

    return shared_make_waiter(
        channel=NOTIFY_CHANNEL,
        wakeup=event,
        using=using,
        name="exports",
        polling_max_sleep=1.0,
        on_close=forget,
    )
