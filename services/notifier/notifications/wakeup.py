"""Waking the senders when deliveries are queued: PostgreSQL NOTIFY, or a local event.

``nudge()`` runs after the recording transaction commits; a sender waits (on a waiter of
``servidesk_shared.waiter``) for a nudge, the next retry falling due, or its poll
interval, whichever comes first.
The poll alone guarantees progress: a lost nudge only costs latency.
"""

from __future__ import annotations

import threading
from typing import Final

from django.db import connections, transaction

from notifications import sql
from servidesk_shared.waiter import PollingWaiter
from servidesk_shared.waiter import make_waiter as shared_make_waiter

NOTIFY_CHANNEL: Final = "servidesk_notifier_deliveries"

_local_events: list[threading.Event] = []
_local_lock = threading.Lock()


def nudge(using: str = "default") -> None:
    with _local_lock:
        for event in _local_events:
            event.set()
    sql.notify(NOTIFY_CHANNEL, using=using)


def nudge_on_commit(using: str = "default") -> None:
    """``nudge`` once the current transaction commits; once, however many times it is asked
    (the consumer may apply a whole batch of events in one transaction)."""
    pending = connections[using].run_on_commit
    if not any(entry[1] is _nudge_after_commit for entry in pending):
        transaction.on_commit(_nudge_after_commit, using=using, robust=True)


def _nudge_after_commit() -> None:
    nudge()


def make_waiter(using: str = "default") -> PollingWaiter:
    """A waiter for one sender: any process's NOTIFY (PostgreSQL) or this process's nudge."""
    event = threading.Event()
    with _local_lock:
        _local_events.append(event)

    def forget() -> None:
        with _local_lock:
            if event in _local_events:
                _local_events.remove(event)

    return shared_make_waiter(
        channel=NOTIFY_CHANNEL, wakeup=event, using=using, name="sender", on_close=forget
    )
