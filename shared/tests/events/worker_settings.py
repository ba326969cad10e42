"""Settings of the relay and consumer subprocesses the tests start.

The test database, broker and names come from the environment the test sets.
"""

from __future__ import annotations

import os

from servidesk_shared.logs import logging_config
from servidesk_testing.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["SERVIDESK_TEST_DB_NAME"]  # noqa: F405
BROKER_URL = os.environ.get("SERVIDESK_TEST_BROKER_URL", "")
SERVIDESK_EVENT_PREFIX = os.environ["SERVIDESK_TEST_EVENT_PREFIX"]
SERVIDESK_EVENT_QUEUE = "notifier.events"
SERVIDESK_EVENT_HANDLERS = "tests.events.handlers.handlers"
SERVIDESK_EVENT_RETRY_DELAY = 0.01
SERVIDESK_OUTBOX_POLL_INTERVAL = 0.2
SERVIDESK_EMBEDDED_BROKER_POLL = 0.01
LOGGING = logging_config("worker", level="WARNING", json=False)
# The tests read "already applied; skipped" from the consumer's stderr.
LOGGING["loggers"]["servidesk_shared.events"] = {"level": "INFO", "propagate": True}
