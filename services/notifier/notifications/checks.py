"""System checks: say at start-up when a channel cannot send."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.checks import CheckMessage, Error, Info, register
from django.core.checks import Warning as CheckWarning

from notifications.channels.sms import not_configured_reason
from notifications.conf import notifier_settings
from notifications.webhooks.conf import webhook_settings


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


@register()
def paid_channel_limits(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A country code nobody numbers under (``ESP``, ``UK``) would silently stop every SMS
    to the country meant; a negative cap means nothing."""
    conf = notifier_settings()
    errors: list[CheckMessage] = []
    unknown = sorted(conf.sms_allowed_countries - phonenumbers.SUPPORTED_REGIONS)
    if unknown:
        errors.append(
            Error(
                f"SMS_ALLOWED_COUNTRIES names unknown country codes: {', '.join(unknown)}.",
                hint="Use ISO 3166-1 alpha-2 codes (ES, PT, GB), or EU for the EU's.",
                id="notifications.E001",
            )
        )
    for name in ("SMS_MAX_PER_RECIPIENT_PER_DAY", "EMAIL_MAX_PER_RECIPIENT_PER_DAY"):
        if conf.max_per_recipient_per_day("sms" if name.startswith("SMS") else "email") < 0:
            errors.append(Error(f"{name} must be 0 or more.", id="notifications.E002"))
    return errors


@register()
def support_address(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every mail's ``Reply-To``: a value that is not one address would send the answers
    to a ticket nowhere (or into another header)."""
    value = str(getattr(settings, "SUPPORT_EMAIL", ""))
    _name, address = parseaddr(value)
    if "\n" in value or "\r" in value or "@" not in address:
        return [
            Error(
                f"SUPPORT_EMAIL is not an email address: {value!r}.",
                hint="Set it to the support mailbox, e.g. soporte@example.com.",
                id="notifications.E003",
            )
        ]
    return []


@register(deploy=True)
def webhooks_stay_outside(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``WEBHOOK_ALLOW_PRIVATE`` lets an admin's endpoint reach the inside (the database,
    the metadata address): for tests and local use, never a deployment."""
    if not getattr(settings, "WEBHOOK_ALLOW_PRIVATE", False) or settings.DEBUG:
        return []
    return [
        CheckWarning(
            "WEBHOOK_ALLOW_PRIVATE is on: webhooks may reach loopback, private and link-local "
            "addresses (the cloud metadata address included), over plain http://.",
            hint="Unset WEBHOOK_ALLOW_PRIVATE outside tests and local use.",
            id="notifications.W001",
        )
    ]


@register()
def webhook_limits(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    conf = webhook_settings()
    errors: list[CheckMessage] = []
    for name, value in (
        ("WEBHOOK_TIMEOUT", conf.timeout),
        ("WEBHOOK_RETRY_DELAY", conf.retry_delay),
        ("WEBHOOK_RETRY_DELAY_MAX", conf.retry_delay_max),
        ("WEBHOOK_MAX_RESPONSE_BYTES", conf.max_response_bytes),
    ):
        if value <= 0:
            errors.append(Error(f"{name} must be more than 0.", id="notifications.E004"))
    return errors
