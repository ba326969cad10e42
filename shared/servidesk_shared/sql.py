"""The raw SQL of the shared package's event bus, waiter and user directory, in one place
(the outbox migrations keep their own DDL).

The event bus's hot statements are upserts whose result the caller needs at once
(``INSERT ... ON CONFLICT ... RETURNING``), which the ORM cannot express in one round
trip; the user directory's lookup runs on every request, where the ORM's per-call cost
shows; the rest are PostgreSQL commands with no ORM counterpart (``LISTEN``,
``SET``). Each statement runs on PostgreSQL and, unless its docstring says otherwise, on
SQLite 3.35+ (``make up``'s embedded default) unchanged. Table and column names come from
the models the callers pass (this module imports none: services without the outbox app
use it too), values are always parameters.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

#: What ``LISTEN`` accepts here: a plain identifier (it cannot be a parameter).
CHANNEL = re.compile(r"[a-z_][a-z0-9_]*")


def _table(connection: BaseDatabaseWrapper, model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _db_value(model: type[Model], name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
    """``value`` as the backend stores it (SQLite keeps UUIDs as hex text, for one)."""
    field = cast("Field[Any, Any]", model._meta.get_field(name))
    return field.get_db_prep_value(value, connection)


# --- producer side ----------------------------------------------------------------------


def next_sequence(
    connection: BaseDatabaseWrapper, model: type[Model], aggregate_type: str, aggregate_id: str
) -> int:
    """The next sequence number of an aggregate in ``model`` (``AggregateSequence``).

    The upsert keeps the counter row locked until the caller's transaction ends, so two
    transactions changing the same aggregate get their numbers in commit order.
    """
    table = _table(connection, model)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (aggregate_type, aggregate_id, last_sequence) "  # noqa: S608 (table name from the model)
            "VALUES (%s, %s, 1) "
            "ON CONFLICT (aggregate_type, aggregate_id) "
            f"DO UPDATE SET last_sequence = {table}.last_sequence + 1 "
            "RETURNING last_sequence",
            [aggregate_type, aggregate_id],
        )
        row = cursor.fetchone()
    assert row is not None  # noqa: S101 (an upsert with RETURNING always returns the row)
    return int(row[0])


def insert_outbox(
    connection: BaseDatabaseWrapper,
    model: type[Model],
    *,
    event_id: uuid.UUID,
    event_type: str,
    aggregate_id: str,
    sequence: int,
    envelope: str,
    created_at: datetime,
) -> None:
    """One row of ``model`` (``OutboxMessage``); ``envelope`` is the JSON text, stored as the
    relay will send it."""
    table = _table(connection, model)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} "  # noqa: S608 (table name from the model)
            "(event_id, event_type, aggregate_id, sequence, envelope, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [
                _db_value(model, "event_id", event_id, connection),
                event_type,
                aggregate_id,
                sequence,
                envelope,
                _db_value(model, "created_at", created_at, connection),
            ],
        )


# --- consumer side ----------------------------------------------------------------------


def remember_events(
    connection: BaseDatabaseWrapper,
    model: type[Model],
    events: Sequence[tuple[uuid.UUID, str]],
    *,
    queue: str,
    processed_at: datetime,
) -> set[uuid.UUID]:
    """Insert ``(event_id, event_type)`` pairs into ``model`` (``InboxEntry``); the new ids.

    ``ON CONFLICT DO NOTHING``: a concurrent consumer inserting the same id makes this
    wait for its commit and then skip the row.
    """
    table = _table(connection, model)
    at = _db_value(model, "processed_at", processed_at, connection)
    params: list[Any] = []
    for event_id, event_type in events:
        params += [_db_value(model, "event_id", event_id, connection), event_type, queue, at]
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(events))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (event_id, event_type, queue, processed_at) "  # noqa: S608 (table name from the model)
            f"VALUES {rows} ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            params,
        )
        # PostgreSQL returns UUIDs, SQLite their hex text.
        return {uuid.UUID(str(value)) for (value,) in cursor.fetchall()}


def advance_projection(
    connection: BaseDatabaseWrapper,
    model: type[Model],
    aggregate_type: str,
    aggregate_id: str,
    sequence: int,
) -> bool:
    """Record ``sequence`` as the newest applied for the aggregate in ``model``
    (``ProjectionVersion``); ``False`` when it is not newer.

    The update only happens for a higher sequence, and the row lock it takes lasts until
    the transaction ends, so concurrent consumers serialise on the aggregate.
    """
    table = _table(connection, model)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (aggregate_type, aggregate_id, sequence) "  # noqa: S608 (table name from the model)
            "VALUES (%s, %s, %s) "
            "ON CONFLICT (aggregate_type, aggregate_id) "
            "DO UPDATE SET sequence = EXCLUDED.sequence "
            f"WHERE {table}.sequence < EXCLUDED.sequence "
            "RETURNING sequence",
            [aggregate_type, aggregate_id, sequence],
        )
        return cursor.fetchone() is not None


# --- authentication ---------------------------------------------------------------------


def select_by_key(
    connection: BaseDatabaseWrapper,
    model: type[Model],
    *,
    key: Field[Any, Any],
    columns: Sequence[Field[Any, Any]],
) -> str:
    """``SELECT columns FROM model WHERE key = %s``, for ``fetch_row``.

    For lookups on every request (the user directory): the ORM would build and compile
    the same query on each call, which costs several times what the database spends.
    """
    quote = connection.ops.quote_name
    selected = ", ".join(quote(field.column) for field in columns)
    return (
        f"SELECT {selected} FROM {_table(connection, model)} "  # noqa: S608 (names from the model)
        f"WHERE {quote(key.column)} = %s"
    )


def fetch_row(
    connection: BaseDatabaseWrapper, statement: str, params: Sequence[Any]
) -> tuple[Any, ...] | None:
    """The first row ``statement`` returns, or ``None``."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    return None if row is None else tuple(row)


# --- PostgreSQL only --------------------------------------------------------------------


def listen(connection: BaseDatabaseWrapper, channel: str) -> None:
    """PostgreSQL: ``LISTEN channel`` on ``connection`` (an identifier, not a parameter)."""
    if not CHANNEL.fullmatch(channel):
        raise ValueError(f"not a plain channel name: {channel!r}")
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {channel}")


def skip_commit_flush(connection: BaseDatabaseWrapper) -> None:
    """PostgreSQL: the current transaction's commit returns before the disk flush.

    ``SET LOCAL``: it ends with the transaction, so it never stays on a connection that
    goes back to the pool (or, behind a transaction pooler, on a server session that
    another client gets next). Call it inside the transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
