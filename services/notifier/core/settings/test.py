"""Tests: the real PostgreSQL, a throwaway key pair, fast hashing, email kept in memory."""

from servidesk_testing import service_settings as testing

from .base import *

testing.apply(globals())
# Counters in memory, emptied with the process: the database cache every replica shares
# (the default) has tests of its own (tests/test_shared_cache.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tests that need a real SMTP server or the Twilio fake point these at loopback.
TWILIO_ACCOUNT_SID = ""
TWILIO_AUTH_TOKEN = ""
TWILIO_FROM_NUMBER = ""
TWILIO_MESSAGING_SERVICE_SID = ""
TWILIO_API_BASE_URL = ""
WEB_BASE_URL = "http://testserver"
SUPPORT_EMAIL = "soporte@servidesk.test"
NOTIFIER_RETRY_DELAY = 0.01
NOTIFIER_RETRY_DELAY_MAX = 0.05
NOTIFIER_POLL_INTERVAL = 0.05
