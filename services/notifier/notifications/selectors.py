"""Reads of the notifier. Every query starts from what the caller may see."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from django.db import connections
from django.db.models import QuerySet

from notifications.models import CARD_FIELDS, Contact, Delivery, Notification
from notifications.rawsql import RowReader
from servidesk_shared.auth import UserDirectory


def notification_list(*, user_id: object, unread: bool | None = None) -> QuerySet[Notification]:
    """The caller's own feed, newest first; ``unread`` keeps only unread (or only read)."""
    queryset = Notification.objects.filter(recipient_id=str(user_id))
    if unread is not None:
        queryset = queryset.filter(read_at__isnull=unread)
    return queryset.order_by("-created_at", "-id")


def notification_unread_count(*, user_id: object) -> int:
    return Notification.objects.filter(recipient_id=str(user_id), read_at__isnull=True).count()


#: ``directory_entry(user_id=...)``: ``(is_active, role)`` of a user's contact card, or
#: ``None``. ``SERVIDESK_USER_DIRECTORY`` names it: every request's caller is checked here.
directory_entry: Final = UserDirectory(Contact, key="user_id")


def delivery_list() -> QuerySet[Delivery]:
    """The whole delivery log (admins only: the view checks the role), newest first."""
    return Delivery.objects.order_by("-created_at", "-id")


#: A contact card as the senders and recording read it; the directory's own bookkeeping
#: (``sequence``, ``updated_at``) is left deferred.
_CARDS: Final = RowReader(Contact, ("user_id", *CARD_FIELDS))


def contacts_by_id(user_ids: Collection[str], *, using: str = "default") -> dict[str, Contact]:
    """The known contact cards of ``user_ids``, by id: ``in_bulk`` in one plain ``SELECT``
    (the ORM's cost more CPU to build than the database took to answer it, and the
    consumer asks once per event)."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    connection = connections[using]
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {_CARDS.columns(connection)} FROM {quote(Contact._meta.db_table)} "  # noqa: S608 (names from the model)
        f"WHERE {quote('user_id')} IN ({', '.join(['%s'] * len(ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        rows = cursor.fetchall()
    return {contact.pk: contact for contact in _CARDS.read(rows, using=using)}
