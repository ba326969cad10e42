"""System checks: say at start-up when a channel cannot send."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

from notifications.channels.sms import not_configured_reason


@register(deploy=True)
def twilio_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    reason = not_configured_reason()
    if reason is None or settings.DEBUG:
        return []
    return [
        Warning(
            f"{reason}: every SMS will be logged as skipped.",
            hint="Set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER.",
            id="notifications.W001",
        )
    ]
