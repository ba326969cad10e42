"""The shared waiter: a NOTIFY from another connection, an in-process nudge, or the timeout."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection, connections

from servidesk_shared.waiter import NotifyWaiter, PollingWaiter, make_waiter

CHANNEL = "servidesk_test_waiter"


def timed(waiter: PollingWaiter, timeout: float) -> float:
    began = time.monotonic()
    waiter.wait(timeout)
    return time.monotonic() - began


def notify_later(delay: float) -> threading.Timer:
    """NOTIFY on ``CHANNEL`` from a connection of its own, ``delay`` seconds from now."""

    def send() -> None:
        sender = connections.create_connection("default")
        try:
            with sender.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])
        finally:
            sender.close()

    thread = threading.Timer(delay, send)
    thread.start()
    return thread


@pytest.fixture
def waiter(transactional_db: None) -> Iterator[NotifyWaiter]:
    made = make_waiter(channel=CHANNEL, wakeup=threading.Event(), name="test")
    assert isinstance(made, NotifyWaiter)  # the test database is PostgreSQL
    yield made
    made.close()


def test_returns_at_the_timeout_when_nothing_happens(waiter: NotifyWaiter) -> None:
    assert 0.3 <= timed(waiter, 0.4) < 2.0


def test_a_notify_from_another_connection_wakes_it_early(waiter: NotifyWaiter) -> None:
    waiter.wait(0.01)  # LISTEN is in place from here on
    thread = notify_later(0.2)
    try:
        assert timed(waiter, 10.0) < 3.0
    finally:
        thread.join()


def test_an_in_process_nudge_wakes_it_within_a_slice_and_is_cleared(
    waiter: NotifyWaiter,
) -> None:
    threading.Timer(0.2, waiter.wakeup.set).start()
    assert timed(waiter, 10.0) < 0.2 + 3 * NotifyWaiter.SLICE + 1.0
    assert not waiter.wakeup.is_set()


def test_a_lost_listener_falls_back_to_polling_then_listens_again(
    waiter: NotifyWaiter, caplog: pytest.LogCaptureFixture
) -> None:
    waiter.wait(0.01)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = %s",
            [f"LISTEN {CHANNEL}"],
        )
    with caplog.at_level(logging.WARNING, logger="servidesk_shared.waiter"):
        assert timed(waiter, 0.4) < 2.0  # the broken connection is not an error
    assert "LISTEN servidesk_test_waiter failed" in caplog.text
    waiter.wait(0.01)
    assert waiter.listener is not None
    assert not waiter.failing
    thread = notify_later(0.2)
    try:
        assert timed(waiter, 10.0) < 3.0
    finally:
        thread.join()


def test_polling_waiter_sleeps_at_most_max_sleep_and_wakes_on_the_event() -> None:
    closed: list[bool] = []
    waiter = PollingWaiter(threading.Event(), max_sleep=0.1, on_close=lambda: closed.append(True))
    assert timed(waiter, 10.0) < 1.0
    waiter.wakeup.set()
    assert timed(waiter, 10.0) < 0.5
    assert not waiter.wakeup.is_set()
    waiter.close()
    assert closed == [True]


def test_a_channel_name_is_not_sql() -> None:
    with pytest.raises(ValueError, match="channel"):
        NotifyWaiter(threading.Event(), channel="x; DROP TABLE y")
