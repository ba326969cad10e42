"""Reads of webhooks."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Min, OuterRef, QuerySet, Subquery

from notifications.models import Webhook, WebhookDelivery, WebhookDeliveryStatus


def webhook_list() -> QuerySet[Webhook]:
    return Webhook.objects.all()


def webhook_get(webhook_id: int) -> Webhook | None:
    return Webhook.objects.filter(pk=webhook_id).first()


def delivery_list(*, webhook_id: int) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook_id=webhook_id)


def delivery_get(*, webhook_id: int, delivery_id: int) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(webhook_id=webhook_id, pk=delivery_id).first()


def next_due(*, after: datetime) -> datetime | None:
    """When the next queued delivery of an active endpoint falls due, after ``after``.

    Those due already are not counted: a sender that just claimed found them waiting
    behind an earlier delivery of their ticket, or their endpoint busy; what frees them
    (an outcome recorded) wakes it, so they must not make it spin."""
    # Endpoint by endpoint, so each is one step into its due index; one minimum over all
    # queued deliveries read every one of them not yet due (a failing endpoint's lines).
    first = WebhookDelivery.objects.filter(
        webhook_id=OuterRef("pk"), status=WebhookDeliveryStatus.QUEUED, next_attempt_at__gt=after
    ).order_by("next_attempt_at")
    found: datetime | None = (
        Webhook.objects.filter(active=True)
        .annotate(due=Subquery(first.values("next_attempt_at")[:1]))
        .aggregate(next_due=Min("due"))["next_due"]
    )
    return found
