"""Tests: the real PostgreSQL, a throwaway key pair, fast hashing, email kept in memory."""

from servidesk_testing import service_settings as testing

from .base import *

testing.apply(globals())
# Counters in memory, emptied with the process: the database cache every replica shares
# (the default) has tests of its own (tests/test_shared_cache.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Attachments in memory like Django's default storage, not under var/ (tests that look at
# the files use a temporary folder, tests/test_attachments*.py).
STORAGES = {**STORAGES, "attachments": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
