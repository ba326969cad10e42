"""Notifier's gauges for Prometheus (``servidesk_shared.metrics``), read at scrape time.

- ``servidesk_notification_deliveries{channel, status}``: email and SMS deliveries
  ``queued`` (due or waiting for a retry: the senders' backlog) and ``failed`` (given up
  on, all time: a rise is new failures);
- ``servidesk_webhook_deliveries{status}``: the same for webhook deliveries.

Two grouped counts, each over the status it asks for: ``queued`` rows are read through
the partial "due" indexes, ``failed`` ones are the few the senders gave up on.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from servidesk_shared.metrics import DomainCollector, service_name

#: The statuses an operator watches: the backlog and the give-ups.
WATCHED = (DeliveryStatus.QUEUED, DeliveryStatus.FAILED)
WEBHOOK_WATCHED = (WebhookDeliveryStatus.QUEUED, WebhookDeliveryStatus.FAILED)


class NotifierCollector(DomainCollector):
    name = "notifier"

    def collect_gauges(self) -> Iterable[Metric]:
        counts = {
            (row["channel"], row["status"]): row["n"]
            for row in Delivery.objects.filter(status__in=WATCHED)
            .values("channel", "status")
            .annotate(n=Count("id"))
            .order_by()
        }
        deliveries = GaugeMetricFamily(
            "servidesk_notification_deliveries",
            "Email and SMS deliveries queued (the senders' backlog) or failed (all time).",
            labels=["service", "channel", "status"],
        )
        for channel in Channel.values:
            for status in WATCHED:
                deliveries.add_metric(
                    [service_name(), channel, status], counts.get((channel, status), 0)
                )
        yield deliveries

        webhook_counts = dict(
            WebhookDelivery.objects.filter(status__in=WEBHOOK_WATCHED)
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by()
        )
        webhooks = GaugeMetricFamily(
            "servidesk_webhook_deliveries",
            "Webhook deliveries queued (the sender's backlog) or failed (all time).",
            labels=["service", "status"],
        )
        for webhook_status in WEBHOOK_WATCHED:
            webhooks.add_metric(
                [service_name(), webhook_status], webhook_counts.get(webhook_status, 0)
            )
        yield webhooks
