"""Settings of the notifier benchmark: the notifier's test settings on a database of its own.

Used by ``bench/notifier_pipeline.py`` and the processes it starts (``PYTHONPATH`` holds the
repository root and ``services/notifier``).
"""

from __future__ import annotations

import os

from core.settings.test import *  # noqa: F403
from servidesk_shared.logs import logging_config

DATABASES["default"]["NAME"] = os.environ.get("BENCH_NOTIFIER_DB", "servidesk_bench_notifier")  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = None  # noqa: F405
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
SERVIDESK_EVENT_PREFIX = os.environ.get("BENCH_EVENT_PREFIX", "bench-notifier.")
SERVIDESK_EVENT_PRODUCER = "tickets"
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("BENCH_SMTP_PORT", "2525"))
DEFAULT_FROM_EMAIL = "Servidesk <soporte@servidesk.test>"
WEB_BASE_URL = "http://127.0.0.1:8000"
# The production defaults, not the tests' hurried ones.
NOTIFIER_RETRY_DELAY = 5.0
NOTIFIER_RETRY_DELAY_MAX = 600.0
NOTIFIER_POLL_INTERVAL = 1.0
# A few technicians get every ticket's mail: far over the per-recipient daily cap, which
# would turn the measured sends into skips.
EMAIL_MAX_PER_RECIPIENT_PER_DAY = 10_000_000
LOGGING = logging_config("bench-notifier", level="WARNING", json=False)
