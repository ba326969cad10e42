"""The one way a worker sleeps until there is work: a PostgreSQL NOTIFY, a nudge, or a timeout.

``make_waiter`` is the only place that knows about the database vendor. On PostgreSQL it
returns a ``NotifyWaiter``, which LISTENs on a channel over a connection of its own
(``direct_connection``: never one of the pool's, never through a transaction pooler; the
worker's Django connection goes back to the pool or is reopened as the worker sees fit,
which would drop the LISTEN or hand it to other code). Elsewhere (SQLite, ``make up``'s
embedded default, which has no NOTIFY) it returns a ``PollingWaiter``, which only sleeps.

What every waiter guarantees, on every vendor:

- ``wait(timeout)`` returns within ``timeout`` seconds (plus the time to open a
  connection), so the caller's poll interval alone guarantees progress: a lost
  notification only costs latency.
- It returns early when the in-process ``wakeup`` event is set (within ``SLICE`` seconds
  on PostgreSQL) and, on PostgreSQL, at the first NOTIFY on ``channel``; the event is
  cleared on return.
- A database that is away is never an error here: the waiter falls back to sleeping on
  the event, logs once per outage, and LISTENs again on a later slice.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend

from servidesk_shared import sql
from servidesk_shared.settings import DIRECT_KEY, env

logger = logging.getLogger(__name__)


def direct_connection(using: str = "default") -> BaseDatabaseWrapper:
    """A Django connection to ``using``'s database of its own: outside the alias's pool, and
    at the entry's direct address (``DIRECT_KEY``) when it names one (behind a transaction
    pooler, a session's LISTEN must reach the server itself).

    For a connection that keeps session state: close it when done; it is never pooled.
    """
    entry = copy.deepcopy(connections[using].settings_dict)
    entry["OPTIONS"].pop("pool", None)
    entry["CONN_MAX_AGE"] = 0
    direct = entry.pop(DIRECT_KEY, "")
    if direct:
        address = env.db_url_config(direct)
        for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT"):
            entry[key] = address.get(key, "")
        entry["OPTIONS"].update(address.get("OPTIONS", {}))
    backend = load_backend(entry["ENGINE"])
    wrapper: BaseDatabaseWrapper = backend.DatabaseWrapper(entry, using)
    return wrapper


class PollingWaiter:
    """Sleeps until ``wakeup`` is set or the timeout (at most ``max_sleep``) passes."""

    def __init__(
        self,
        wakeup: threading.Event,
        *,
        max_sleep: float | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.wakeup = wakeup
        self.max_sleep = max_sleep
        self.on_close = on_close

    def wait(self, timeout: float) -> None:
        if self.max_sleep is not None:
            timeout = min(timeout, self.max_sleep)
        self.wakeup.wait(max(0.0, timeout))
        self.wakeup.clear()

    def close(self) -> None:
        if self.on_close is not None:
            self.on_close()


class NotifyWaiter(PollingWaiter):
    """Sleeps until a NOTIFY on ``channel`` from any process, ``wakeup``, or the timeout."""

    #: Seconds between looks at ``wakeup`` (a nudge from this process, or a stop).
    SLICE = 0.25

    def __init__(
        self,
        wakeup: threading.Event,
        *,
        channel: str,
        using: str = "default",
        name: str = "worker",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        if not sql.CHANNEL.fullmatch(channel):
            raise ValueError(f"not a plain channel name: {channel!r}")
        super().__init__(wakeup, on_close=on_close)
        self.channel, self.using, self.name = channel, using, name
        self.listener: Any = None
        self.failing = False

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0 and not self.wakeup.is_set():
            if self._notified(min(left, self.SLICE)):
                break
        self.wakeup.clear()

    def _notified(self, timeout: float) -> bool:
        try:
            if self.listener is None:
                self.listener = direct_connection(self.using)
                self.listener.set_autocommit(True)
                sql.listen(self.listener, self.channel)
            # Returns at the first notification; those that piled up while the worker was
            # busy come out at once, costing one empty round, never a missed row.
            notified = any(
                True for _ in self.listener.connection.notifies(timeout=timeout, stop_after=1)
            )
        except Exception as exc:  # Django's or psycopg's errors when the database is away
            if not self.failing:
                logger.warning("%s: LISTEN %s failed (%s); polling", self.name, self.channel, exc)
            self.failing = True
            self._close_listener()
            self.wakeup.wait(timeout)
            return False
        self.failing = False
        return notified

    def _close_listener(self) -> None:
        if self.listener is not None:
            # Closing a connection that already died may raise; there is nothing to do.
            with contextlib.suppress(Exception):
                self.listener.close()
            self.listener = None

    def close(self) -> None:
        self._close_listener()
        super().close()


def make_waiter(
    *,
    channel: str,
    wakeup: threading.Event,
    using: str = "default",
    name: str = "worker",
    polling_max_sleep: float | None = None,
    on_close: Callable[[], None] | None = None,
) -> PollingWaiter:
    """A ``NotifyWaiter`` on PostgreSQL, else a ``PollingWaiter`` (the vendor edge).

    ``polling_max_sleep`` bounds each sleep where there is no NOTIFY, for workers whose
    poll interval is too long to wait for work on a local file.
    """
    if connections[using].vendor == "postgresql":
        return NotifyWaiter(wakeup, channel=channel, using=using, name=name, on_close=on_close)
    return PollingWaiter(wakeup, max_sleep=polling_max_sleep, on_close=on_close)
