"""Production hardening every service applies at the end of its ``production.py``.

``apply(globals())`` refuses to start without ``SECRET_KEY``, ``ALLOWED_HOSTS`` and
``JWT_PUBLIC_KEY``, and sets what ``manage.py check --deploy`` asks for. A function rather
than a star import, so import sorting can never put it before ``base``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from servidesk_shared.settings import env
from servidesk_shared.settings.jwt import public_key, verifying_settings


def apply(settings: dict[str, Any]) -> None:
    secret_key = env.str("SECRET_KEY", default="")
    if len(secret_key) < 50 or secret_key.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random value of 50 characters or more."
        )
    allowed_hosts = env.list("ALLOWED_HOSTS", default=[])
    if not allowed_hosts:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names this service answers.")

    settings.update(
        DEBUG=False,
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS=allowed_hosts,
        SIMPLE_JWT=verifying_settings(public_key(settings["SERVIDESK_VAR_DIR"], local=False)),
        # nginx terminates TLS and says so in X-Forwarded-Proto.
        SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
        USE_X_FORWARDED_HOST=True,
        SECURE_SSL_REDIRECT=env.bool("SECURE_SSL_REDIRECT", default=True),
        # Container health checks talk plain HTTP to the process itself.
        SECURE_REDIRECT_EXEMPT=[r"^(?:api/\w+/)?health/(?:live|ready)$"],
        SECURE_HSTS_SECONDS=env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365),
        SECURE_HSTS_INCLUDE_SUBDOMAINS=env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True),
        SECURE_HSTS_PRELOAD=env.bool("SECURE_HSTS_PRELOAD", default=True),
        SECURE_CONTENT_TYPE_NOSNIFF=True,
        SECURE_REFERRER_POLICY="same-origin",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        CSRF_COOKIE_SECURE=True,
        X_FRAME_OPTIONS="DENY",
        CSRF_TRUSTED_ORIGINS=env.list("CSRF_TRUSTED_ORIGINS", default=[]),
    )
