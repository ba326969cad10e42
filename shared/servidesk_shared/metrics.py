"""Prometheus metrics at ``/<prefix>metrics`` on each service's own port (never the gateway).

What a scrape shows:

- requests, by view, method and status, and their latencies (``django_http_*``, from
  ``django_prometheus``'s middleware pair, first and last in the shared stack,
  ``servidesk_shared.settings.defaults.MIDDLEWARE``);
- database work: queries and their time (``django_db_*``), from ``django_prometheus``'s
  database backends, which ``servidesk_shared.settings.service.metered_database`` puts
  in place of Django's own;
- the gauges an operator scales on, computed when scraped by cheap queries: the outbox
  (``OutboxCollector``), the service's event queue and its dead letters, asked of the
  broker (``BrokerCollector``), and each service's own (``SERVIDESK_METRICS_COLLECTORS``,
  e.g. ``notifications.monitoring.NotifierCollector``).

gunicorn runs several worker processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (the
gunicorn configs do, and empty it when the server starts) each worker writes its counts
to files there and any one of them answers the scrape with the sum of all
(``prometheus_client``'s multiprocess mode); a recycled worker's files are folded into
an archive (``servidesk_shared.metrics_files``). Without it (``runserver``, tests) the
process's own counts are shown.

A domain gauge that cannot be computed (database or broker away) is left out of the
scrape, and ``servidesk_metrics_collector_up{collector=...}`` says 0: the scrape itself
never fails for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

#: Seconds the broker may take to answer a scrape's questions before it counts as away.
BROKER_TIMEOUT: Final = 2.0


class DomainCollector:
    """Gauges read at scrape time; ``collect_gauges`` does the work.

    ``exposition`` calls ``gather``: a failure leaves this collector's gauges out and
    reports it in ``servidesk_metrics_collector_up``, never as an error of the scrape.
    """

    name = "domain"

    def collect_gauges(self) -> Iterable[Metric]:
        raise NotImplementedError

    def gather(self) -> list[Metric] | None:
        """The gauges, or ``None`` when they could not be read."""
        try:
            return list(self.collect_gauges())
        except Exception:
            logger.warning("metrics: the %s collector failed", self.name, exc_info=True)
            return None


def service_name() -> str:
    return str(getattr(settings, "SERVICE_NAME", ""))


def gauge(name: str, documentation: str, labels: dict[str, str], value: float) -> Metric:
    """One gauge with one sample, labelled with the service and ``labels``."""
    family = GaugeMetricFamily(name, documentation, labels=["service", *labels])
    family.add_metric([service_name(), *labels.values()], value)
    return family


class OutboxCollector(DomainCollector):
    """Events committed but not yet published, and how long the oldest has waited.

    Both read the outbox's partial index of unsent rows (``outbox_unsent``).
    """

    name = "outbox"

    def collect_gauges(self) -> Iterable[Metric]:
        from servidesk_shared.outbox.models import OutboxMessage  # noqa: PLC0415 (app loaded)

        unsent = OutboxMessage.objects.filter(sent_at__isnull=True)
        pending = unsent.count()
        oldest = unsent.order_by("id").values_list("created_at", flat=True).first()
        age = max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0
        yield gauge(
            "servidesk_outbox_pending_events",
            "Outbox rows committed and not yet published to the broker.",
            {},
            pending,
        )
        yield gauge(
            "servidesk_outbox_oldest_pending_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none waits).",
            {},
            age,
        )


class BrokerCollector(DomainCollector):
    """The service's event queue: messages waiting (consumer lag), consumers, dead letters.

    A passive declare per queue (it creates nothing), on a connection that must answer
    within ``BROKER_TIMEOUT``. ``servidesk_broker_up`` says whether the broker answered.
    """

    name = "broker"

    def gather(self) -> list[Metric] | None:
        try:
            samples, up = list(self.collect_gauges()), 1.0
        except Exception as exc:  # any transport error: the broker did not answer
            logger.info("metrics: the broker did not answer (%s)", type(exc).__name__)
            samples, up = [], 0.0
        return [
            *samples,
            gauge(
                "servidesk_broker_up",
                "1 when the broker answered this scrape's questions about the queue, else 0.",
                {},
                up,
            ),
        ]

    def collect_gauges(self) -> Iterable[Metric]:
        from servidesk_shared.events.broker import connection  # noqa: PLC0415 (optional)
        from servidesk_shared.events.conf import event_settings  # noqa: PLC0415
        from servidesk_shared.events.topology import Topology  # noqa: PLC0415

        config = event_settings()
        topology = Topology(config.prefix)
        queue = topology.queue_name(config.queue)
        dead = f"{queue}.dlq"
        with connection() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
            ready, consumers = queue_counts(conn, queue)
            dead_ready, _ = queue_counts(conn, dead)
        labels = {"queue": config.queue}
        yield gauge(
            "servidesk_queue_messages_ready",
            "Messages waiting in the service's event queue: its consumers' lag.",
            labels,
            ready,
        )
        yield gauge(
            "servidesk_queue_consumers", "Consumers attached to the event queue.", labels, consumers
        )
        yield gauge(
            "servidesk_queue_dead_letters",
            "Messages in the queue's dead-letter queue (<queue>.dlq), waiting for an operator.",
            labels,
            dead_ready,
        )


def queue_counts(conn: Any, queue: str) -> tuple[int, int]:
    """(messages ready, consumers) of ``queue``; (0, 0) when it does not exist (yet)."""
    channel = conn.channel()
    try:
        _name, messages, consumers = channel.queue_declare(queue=queue, passive=True)
    except conn.channel_errors:  # 404: nothing declared it yet, so nothing waits in it
        return 0, 0
    finally:
        # A channel the 404 closed is already gone.
        with contextlib.suppress(Exception):
            channel.close()
    return int(messages), int(consumers)


def domain_collectors() -> list[DomainCollector]:
    """The collectors of this service: outbox and broker where it has them, then its own."""
    collectors: list[DomainCollector] = []
    if "servidesk_shared.outbox" in settings.INSTALLED_APPS:
        collectors.append(OutboxCollector())
    if getattr(settings, "SERVIDESK_EVENT_QUEUE", ""):
        collectors.append(BrokerCollector())
    for dotted in getattr(settings, "SERVIDESK_METRICS_COLLECTORS", []):
        factory: Callable[[], DomainCollector] = import_string(dotted)
        collectors.append(factory())
    return collectors


def request_metrics_registry() -> CollectorRegistry:
    """The request and database metrics: every gunicorn worker's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def domain_metrics() -> list[Metric]:
    """Every domain collector's gauges, then whether each could be read."""
    metrics: list[Metric] = []
    up = GaugeMetricFamily(
        "servidesk_metrics_collector_up",
        "1 when the collector's figures could be read for this scrape, else 0.",
        labels=["service", "collector"],
    )
    for collector in domain_collectors():
        gathered = collector.gather()
        metrics.extend(gathered or [])
        up.add_metric([service_name(), collector.name], 0.0 if gathered is None else 1.0)
    return [*metrics, up]


class _Fixed(Collector):
    """Metrics computed beforehand, for ``generate_latest``."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


def request_metrics() -> bytes:
    """The request and database metrics as text; read again if a worker's files went away
    while being read (gunicorn's master archived them: servidesk_shared.metrics_files)."""
    try:
        return generate_latest(request_metrics_registry())
    except FileNotFoundError:
        return generate_latest(request_metrics_registry())


def exposition() -> bytes:
    """The whole scrape: request and database metrics, then the domain gauges."""
    started = time.monotonic()
    body = request_metrics()
    metrics = domain_metrics()
    elapsed = GaugeMetricFamily(
        "servidesk_metrics_scrape_duration_seconds",
        "Seconds this scrape took to compute, the domain gauges' queries included.",
        labels=["service"],
    )
    elapsed.add_metric([service_name()], time.monotonic() - started)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed([*metrics, elapsed]))
    return body + generate_latest(registry)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text: for the scraper, on the service's own port only (see the module)."""
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def metrics_urlpatterns(prefix: str) -> list[URLPattern]:
    """``<prefix>metrics``: mount before the prefix's catch-all 404."""
    return [path(f"{prefix}metrics", metrics_view, name="metrics")]
