"""The embedded broker: kombu's stock ``sqlalchemy`` transport on a SQLite file.

It lets ``make up`` run without RabbitMQ. It is for trying Servidesk out, not for
production: a consumer killed while holding unacknowledged messages loses them (kombu
marks a message invisible when it hands it out and keeps the delivery in memory), there
is no native dead-lettering (the consumer dead-letters explicitly, see
``deadletters.py``), and delivered messages stay in the file, marked invisible: delete
``broker.sqlite3`` while nothing runs to reclaim the space.

SQLite serialises the processes: a consumer claims a message inside ``BEGIN IMMEDIATE``,
so each is handed to one consumer only, and a writer never leaves a half-written one.

Exchanges and bindings live in the memory of each connection, not in the file: a
message is routed by the bindings its publisher declared. Every publisher therefore
declares the whole topology first (``Topology.declare``: every queue and binding of
the contract), which the relay and the consumer's dead-letter connection do.
"""

from __future__ import annotations

import fcntl
import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

from kombu import Connection
from kombu.transport import sqlalchemy

from servidesk_shared.events.conf import event_settings

FILE_NAME = "broker.sqlite3"
#: Seconds a process waits for another's write lock on the file before giving up.
LOCK_TIMEOUT = 30.0


class Transport(sqlalchemy.Transport):  # type: ignore[misc]  # kombu is untyped
    """kombu's transport, polling at the configured interval.

    ``polling_interval`` cannot be a transport option here: the sqlalchemy transport
    hands every option to ``create_engine``, which refuses unknown ones.
    """

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.polling_interval = event_settings().embedded_poll


def connection(folder: Path) -> Connection:
    """A new, not yet connected ``Connection`` to the broker kept in ``folder``."""
    path = prepare(folder)
    return Connection(
        f"sqlite:///{path}",
        transport=Transport,
        transport_options={"connect_args": {"timeout": LOCK_TIMEOUT}},
    )


@cache
def prepare(folder: Path) -> Path:
    """Create the broker's file once per process, under a lock shared by every process.

    kombu creates its tables on a process's first connection and two processes doing so
    at once would collide; so the first of them creates them here while the others wait.
    Write-ahead logging lets consumers poll while a relay writes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILE_NAME
    with open(folder / f".{FILE_NAME}.lock", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # released when the file closes
        database = sqlite3.connect(path, timeout=LOCK_TIMEOUT)
        try:
            database.execute("PRAGMA journal_mode=WAL")  # kept in the file
        finally:
            database.close()
        with Connection(f"sqlite:///{path}", transport=Transport, transport_options={}) as conn:
            # Declaring a queue makes kombu create its tables; this one holds nothing.
            conn.default_channel.queue_declare(queue="servidesk.embedded.ready")
    return path
