"""Settings of the webhooks benchmark: the notifier benchmark's settings on a database of
its own, with the production webhook settings and endpoints on loopback allowed.

Used by ``bench/webhooks.py`` and the processes it starts (``PYTHONPATH`` holds the
repository root and ``services/notifier``).
"""

from __future__ import annotations

import os

from bench.notifier_settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ.get("BENCH_NOTIFIER_DB", "servidesk_bench_webhooks")  # noqa: F405
# The receivers are on this machine.
WEBHOOK_ALLOW_PRIVATE = True
# The production defaults, not the tests' hurried ones.
WEBHOOK_TIMEOUT = 10.0
WEBHOOK_RETRY_DELAY = 10.0
WEBHOOK_RETRY_DELAY_MAX = 3600.0
WEBHOOK_RETRY_FOR = 86400.0
WEBHOOK_DISABLE_AFTER = 86400.0
WEBHOOK_THREADS = int(os.environ.get("BENCH_WEBHOOK_THREADS", "8"))
