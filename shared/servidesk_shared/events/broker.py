"""Broker connections: RabbitMQ when ``BROKER_URL`` is set, the embedded broker otherwise."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from kombu import Connection

from servidesk_shared.events.conf import event_settings


def broker_url() -> str:
    return event_settings().broker_url


def embedded_broker_dir() -> Path:
    folder = Path(settings.SERVIDESK_VAR_DIR) / "broker"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def connection(*, heartbeat: float = 0) -> Connection:
    """A new, not yet connected ``Connection`` with publisher confirms switched on.

    Confirms make ``publish`` return only once RabbitMQ has the message (persistent
    messages on durable queues: written to disk), which is what lets the relay mark an
    outbox row sent. A consumer passes a ``heartbeat`` so a silently dead connection is
    noticed; the relay does not need one, each publish waits for an answer.
    """
    url = broker_url()
    if url:
        return Connection(
            # Several URLs separated by ";": kombu fails over from one to the next.
            url,
            connect_timeout=3,
            heartbeat=heartbeat,
            transport_options={"confirm_publish": True},
        )
    # SQLAlchemy takes a noticeable while to import: only processes that use it pay.
    from servidesk_shared.events import embedded  # noqa: PLC0415 (optional part)

    return embedded.connection(embedded_broker_dir())


def broker_reachable() -> str | None:
    """``None`` when the broker accepts a connection now, else a short reason."""
    try:
        with connection() as conn:
            # Every URL once, and one quick second try absorbs a blip, without holding a
            # health check for long.
            tries = connect_tries(conn)
            conn.ensure_connection(max_retries=tries, interval_start=0.1, timeout=3 * tries)
    except Exception as exc:  # any transport error means "not ready"
        return f"broker unreachable: {type(exc).__name__}"
    return None


def connect_tries(conn: Connection) -> int:
    """``max_retries`` for ``ensure_connection`` that gives each failover URL one try."""
    return max(1, len(conn.alt))
