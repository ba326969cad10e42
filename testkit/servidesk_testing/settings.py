"""Settings for the shared package's own tests and for type checking."""

from __future__ import annotations

from pathlib import Path

from servidesk_shared.logs import logging_config
from servidesk_shared.settings import database_config, var_dir
from servidesk_shared.settings.defaults import *  # noqa: F403
from servidesk_shared.settings.defaults import SHARED_APPS, SPECTACULAR_DEFAULTS
from servidesk_shared.settings.jwt import verifying_settings
from servidesk_testing import test_keypair

SERVICE_NAME = "shared"
SERVIDESK_VAR_DIR = var_dir(Path(__file__).resolve().parent)
SECRET_KEY = "test-only-not-secret"  # noqa: S105
INSTALLED_APPS = [*SHARED_APPS, "servidesk_shared.outbox"]
ROOT_URLCONF = "servidesk_testing.urls"
DATABASES = {
    "default": database_config(
        "shared",
        var=SERVIDESK_VAR_DIR,
        default="postgres://postgres@127.0.0.1:5432/servidesk_shared",
    )
}
SIMPLE_JWT = verifying_settings(test_keypair().public_pem)
STATIC_ROOT = SERVIDESK_VAR_DIR / "shared-static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = logging_config(SERVICE_NAME, level="WARNING")
SPECTACULAR_SETTINGS = {**SPECTACULAR_DEFAULTS, "TITLE": "Servidesk shared test API"}
