"""Reads of the notifier. Every query starts from what the caller may see."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Final

from django.db.models import Count, QuerySet

from notifications import sql
from notifications.models import Contact, Delivery, MailThread, Notification, Team
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


def unread_counts(user_ids: Collection[str]) -> dict[str, int]:
    """Each of ``user_ids``' unread entries (one query on the unread index); absent: 0."""
    rows = (
        Notification.objects.filter(recipient_id__in=set(user_ids), read_at__isnull=True)
        .values("recipient_id")
        .annotate(count=Count("id"))
        .values_list("recipient_id", "count")
    )
    return {str(recipient): int(count) for recipient, count in rows}


def delivery_list() -> QuerySet[Delivery]:
    """The whole delivery log (admins only: the view checks the role), newest first."""
    return Delivery.objects.order_by("-created_at", "-id")


def delivery_next_due(*, channel: str) -> datetime | None:
    """When the earliest queued delivery of ``channel`` falls due (claimed ones included)."""
    return sql.next_due(channel=channel)


def contacts_by_id(user_ids: Collection[str]) -> dict[str, Contact]:
    """The known contact cards of ``user_ids``, by id (``in_bulk``, in plain SQL: ``sql``)."""
    return {contact.pk: contact for contact in sql.contact_cards(user_ids)}


def mail_thread_roots(*, ticket_id: str, recipient_ids: Collection[str]) -> dict[str, str]:
    """The root Message-ID of each recipient's mail thread about ``ticket_id``, by id."""
    rows = MailThread.objects.filter(ticket_id=ticket_id, recipient_id__in=recipient_ids)
    return dict(rows.values_list("recipient_id", "root_message_id"))


def team_working(team_id: str | None) -> Team | None:
    """The team ``team_id`` as the directory knows it, unless unknown or deleted."""
    if team_id is None:
        return None
    return Team.objects.filter(pk=team_id, deleted=False).first()


def delivery_get(*, delivery_id: int) -> Delivery | None:
    """One delivery of the log, by id (admins only: the view checks the role)."""
    return Delivery.objects.filter(pk=delivery_id).first()
