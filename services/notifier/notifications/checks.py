"""System checks: say at start-up when a channel cannot send."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Info, register

from notifications.channels.sms import not_configured_reason


@register(deploy=True)
def twilio_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    reason = not_configured_reason()
    if reason is None or settings.DEBUG:
        return []
    # Info, not a warning: a help desk without SMS is a valid deployment, so
    # `check --deploy --fail-level WARNING` passes and still says what it means.
    return [
        Info(
            f"{reason}: every SMS will be logged as skipped.",
            hint="Set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER.",
            id="notifications.I001",
        )
    ]
