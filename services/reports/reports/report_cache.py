"""A computed report kept for a short while, so one dashboard view computes it once.

The dashboard asks for the summary and then each chart, all with the same query; every
one of them used to compute the whole report. ``cached_report(query)`` keeps the
``Report`` in the service's cache (by default the database cache every replica shares,
``servidesk_shared.cache``) for ``REPORTS_CACHE_SECONDS`` (default 60; 0 turns it off),
under a key made of:

- the normalised query: period, filters, tags, the timeline's interval as
  resolved, the time zone and the active language (labels are in the summary); never
  ``now``, so a period still running may show figures up to that many seconds old;
- the projection's *generation*, a counter the event handlers bump after each commit
  that changed the projection (``bump_generation``): a new event makes every cached
  report unreachable at once, and the old entries simply expire.

The generation key never expires. If the cache loses it anyway (a cleared cache), it
starts again from the clock in nanoseconds, never from a value used before.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Final

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import get_language

from reports.metrics import Report, ReportQuery, compute_report

GENERATION_KEY: Final = "reports:generation"
KEY_PREFIX: Final = "reports:report"


def cache_seconds() -> int:
    return int(getattr(settings, "REPORTS_CACHE_SECONDS", 60))


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, time.time_ns(), timeout=None)
        value = cache.get(GENERATION_KEY, 0)
    return int(value)


def bump_generation() -> None:
    """Make every cached report stale (the projection changed)."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not there (yet, or any more): a fresh, never used value
        cache.add(GENERATION_KEY, time.time_ns(), timeout=None)


def query_key(query: ReportQuery) -> str:
    """The cache key of ``query`` in the active language, at the current generation."""
    normalised = {
        "from": query.date_from.isoformat(),
        "to": query.date_to.isoformat(),
        "category": query.category,
        "priority": query.priority,
        "status": query.status,
        "assignee_id": query.assignee_id,
        "team_id": query.team_id,
        "tags": list(query.tags),
        "interval": query.resolved_interval,
        "time_zone": query.time_zone.key,
        "language": get_language() or settings.LANGUAGE_CODE,
    }
    digest = hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()
    return f"{KEY_PREFIX}:{generation()}:{digest}"


def cached_report(query: ReportQuery) -> Report:
    """``compute_report(query)``, or the same report computed less than a minute ago."""
    seconds = cache_seconds()
    if seconds <= 0:
        return compute_report(query)
    key = query_key(query)
    report = cache.get(key)
    if isinstance(report, Report):
        return report
    report = compute_report(query)
    cache.set(key, report, timeout=seconds)
    return report
