"""One dashboard view computes its report once (issue 22): the summary and the charts of
one query share a cached report, and a new event makes every cached report stale."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from reports import report_cache

from tests.desk import Desk

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


@pytest.fixture(autouse=True)
def cached_for_a_minute(settings: Any) -> None:
    """On, as it is outside the tests (the test settings turn it off), and empty."""
    settings.REPORTS_CACHE_SECONDS = 60
    cache.clear()


def queries(api: Any, path: str, **params: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        response = api(path, **params)
    assert response.status_code == 200
    return len(captured.captured_queries), response


@pytest.mark.django_db
def test_the_summary_and_charts_of_one_query_compute_the_report_once(desk: Desk, api: Any) -> None:
    first, summary = queries(api, "summary/", **MARCH)
    again, cached = queries(api, "summary/", **MARCH)
    chart, _png = queries(api, "charts/status.png", **MARCH)
    assert cached.json() == summary.json()
    assert again < first - 3  # the report's own queries (at least four) are not made again
    assert chart == again

    # Another query, or another language, is another report.
    other, _ = queries(api, "summary/", **MARCH, priority="high")
    english, in_english = queries(api, "summary/", **MARCH, lang="en")
    assert other > again
    assert english > again
    assert in_english.json()["by_status"][0]["label"] != summary.json()["by_status"][0]["label"]


@pytest.mark.django_db
def test_a_new_event_makes_the_cached_reports_stale(
    desk: Desk, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    before = api("summary/", **MARCH).json()
    generation = report_cache.generation()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        desk.apply(desk.envelopes[:1])  # a copy of an event: the handlers run all the same
    assert report_cache.generation() > generation
    count, after = queries(api, "summary/", **MARCH)
    assert count > 5  # computed again
    assert after.json()["totals"] == before["totals"]  # (a replay: the same figures)


@pytest.mark.django_db
def test_a_lost_generation_starts_again_from_a_value_never_used(desk: Desk) -> None:
    report_cache.bump_generation()
    first = report_cache.generation()
    cache.delete(report_cache.GENERATION_KEY)
    assert report_cache.generation() > first


@pytest.mark.django_db
def test_no_cache_when_turned_off(desk: Desk, api: Any, settings: Any) -> None:
    settings.REPORTS_CACHE_SECONDS = 0
    first, _ = queries(api, "summary/", **MARCH)
    again, _ = queries(api, "summary/", **MARCH)
    assert again == first
