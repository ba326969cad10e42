"""The notifier's own settings, each with a default (read on every call: tests override).

| setting | default | meaning |
|---|---|---|
| ``WEB_BASE_URL`` | ``http://127.0.0.1:8000`` | links in messages: ``/tickets/<id>/`` on it |
| ``NOTIFIER_MAX_ATTEMPTS`` | ``6`` | send attempts before a transient failure is final |
| ``NOTIFIER_RETRY_DELAY`` | ``5.0`` | seconds before the first retry; doubles each time |
| ``NOTIFIER_RETRY_DELAY_MAX`` | ``600.0`` | cap of one retry delay |
| ``NOTIFIER_SEND_LEASE`` | ``120.0`` | seconds a claimed delivery is reserved to its sender |
| ``NOTIFIER_BATCH_SIZE`` | ``50`` | deliveries a sender claims at once |
| ``NOTIFIER_POLL_INTERVAL`` | ``1.0`` | seconds a sender sleeps without a wake-up |
| ``NOTIFIER_CONTACT_WAIT`` | ``600.0`` | seconds a delivery waits for an unknown contact card |
| ``NOTIFIER_CONTACT_RECHECK`` | ``5.0`` | seconds between two looks for that card |
| ``TWILIO_*`` | ``""`` | see ``channels/sms.py`` |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class NotifierSettings:
    max_attempts: int
    retry_delay: float
    retry_delay_max: float
    send_lease: float
    batch_size: int
    poll_interval: float
    contact_wait: float
    contact_recheck: float


def notifier_settings() -> NotifierSettings:
    def get(name: str, default: Any) -> Any:
        return getattr(settings, name, default)

    return NotifierSettings(
        max_attempts=int(get("NOTIFIER_MAX_ATTEMPTS", 6)),
        retry_delay=float(get("NOTIFIER_RETRY_DELAY", 5.0)),
        retry_delay_max=float(get("NOTIFIER_RETRY_DELAY_MAX", 600.0)),
        send_lease=float(get("NOTIFIER_SEND_LEASE", 120.0)),
        batch_size=int(get("NOTIFIER_BATCH_SIZE", 50)),
        poll_interval=float(get("NOTIFIER_POLL_INTERVAL", 1.0)),
        contact_wait=float(get("NOTIFIER_CONTACT_WAIT", 600.0)),
        contact_recheck=float(get("NOTIFIER_CONTACT_RECHECK", 5.0)),
    )
