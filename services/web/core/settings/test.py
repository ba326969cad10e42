"""Tests: the real PostgreSQL, a throwaway key pair, fast hashing, email kept in memory."""

from servidesk_shared.settings.jwt import verifying_settings
from servidesk_shared.settings.testing import *

from .base import *
from servidesk_shared.settings.testing import DEBUG, SECRET_KEY, STORAGES

DATABASES = {
    "default": database_config(
        SERVICE_NAME,
        var=SERVIDESK_VAR_DIR,
        default=f"postgres://postgres@127.0.0.1:5432/servidesk_{SERVICE_NAME}",
    )
}
SIMPLE_JWT = verifying_settings(JWT_TEST_PUBLIC_KEY)
LOGGING = logging_config(SERVICE_NAME, level="WARNING", json=False)
