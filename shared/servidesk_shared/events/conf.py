"""The event bus settings, each with a default so a service sets only what it needs.

| setting | default | meaning |
|---|---|---|
| ``BROKER_URL`` | ``""`` | RabbitMQ URL(s), ``;`` between failover nodes; empty: embedded broker |
| ``SERVIDESK_EVENT_PRODUCER`` | ``SERVICE_NAME`` | ``producer`` written in the envelopes |
| ``SERVIDESK_EVENT_PREFIX`` | ``""`` | prefix of every exchange and queue name (tests, staging) |
| ``SERVIDESK_EVENT_QUEUE`` | ``""`` | queue ``consume_events`` reads: ``notifier.events`` |
| ``SERVIDESK_EVENT_HANDLERS`` | ``""`` | dotted path to a ``HandlerRegistry`` (or a mapping) |
| ``SERVIDESK_EVENT_PREFETCH`` | ``32`` | unacknowledged messages a consumer holds |
| ``SERVIDESK_EVENT_BATCH_SIZE`` | ``16`` | most events a consumer applies in one transaction |
| ``SERVIDESK_EVENT_MAX_ATTEMPTS`` | ``5`` | handler tries before the message is dead-lettered |
| ``SERVIDESK_EVENT_RETRY_DELAY`` | ``0.5`` | seconds before the first retry; doubles each time |
| ``SERVIDESK_EVENT_RETRY_DELAY_MAX`` | ``8.0`` | cap of one retry delay |
| ``SERVIDESK_OUTBOX_BATCH_SIZE`` | ``200`` | rows a relay claims per transaction |
| ``SERVIDESK_OUTBOX_RELAY_THREADS`` | ``0`` | relays per command; 0: 2 on PostgreSQL, else 1 |
| ``SERVIDESK_OUTBOX_POLL_INTERVAL`` | ``1.0`` | seconds between polls when no nudge arrives |
| ``SERVIDESK_OUTBOX_RETENTION`` | 7 days | ``timedelta`` a sent row is kept before pruning |
| ``SERVIDESK_INBOX_RETENTION`` | 30 days | ``timedelta`` a seen event id is remembered |
| ``SERVIDESK_BROKER_CONFIRM_TIMEOUT`` | ``10.0`` | seconds to wait for a publisher confirm |
| ``SERVIDESK_EMBEDDED_BROKER_POLL`` | ``0.02`` | the embedded broker's polling interval |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class EventSettings:
    broker_url: str
    producer: str
    prefix: str
    queue: str
    handlers: str
    prefetch: int
    batch_size: int
    max_attempts: int
    retry_delay: float
    retry_delay_max: float
    outbox_batch_size: int
    relay_threads: int
    outbox_poll_interval: float
    outbox_retention: timedelta
    inbox_retention: timedelta
    confirm_timeout: float
    embedded_poll: float


def event_settings() -> EventSettings:
    """Read on every call (it is cheap) so tests may override settings."""

    def get(name: str, default: Any) -> Any:
        return getattr(settings, name, default)

    return EventSettings(
        broker_url=";".join(broker_urls(str(get("BROKER_URL", "") or ""))),
        producer=str(get("SERVIDESK_EVENT_PRODUCER", "") or get("SERVICE_NAME", "")),
        prefix=str(get("SERVIDESK_EVENT_PREFIX", "")),
        queue=str(get("SERVIDESK_EVENT_QUEUE", "")),
        handlers=str(get("SERVIDESK_EVENT_HANDLERS", "")),
        prefetch=int(get("SERVIDESK_EVENT_PREFETCH", 32)),
        batch_size=max(1, int(get("SERVIDESK_EVENT_BATCH_SIZE", 16))),
        max_attempts=int(get("SERVIDESK_EVENT_MAX_ATTEMPTS", 5)),
        retry_delay=float(get("SERVIDESK_EVENT_RETRY_DELAY", 0.5)),
        retry_delay_max=float(get("SERVIDESK_EVENT_RETRY_DELAY_MAX", 8.0)),
        outbox_batch_size=int(get("SERVIDESK_OUTBOX_BATCH_SIZE", 200)),
        relay_threads=int(get("SERVIDESK_OUTBOX_RELAY_THREADS", 0)),
        outbox_poll_interval=float(get("SERVIDESK_OUTBOX_POLL_INTERVAL", 1.0)),
        outbox_retention=get("SERVIDESK_OUTBOX_RETENTION", timedelta(days=7)),
        inbox_retention=get("SERVIDESK_INBOX_RETENTION", timedelta(days=30)),
        confirm_timeout=float(get("SERVIDESK_BROKER_CONFIRM_TIMEOUT", 10.0)),
        embedded_poll=float(get("SERVIDESK_EMBEDDED_BROKER_POLL", 0.02)),
    )


def broker_urls(value: str) -> list[str]:
    """The URLs in a ``BROKER_URL``: one, or several separated by ``;``.

    A connection tries them in turn (kombu's round-robin failover) until one answers, and
    moves to the next when the one it uses goes away: the nodes of a RabbitMQ cluster.
    Blanks around the separators and empty entries are dropped.
    """
    return [url.strip() for url in value.split(";") if url.strip()]
