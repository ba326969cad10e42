"""Test settings every service applies at the end of its ``test.py``: ``apply(globals())``."""

from __future__ import annotations

from typing import Any

from servidesk_shared.logs import logging_config
from servidesk_shared.settings import database_config
from servidesk_shared.settings.jwt import verifying_settings
from servidesk_testing import test_keypair


def apply(settings: dict[str, Any]) -> None:
    service = settings["SERVICE_NAME"]
    settings.update(
        DEBUG=False,
        SECRET_KEY="test-only-not-secret",  # noqa: S106
        # The real PostgreSQL; pytest-django creates test_servidesk_<service> from it.
        DATABASES={
            "default": database_config(
                service,
                var=settings["SERVIDESK_VAR_DIR"],
                default=f"postgres://postgres@127.0.0.1:5432/servidesk_{service}",
            )
        },
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        STORAGES={
            **settings.get("STORAGES", {}),
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        SIMPLE_JWT=verifying_settings(test_keypair().public_pem),
        LOGGING=logging_config(service, level="WARNING", json=False),
        # Suites send many writes as one user from one address; tests of the limits
        # switch them on (test_edge_* files).
        SERVIDESK_THROTTLE_RATES={"write_user": None, "write_anon": None},
    )
