"""Settings of the event bus benchmark: the shared test settings on a database of its own."""

from __future__ import annotations

import os

from servidesk_shared.logs import logging_config
from servidesk_testing.settings import *  # noqa: F403
from servidesk_testing.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ.get("BENCH_DB_NAME", "servidesk_bench")
DATABASES["default"]["CONN_MAX_AGE"] = None
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
SERVIDESK_EVENT_PREFIX = os.environ.get("BENCH_EVENT_PREFIX", "bench.")
SERVIDESK_EVENT_PRODUCER = "tickets"  # consumers accept ticket.* from their owner only
SERVIDESK_EVENT_QUEUE = "notifier.events"
SERVIDESK_EVENT_HANDLERS = "bench.events_handlers.handlers"
LOGGING = logging_config("bench", level="WARNING", json=False)
