"""Every hand-written SQL statement of the notifier, in one place.

The ORM is the notifier's way to read and write, except on the paths that run per event
in the consumer and per batch in the senders, where building the statement with the ORM
cost more CPU than the database took to run it (the figures are in
``docs/benchmarks.md``), and except where the ORM has no way to say it (``UPDATE ...
RETURNING``, ``NOTIFY``). Those statements are here, and only here: the consumer's
inserts (feed, deliveries, mail threads), the senders' claim, their record of what was
sent and their look at when the next delivery falls due, the webhook sender's lease,
claim and outcome, the contact cards both read, and the wake-up. Each is the one
implementation of its guarantee: plain SQL that PostgreSQL and SQLite (``make up``'s
embedded default) both accept; where SQLite needs something else, one function says so
(``_row_lock``, ``notify``). Rows come back as model instances through ``QuerySet.raw()``,
converted as the ORM converts them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from django.db import DatabaseError, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from notifications.models import (
    CARD_FIELDS,
    Contact,
    Delivery,
    DeliveryStatus,
    MailThread,
    Notification,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
)

logger = logging.getLogger(__name__)

#: Fields whose Python value is not what the database driver takes on every backend.
_PREPARED_TYPES = frozenset({"UUIDField", "DateTimeField", "JSONField"})


class ConflictIgnoringInsert:
    """``INSERT INTO <model> (...) VALUES (...), ... ON CONFLICT DO NOTHING``.

    ``fields`` are given per row, in this order; ``literals`` are SQL constants the same
    for every row (``"NULL"``, ``"0"``, ``"''"``). Every concrete field but the
    auto-incremented key must be in one or the other: the tables have no column defaults.
    """

    def __init__(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        literals: Mapping[str, str],
    ) -> None:
        meta = model._meta
        by_name = {f.attname: f for f in meta.concrete_fields if f is not meta.auto_field}
        expected = set(by_name)
        given = [*fields, *literals]
        if sorted(given) != sorted(expected):
            missing, extra = expected - set(given), set(given) - expected
            raise ValueError(f"{meta.label}: missing {sorted(missing)}, unknown {sorted(extra)}")
        self.model = model
        self.fields = [by_name[name] for name in fields]
        self.literal_fields = [by_name[name] for name in literals]
        self.literals = dict(literals)
        self._prepared = [
            index
            for index, field in enumerate(self.fields)
            if field.get_internal_type() in _PREPARED_TYPES
        ]
        self._sql: dict[tuple[str, int], str] = {}

    def sql(self, connection: BaseDatabaseWrapper, rows: int) -> str:
        """The statement for ``rows`` rows (kept: a consumer sees few different counts)."""
        key = (connection.vendor, rows)
        sql = self._sql.get(key)
        if sql is None:
            quote = connection.ops.quote_name
            columns = [quote(f.column) for f in self.fields]
            columns += [quote(f.column) for f in self.literal_fields]
            row = "(" + ", ".join(["%s"] * len(self.fields) + list(self.literals.values())) + ")"
            table = quote(self.model._meta.db_table)
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (names from the model)
                f"VALUES {', '.join([row] * rows)} ON CONFLICT DO NOTHING"
            )
            self._sql[key] = sql
        return sql

    def execute(self, rows: Sequence[Sequence[Any]], *, using: str = "default") -> int:
        """Insert ``rows`` (values in ``fields`` order); how many were new."""
        if not rows:
            return 0
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(self.sql(connection, len(rows)), self._params(rows, connection))
            return int(cursor.rowcount)

    def execute_returning(
        self, rows: Sequence[Sequence[Any]], returning: Sequence[str], *, using: str = "default"
    ) -> list[tuple[Any, ...]]:
        """Insert ``rows``; the ``returning`` columns of those that were new (PostgreSQL and
        SQLite 3.35+ both return only the inserted rows of ``ON CONFLICT DO NOTHING``)."""
        if not rows:
            return []
        connection = connections[using]
        quote = connection.ops.quote_name
        by_name = {f.attname: f for f in self.model._meta.concrete_fields}
        columns = ", ".join(quote(by_name[name].column) for name in returning)
        statement = f"{self.sql(connection, len(rows))} RETURNING {columns}"
        with connection.cursor() as cursor:
            cursor.execute(statement, self._params(rows, connection))
            return [tuple(row) for row in cursor.fetchall()]

    def _params(self, rows: Sequence[Sequence[Any]], connection: BaseDatabaseWrapper) -> list[Any]:
        params: list[Any] = []
        prepared = self._prepared
        for row in rows:
            values = list(row)
            for index in prepared:
                values[index] = self.fields[index].get_db_prep_save(values[index], connection)
            params += values
        return params


# --- the consumer: recording an event ---------------------------------------------------

#: The in-app entries of an event; a redelivered event's rows are skipped.
NOTIFICATIONS: Final = ConflictIgnoringInsert(
    Notification,
    ("recipient_id", "event_id", "event_type", "ticket_id", "title", "body", "created_at"),
    {"read_at": "NULL"},
)
#: The deliveries (queued or skipped) of an event; a redelivered event's rows are skipped.
DELIVERIES: Final = ConflictIgnoringInsert(
    Delivery,
    (
        "event_id",
        "event_type",
        "channel",
        "recipient_id",
        "kind",
        "ticket_id",
        "context",
        "status",
        "last_error",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ),
    {
        "address": "''",
        "attempts": "0",
        "provider_id": "''",
        "provider_status": "''",
        "sent_at": "NULL",
        "allowance_day": "NULL",
    },
)

#: The roots of the mail threads an event's mails would start; a thread already begun
#: (by an earlier event, or another consumer a moment ago) keeps its root.
MAIL_THREADS: Final = ConflictIgnoringInsert(
    MailThread, ("ticket_id", "recipient_id", "root_message_id", "created_at"), {}
)


# --- the senders: claiming, recording what was sent ----------------------------------------


def _row_lock(connection: BaseDatabaseWrapper) -> str:
    """The claim's row lock: SQLite has none (nor needs one: it runs one writer at a time)."""
    return " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update else ""


def claim_due(
    *, channel: str, limit: int, now: datetime, lease_end: datetime, using: str = "default"
) -> list[Delivery]:
    """Take up to ``limit`` due deliveries of ``channel`` (earliest due first) in one
    statement: select, lock (``SKIP LOCKED``: senders share the queue), bump ``attempts``
    and lease them until ``lease_end``; the rows as they are after the claim, by id.

    The ORM's way is three statements in a transaction of their own."""
    connection = connections[using]
    table = connection.ops.quote_name(Delivery._meta.db_table)
    sql = (
        f"WITH due AS MATERIALIZED (SELECT id FROM {table} "  # noqa: S608 (names from the model)
        "WHERE channel = %s AND status = %s AND next_attempt_at <= %s "
        f"ORDER BY next_attempt_at, id LIMIT %s{_row_lock(connection)}) "
        f"UPDATE {table} SET attempts = attempts + 1, next_attempt_at = %s, updated_at = %s "
        "WHERE id IN (SELECT id FROM due) RETURNING *"
    )
    params = [channel, DeliveryStatus.QUEUED.value, now, limit, lease_end, now]
    claimed = list(Delivery.objects.using(using).raw(sql, params))
    claimed.sort(key=lambda delivery: delivery.pk)
    return claimed


def next_due(*, channel: str, using: str = "default") -> datetime | None:
    """When the earliest queued delivery of ``channel`` falls due (claimed ones included).

    Each sender asks after every batch that left it idle; the ORM's query (an aggregate or
    a sliced ``values_list``) cost it more CPU than the claim itself."""
    table = connections[using].ops.quote_name(Delivery._meta.db_table)
    earliest = Delivery.objects.using(using).raw(
        f"SELECT id, next_attempt_at FROM {table} "  # noqa: S608 (names from the model)
        "WHERE channel = %s AND status = %s ORDER BY next_attempt_at LIMIT 1",
        [channel, DeliveryStatus.QUEUED.value],
    )
    for delivery in earliest:
        return delivery.next_attempt_at
    return None


def mark_sent(
    sent: Sequence[tuple[int, int, str, str, str]], *, now: datetime, using: str = "default"
) -> int:
    """Record ``(id, attempts, address, provider_id, provider_status)`` rows as sent, each
    only while its claim holds (``attempts`` unchanged, still queued), in one statement;
    how many were.

    An ``UPDATE ... FROM`` a list of values: the ORM's way to give each row its own
    address and provider id, ``Case``/``When``, costs more CPU to build than sending the
    mails."""
    if not sent:
        return 0
    connection = connections[using]
    table = connection.ops.quote_name(Delivery._meta.db_table)
    # A first row that names (and types) the columns, then a VALUES list.
    outcomes = (
        "SELECT CAST(%s AS BIGINT) AS id, CAST(%s AS INTEGER) AS attempts, "
        "%s AS address, %s AS provider_id, %s AS provider_status"
    )
    if len(sent) > 1:
        outcomes += " UNION ALL VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * (len(sent) - 1))
    sql = (
        f"UPDATE {table} SET status = %s, address = outcome.address, "  # noqa: S608 (names from the model)
        "provider_id = outcome.provider_id, provider_status = outcome.provider_status, "
        f"sent_at = %s, last_error = '', updated_at = %s FROM ({outcomes}) AS outcome "
        f"WHERE {table}.id = outcome.id AND {table}.attempts = outcome.attempts "
        f"AND {table}.status = %s"
    )
    stamp = Delivery._meta.get_field("sent_at").get_db_prep_value(now, connection)
    params: list[Any] = [DeliveryStatus.SENT.value, stamp, stamp]
    for row in sent:
        params += row
    params.append(DeliveryStatus.QUEUED.value)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def contact_cards(user_ids: Collection[str], *, using: str = "default") -> list[Contact]:
    """The contact cards of ``user_ids`` as the senders and recording read them; the
    directory's own bookkeeping (``sequence``, ``updated_at``) is left deferred.

    One plain ``SELECT``: the consumer asks once per event and each sender once per batch,
    and the ORM's query cost more CPU to build than the database took to answer it."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return []
    quote = connections[using].ops.quote_name
    column = {field.attname: field.column for field in Contact._meta.concrete_fields}
    columns = ", ".join(quote(column[name]) for name in ("user_id", *CARD_FIELDS))
    sql = (
        f"SELECT {columns} FROM {quote(Contact._meta.db_table)} "  # noqa: S608 (names from the model)
        f"WHERE {quote('user_id')} IN ({', '.join(['%s'] * len(ids))})"
    )
    return list(Contact.objects.using(using).raw(sql, ids))


# --- the webhook sender: claiming a line's head, recording what came of it ----------------

_QUEUED_WEBHOOK = WebhookDeliveryStatus.QUEUED.value


def _stamp(value: datetime, connection: BaseDatabaseWrapper) -> Any:
    return models.DateTimeField().get_db_prep_value(value, connection)


def _webhook_tables(connection: BaseDatabaseWrapper) -> tuple[str, str]:
    quote = connection.ops.quote_name
    return quote(Webhook._meta.db_table), quote(WebhookDelivery._meta.db_table)


def _line_head(deliveries: str) -> str:
    """The head of endpoint ``w``'s lines: its first due delivery (in the due index's order)
    with no earlier delivery of its ticket still queued (a redelivery waits for none).
    Parameters: the queued status, now, the queued status."""
    return (
        f"SELECT d.id FROM {deliveries} d "  # noqa: S608 (names from the model)
        "WHERE d.webhook_id = w.id AND d.status = %s AND d.next_attempt_at <= %s "
        "AND (d.redelivery_of_id IS NOT NULL OR NOT EXISTS ("
        f"SELECT 1 FROM {deliveries} e WHERE e.webhook_id = d.webhook_id "
        "AND e.aggregate_id = d.aggregate_id AND e.status = %s AND e.redelivery_of_id IS NULL "
        "AND (e.sequence < d.sequence OR (e.sequence = d.sequence AND e.id < d.id)))) "
        "ORDER BY d.next_attempt_at LIMIT 1"
    )


def webhook_lease_due(
    *,
    now: datetime,
    lease_end: datetime,
    limit: int,
    exclude: Collection[int] = (),
    using: str = "default",
) -> list[Webhook]:
    """Lease until ``lease_end`` up to ``limit`` active endpoints, none of ``exclude``, not
    leased and with a delivery due (those due longest first), in one statement: picked and
    locked ``SKIP LOCKED`` (senders share them); the endpoints as they are after it."""
    connection = connections[using]
    hooks, deliveries = _webhook_tables(connection)
    at = _stamp(now, connection)
    excluded = list(exclude)
    not_in = f"AND w.id NOT IN ({', '.join(['%s'] * len(excluded))}) " if excluded else ""
    due = (
        f"FROM {deliveries} d WHERE d.webhook_id = w.id "
        "AND d.status = %s AND d.next_attempt_at <= %s"
    )
    sql = (
        f"WITH pick AS MATERIALIZED (SELECT w.id FROM {hooks} w "  # noqa: S608 (names from the model)
        f"WHERE w.active AND (w.leased_until IS NULL OR w.leased_until <= %s) {not_in}"
        f"AND EXISTS (SELECT 1 {due}) "
        f"ORDER BY (SELECT d.next_attempt_at {due} ORDER BY d.next_attempt_at LIMIT 1), w.id "
        f"LIMIT %s{_row_lock(connection)}) "
        f"UPDATE {hooks} SET leased_until = %s WHERE id IN (SELECT id FROM pick) RETURNING *"
    )
    params: list[Any] = [at, *excluded, _QUEUED_WEBHOOK, at, _QUEUED_WEBHOOK, at, limit]
    params.append(_stamp(lease_end, connection))
    return list(Webhook.objects.using(using).raw(sql, params))


def webhook_claim_heads(
    *, webhook_ids: Collection[int], now: datetime, lease_end: datetime, using: str = "default"
) -> list[WebhookDelivery]:
    """Claim the head of each of ``webhook_ids``' lines (endpoints the caller leased), in
    one statement: ``attempts`` bumped (the claim's fencing token), due again only at
    ``lease_end``; the deliveries as they are after it. An endpoint whose every due
    delivery waits behind an earlier one of its ticket has none."""
    ids = list(webhook_ids)
    if not ids:
        return []
    connection = connections[using]
    hooks, deliveries = _webhook_tables(connection)
    at = _stamp(now, connection)
    sql = (
        f"UPDATE {deliveries} SET attempts = attempts + 1, next_attempt_at = %s, "  # noqa: S608 (names from the model)
        f"updated_at = %s WHERE id IN (SELECT ({_line_head(deliveries)}) FROM {hooks} w "
        f"WHERE w.id IN ({', '.join(['%s'] * len(ids))})) RETURNING *"
    )
    params = [_stamp(lease_end, connection), at, _QUEUED_WEBHOOK, at, _QUEUED_WEBHOOK, *ids]
    return list(WebhookDelivery.objects.using(using).raw(sql, params))


def webhook_release(
    *, webhook_ids: Collection[int], lease_end: datetime, using: str = "default"
) -> None:
    """End the leases (until ``lease_end``: the caller's own) of ``webhook_ids``."""
    ids = list(webhook_ids)
    if not ids:
        return
    connection = connections[using]
    hooks, _ = _webhook_tables(connection)
    sql = (
        f"UPDATE {hooks} SET leased_until = NULL "  # noqa: S608 (names from the model)
        f"WHERE leased_until = %s AND id IN ({', '.join(['%s'] * len(ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_stamp(lease_end, connection), *ids])


def webhook_endpoint_outcome(
    *,
    delivery: WebhookDelivery,
    ok: bool,
    now: datetime,
    disable_before: datetime,
    disabled_reason: str,
    keep_until: datetime | None,
    using: str = "default",
) -> Webhook | None:
    """The endpoint's side of one request's outcome, in one statement, while ``delivery``'s
    claim holds (else None: a newer claim owns the endpoint): a success ends its failures,
    a failure starts them (``failing_since``) and, when they began at ``disable_before``
    or earlier, switches the endpoint off (``disabled_at`` = ``now``). Its lease ends, or,
    with ``keep_until`` and the endpoint still active, runs on until then (the caller
    claims its next delivery under it). The endpoint as it is after it."""
    connection = connections[using]
    hooks, deliveries = _webhook_tables(connection)
    at = _stamp(now, connection)
    switch_off = "(NOT %s AND active AND COALESCE(failing_since, %s) <= %s)"
    off = [ok, at, _stamp(disable_before, connection)]
    # A timestamp either way: a bare NULL parameter would give the CASE no type.
    keep = _stamp(keep_until or now, connection)
    sql = (
        f"UPDATE {hooks} SET "  # noqa: S608 (names from the model)
        "leased_until = CASE WHEN %s AND active THEN %s ELSE NULL END, "
        "failing_since = CASE WHEN %s THEN NULL ELSE COALESCE(failing_since, %s) END, "
        f"disabled_at = CASE WHEN {switch_off} THEN %s ELSE disabled_at END, "
        f"disabled_reason = CASE WHEN {switch_off} THEN %s ELSE disabled_reason END, "
        f"updated_at = CASE WHEN {switch_off} THEN %s ELSE updated_at END, "
        f"active = CASE WHEN {switch_off} THEN FALSE ELSE active END "
        f"WHERE id = %s AND EXISTS (SELECT 1 FROM {deliveries} d "
        "WHERE d.id = %s AND d.attempts = %s AND d.status = %s) RETURNING *"
    )
    params: list[Any] = [keep_until is not None, keep, ok, at]
    params += [*off, at, *off, disabled_reason, *off, at, *off]
    params += [delivery.webhook_id, delivery.pk, delivery.attempts, _QUEUED_WEBHOOK]
    for hook in Webhook.objects.using(using).raw(sql, params):
        return hook
    return None


def webhook_delivery_outcome(
    *, delivery: WebhookDelivery, fields: Mapping[str, Any], using: str = "default"
) -> bool:
    """Write ``fields`` to ``delivery`` while its claim holds (``attempts`` unchanged, still
    queued); whether it did."""
    connection = connections[using]
    _, deliveries = _webhook_tables(connection)
    quote = connection.ops.quote_name
    assignments, params = [], []
    by_name = {field.attname: field for field in WebhookDelivery._meta.concrete_fields}
    for name, value in fields.items():
        field = by_name[name]
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    sql = (
        f"UPDATE {deliveries} SET {', '.join(assignments)} "  # noqa: S608 (names from the model)
        "WHERE id = %s AND attempts = %s AND status = %s"
    )
    params += [delivery.pk, delivery.attempts, _QUEUED_WEBHOOK]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.rowcount)


# --- waking the senders --------------------------------------------------------------------


def notify_at_commit(channel: str, *, using: str = "default") -> None:
    """PostgreSQL ``NOTIFY`` on ``channel`` from inside the caller's transaction: PostgreSQL
    delivers it only if the transaction commits, and folds the identical notifications of
    one transaction into one. Nothing elsewhere (SQLite has no NOTIFY)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, '')", [channel])


def notify(channel: str, *, using: str = "default") -> None:
    """PostgreSQL ``NOTIFY`` on ``channel``; nothing elsewhere (SQLite has no NOTIFY: its
    senders poll). A failure is logged, not raised: the poll picks the rows up anyway."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [channel])
    except DatabaseError as exc:
        logger.warning("cannot notify the senders: %s", exc)
