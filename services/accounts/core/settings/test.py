"""Tests: the real PostgreSQL, a throwaway key pair, fast hashing, email kept in memory."""

from servidesk_testing import service_settings as testing
from servidesk_testing import test_keypair

from core.signing import issuing_settings

from .base import *

testing.apply(globals())
# The same pair servidesk_testing signs its tokens with.
SIMPLE_JWT = issuing_settings(
    private_key=test_keypair().private_pem, public_key=test_keypair().public_pem
)
# Counters in memory, emptied with the process: the database cache every replica shares
# (the default) has tests of its own (tests/test_lockout.py, tests/test_shared_cache.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WEB_BASE_URL = "http://web.test"
SOCIALACCOUNT_PROVIDERS = {
    provider: {**conf, "APPS": [{"client_id": f"{provider}-client-id", "secret": "s", "key": ""}]}
    for provider, conf in SOCIALACCOUNT_PROVIDERS.items()
}
