"""Outgoing mail settings, for the services that send mail (accounts, tickets, notifier).

``apply(globals())`` in a service's ``base.py``: Django's own ``EMAIL_*`` names, read from
the environment (``.env.example`` documents them), with the same defaults everywhere.
"""

from __future__ import annotations

from typing import Any

from servidesk_shared.settings import env


def apply(settings: dict[str, Any]) -> None:
    settings.update(
        EMAIL_BACKEND=env.str(
            "EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend"
        ),
        EMAIL_HOST=env.str("EMAIL_HOST", default="localhost"),
        EMAIL_PORT=env.int("EMAIL_PORT", default=25),
        EMAIL_HOST_USER=env.str("EMAIL_HOST_USER", default=""),
        EMAIL_HOST_PASSWORD=env.str("EMAIL_HOST_PASSWORD", default=""),
        EMAIL_USE_TLS=env.bool("EMAIL_USE_TLS", default=False),
        EMAIL_USE_SSL=env.bool("EMAIL_USE_SSL", default=False),
        # Seconds before an SMTP call is given up (then retried by whoever sent it).
        EMAIL_TIMEOUT=env.float("EMAIL_TIMEOUT", default=10.0),
        DEFAULT_FROM_EMAIL=env.str(
            "DEFAULT_FROM_EMAIL", default="Servidesk <no-reply@servidesk.local>"
        ),
    )
