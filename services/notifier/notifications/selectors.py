"""Reads of the notifier. Every query starts from what the caller may see."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Delivery, Notification


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
