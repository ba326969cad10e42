"""Tests: the real PostgreSQL, a throwaway key pair, fast hashing, email kept in memory."""

from servidesk_testing import service_settings as testing

from .base import *

testing.apply(globals())
# Attachments in memory like Django's default storage, not under var/ (tests that look at
# the files use a temporary folder, tests/test_attachments*.py).
STORAGES = {**STORAGES, "attachments": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
