"""Local development settings every service applies at the end of its ``local.py``.

``apply(globals())`` turns ``DEBUG`` on (``DJANGO_DEBUG=false`` turns it off), falls back to
a local-only secret key, serves static files without collectstatic's manifest, verifies
tokens with the key pair generated under the var folder on first start (or
``JWT_PUBLIC_KEY``), and writes mail to files under ``var/mail/`` when no SMTP server is
configured. The database (SQLite under the var folder) and the broker (the embedded one)
fall back by themselves when unset.
"""

from __future__ import annotations

from typing import Any

from servidesk_shared.settings import env
from servidesk_shared.settings.jwt import public_key, verifying_settings


def apply(settings: dict[str, Any]) -> None:
    settings.update(
        DEBUG=env.bool("DJANGO_DEBUG", default=True),
        SECRET_KEY=settings["SECRET_KEY"] or "django-insecure-local-only",
        # A service's own storages (tickets' attachments) stay as its settings made them.
        STORAGES={
            **settings.get("STORAGES", {}),
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        SIMPLE_JWT=verifying_settings(public_key(settings["SERVIDESK_VAR_DIR"], local=True)),
    )
    # Without an SMTP server, mail is written to var/mail/ (one file per batch) rather
    # than failing against localhost:25.
    if not env.str("EMAIL_HOST", default="") and not env.str("EMAIL_BACKEND", default=""):
        settings.update(
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=settings["SERVIDESK_VAR_DIR"] / "mail",
        )
