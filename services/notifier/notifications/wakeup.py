"""Waking the senders when deliveries are queued: PostgreSQL NOTIFY, or a local event.

``nudge()`` runs after the recording transaction commits; a sender waits (on a waiter of
``servidesk_shared.waiter``) for a nudge, the next retry falling due, or its poll
interval, whichever comes first.
The poll alone guarantees progress: a lost nudge only costs latency.
"""

from __future__ import annotations

import threading
from typing import Final

from django.db import transaction

from notifications import sql
from servidesk_shared.waiter import PollingWaiter
from servidesk_shared.waiter import make_waiter as shared_make_waiter

NOTIFY_CHANNEL: Final = "servidesk_notifier_deliveries"

_local_events: list[threading.Event] = []
_local_lock = threading.Lock()


def nudge(using: str = "default") -> None:
    _wake_local_senders()
    sql.notify(NOTIFY_CHANNEL, using=using)


def nudge_on_commit(using: str = "default") -> None:
    """Wake the senders once the current transaction commits, however many times it asks
    (the consumer may apply a whole batch of events in one transaction): PostgreSQL folds
    the transaction's notifications into one, and waking this process's senders twice
    costs nothing."""
    sql.notify_at_commit(NOTIFY_CHANNEL, using=using)
    transaction.on_commit(_wake_local_senders, using=using, robust=True)


def _wake_local_senders() -> None:
    with _local_lock:
        for event in _local_events:
            event.set()


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
