"""Broker connections: RabbitMQ when ``BROKER_URL`` is set, an embedded broker otherwise."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from kombu import Connection


def broker_url() -> str:
    return str(getattr(settings, "BROKER_URL", "") or "")


def embedded_broker_dir() -> Path:
    folder = Path(settings.SERVIDESK_VAR_DIR) / "broker"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def connection() -> Connection:
    url = broker_url()
    if url:
        return Connection(url, connect_timeout=3, heartbeat=0)
    folder = str(embedded_broker_dir())
    return Connection(
        "filesystem://",
        transport_options={"data_folder_in": folder, "data_folder_out": folder},
    )


def broker_reachable() -> str | None:
    """``None`` when the broker accepts a connection now, else a short reason."""
    try:
        with connection() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:  # any transport error means "not ready"
        return f"broker unreachable: {type(exc).__name__}"
    return None
