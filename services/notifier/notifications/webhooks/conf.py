"""The webhooks' settings, each with a default (read on every call: tests override).

| setting | default | meaning |
|---|---|---|
| ``WEBHOOK_ALLOW_PRIVATE`` | ``False`` | endpoints may be inside and use ``http://`` |
| ``WEBHOOK_ALLOW_HTTP`` | ``False`` | ``http://`` endpoints on public addresses too |
| ``WEBHOOK_TIMEOUT`` | ``10.0`` | seconds a request may take, connecting and answering |
| ``WEBHOOK_RETRY_FOR`` | ``86400.0`` | seconds a delivery is retried after it was recorded |
| ``WEBHOOK_DISABLE_AFTER`` | ``86400.0`` | seconds of failures that disable an endpoint |
| ``WEBHOOK_RETRY_DELAY`` | ``10.0`` | seconds before the first retry; doubles (±20 % jitter) |
| ``WEBHOOK_RETRY_DELAY_MAX`` | ``3600.0`` | cap of one retry delay |
| ``WEBHOOK_MAX_RESPONSE_BYTES`` | ``65536`` | bytes of an answer read (the rest is dropped) |
| ``WEBHOOK_THREADS`` | ``8`` | requests one sender process makes at once (one per endpoint) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class WebhookSettings:
    allow_private: bool
    allow_http: bool
    timeout: float
    retry_for: float
    disable_after: float
    retry_delay: float
    retry_delay_max: float
    max_response_bytes: int
    threads: int

    @property
    def lease(self) -> float:
        """Seconds a claimed delivery (and its endpoint) is reserved to its sender: past the
        request's timeout, so only a sender that died leaves it to be claimed again."""
        return self.timeout * 3 + 30


def webhook_settings() -> WebhookSettings:
    def get(name: str, default: Any) -> Any:
        return getattr(settings, name, default)

    return WebhookSettings(
        allow_private=bool(get("WEBHOOK_ALLOW_PRIVATE", False)),
        allow_http=bool(get("WEBHOOK_ALLOW_HTTP", False)),
        timeout=float(get("WEBHOOK_TIMEOUT", 10.0)),
        retry_for=float(get("WEBHOOK_RETRY_FOR", 86400.0)),
        disable_after=float(get("WEBHOOK_DISABLE_AFTER", 86400.0)),
        retry_delay=float(get("WEBHOOK_RETRY_DELAY", 10.0)),
        retry_delay_max=float(get("WEBHOOK_RETRY_DELAY_MAX", 3600.0)),
        max_response_bytes=int(get("WEBHOOK_MAX_RESPONSE_BYTES", 65536)),
        threads=max(1, int(get("WEBHOOK_THREADS", 8))),
    )
