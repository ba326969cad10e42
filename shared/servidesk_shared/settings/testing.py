"""Test settings every service applies after its ``base.py``."""

from __future__ import annotations

from servidesk_shared.testing import test_keypair

DEBUG = False
SECRET_KEY = "test-only-not-secret"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
JWT_TEST_PUBLIC_KEY = test_keypair().public_pem
JWT_TEST_PRIVATE_KEY = test_keypair().private_pem
