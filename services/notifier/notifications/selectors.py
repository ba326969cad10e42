"""Reads of the notifier. Every query starts from what the caller may see."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from django.db import connections
from django.db.models import QuerySet

from notifications.models import Contact, Delivery, Notification


def notification_list(*, user_id: object, unread: bool | None = None) -> QuerySet[Notification]:
    """The caller's own feed, newest first; ``unread`` keeps only unread (or only read)."""
    queryset = Notification.objects.filter(recipient_id=str(user_id))
    if unread is not None:
        queryset = queryset.filter(read_at__isnull=unread)
    return queryset.order_by("-created_at", "-id")


def notification_unread_count(*, user_id: object) -> int:
    return Notification.objects.filter(recipient_id=str(user_id), read_at__isnull=True).count()


def delivery_list() -> QuerySet[Delivery]:
    """The whole delivery log (admins only: the view checks the role), newest first."""
    return Delivery.objects.order_by("-created_at", "-id")


#: What recording needs of a contact card (in the model's field order: ``from_db`` wants it).
_CARD_FIELDS: Final = (
    "user_id",
    "email",
    "phone",
    "role",
    "language",
    "notify_email",
    "notify_sms",
    "is_active",
)
_BOOLEANS: Final = frozenset({"notify_email", "notify_sms", "is_active"})


def contacts_by_id(user_ids: Collection[str], *, using: str = "default") -> dict[str, Contact]:
    """The known contact cards of ``user_ids``, by id, with only the fields recording reads
    (the others load on access). One plain ``SELECT``: ``in_bulk`` cost the consumer more
    CPU to build than the database took to answer it, once per event."""
    if not user_ids:
        return {}
    ids = list(dict.fromkeys(user_ids))
    connection = connections[using]
    quote = connection.ops.quote_name
    meta = Contact._meta
    by_name = {f.attname: f.column for f in meta.concrete_fields}
    columns = ", ".join(quote(by_name[name]) for name in _CARD_FIELDS)
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        f"SELECT {columns} FROM {quote(meta.db_table)} "  # noqa: S608 (names from the model)
        f"WHERE {quote(by_name['user_id'])} IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        rows = cursor.fetchall()
    cards = {}
    for row in rows:
        # SQLite answers 0/1 for booleans: the ORM's converters are not applied here.
        values = [
            bool(v) if name in _BOOLEANS else v for name, v in zip(_CARD_FIELDS, row, strict=True)
        ]
        cards[str(row[0])] = Contact.from_db(using, list(_CARD_FIELDS), values)
    return cards
