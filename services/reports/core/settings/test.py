"""Tests: the real PostgreSQL, a throwaway key pair, fast hashing, email kept in memory."""

from servidesk_testing import service_settings as testing

from .base import *

testing.apply(globals())
# Counters in memory, emptied with the process: the database cache every replica shares
# (the default) has tests of its own (tests/test_shared_cache.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests change the projection behind the handlers' back (rows inserted directly), and the
# cache above outlives a test: the computed-report cache is off but in its own tests
# (tests/test_report_cache.py).
REPORTS_CACHE_SECONDS = 0
