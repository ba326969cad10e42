"""Tickets' gauges for Prometheus (``servidesk_shared.metrics``), read at scrape time.

- ``servidesk_inbound_mail_backlog{state}``: support mail read but not applied: ``held``
  (its sender is not a confirmed user yet) and ``failed`` (could not be parsed or
  applied, in the mailbox's failed folder and not retried);
- ``servidesk_sla_alerts{clock, kind}``: SLA warnings and breaches ``watch_sla`` has
  published, all time (one row each, ``SlaAlert``): a rise is new ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count
from inbound.models import FailedMessage, HeldMessage
from prometheus_client.core import GaugeMetricFamily, Metric

from servidesk_shared.metrics import DomainCollector, service_name
from tickets.models import SlaAlert


class TicketsCollector(DomainCollector):
    name = "tickets"

    def collect_gauges(self) -> Iterable[Metric]:
        backlog = GaugeMetricFamily(
            "servidesk_inbound_mail_backlog",
            "Support mail read and not applied: held for its sender, or failed and not retried.",
            labels=["service", "state"],
        )
        backlog.add_metric([service_name(), "held"], HeldMessage.objects.count())
        backlog.add_metric(
            [service_name(), "failed"],
            FailedMessage.objects.filter(retried_at__isnull=True).count(),
        )
        yield backlog

        counts = {
            (row["clock"], row["kind"]): row["n"]
            for row in SlaAlert.objects.values("clock", "kind").annotate(n=Count("id")).order_by()
        }
        alerts = GaugeMetricFamily(
            "servidesk_sla_alerts",
            "SLA warnings and breaches published, all time, by clock and kind.",
            labels=["service", "clock", "kind"],
        )
        for clock in SlaAlert.Clock.values:
            for kind in SlaAlert.Kind.values:
                alerts.add_metric([service_name(), clock, kind], counts.get((clock, kind), 0))
        yield alerts
