"""Business-time arithmetic (``tickets.business_time``): weekends, holidays, several
openings a day, and the two daylight-saving changes of Europe/Madrid."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tickets.business_time import (
    Calendar,
    ClosedCalendarError,
    Opening,
    around_the_clock,
    office_hours,
)

MADRID = ZoneInfo("Europe/Madrid")
HOURS = timedelta(hours=1)


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=MADRID)  # type: ignore[misc]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


OFFICE = office_hours()  # Monday to Friday, 9:00-18:00, Europe/Madrid


def test_the_clock_stops_for_the_weekend() -> None:
    # Friday 4 December 2026, 17:00 in Madrid (CET, UTC+1): one hour left on Friday.
    assert OFFICE.add(local(2026, 12, 4, 17), 2 * HOURS) == local(2026, 12, 7, 10)
    assert OFFICE.between(local(2026, 12, 4, 17), local(2026, 12, 7, 10)) == 2 * HOURS


def test_started_while_closed_it_starts_at_the_next_opening() -> None:
    assert OFFICE.add(local(2026, 12, 5, 12), HOURS) == local(2026, 12, 7, 10)  # a Saturday
    assert OFFICE.add(local(2026, 12, 7, 7, 30), HOURS) == local(2026, 12, 7, 10)
    assert OFFICE.add(local(2026, 12, 7, 18), HOURS) == local(2026, 12, 8, 10)


def test_holidays_are_closed_all_day() -> None:
    christmas = office_hours(holidays=frozenset({date(2026, 12, 25)}))
    # Thursday 24th 17:00 + 2 h: one on Thursday, Friday 25th is a holiday, one on Monday.
    assert christmas.add(local(2026, 12, 24, 17), 2 * HOURS) == local(2026, 12, 28, 10)
    assert christmas.between(local(2026, 12, 24), local(2026, 12, 29)) == 18 * HOURS


def test_several_openings_a_day() -> None:
    split = Calendar(
        zone=MADRID,
        week={
            day: (Opening.of(time(9), time(14)), Opening.of(time(15), time(18))) for day in range(5)
        },
    )
    assert split.add(local(2026, 12, 7, 13, 30), HOURS) == local(2026, 12, 7, 15, 30)
    assert split.between(local(2026, 12, 7), local(2026, 12, 8)) == 8 * HOURS
    assert not split.is_open(local(2026, 12, 7, 14, 30))
    assert split.is_open(local(2026, 12, 7, 15))


def test_the_spring_change_in_madrid() -> None:
    """Sunday 29 March 2026, 02:00 CET -> 03:00 CEST: office hours are nine wall-clock hours
    either side, and the answer's UTC offset follows the clock."""
    due = OFFICE.add(local(2026, 3, 27, 17), 2 * HOURS)  # Friday, CET
    assert due == local(2026, 3, 30, 10)
    assert due == utc(2026, 3, 30, 8)  # CEST is UTC+2
    # Open around the clock, that Sunday has 23 hours.
    clock = around_the_clock("Europe/Madrid")
    assert clock.between(local(2026, 3, 29), local(2026, 3, 30)) == 23 * HOURS
    assert clock.add(local(2026, 3, 29, 1), 2 * HOURS) == local(2026, 3, 29, 4)


def test_the_autumn_change_in_madrid() -> None:
    """Sunday 25 October 2026, 03:00 CEST -> 02:00 CET: that day has 25 hours."""
    due = OFFICE.add(local(2026, 10, 23, 17), 2 * HOURS)  # Friday, CEST
    assert due == utc(2026, 10, 26, 9)  # Monday 10:00 CET is UTC+1
    clock = around_the_clock("Europe/Madrid")
    assert clock.between(local(2026, 10, 25), local(2026, 10, 26)) == 25 * HOURS
    # 24 elapsed hours from Saturday noon end at 11:00 on Sunday by the clock.
    assert clock.add(local(2026, 10, 24, 12), 24 * HOURS) == local(2026, 10, 25, 11)


def test_a_week_of_office_hours_and_backwards_ranges() -> None:
    assert OFFICE.between(local(2026, 12, 7), local(2026, 12, 14)) == 45 * HOURS
    assert OFFICE.between(local(2026, 12, 8), local(2026, 12, 7)) == timedelta(0)


def test_zero_and_negative_durations() -> None:
    start = local(2026, 12, 5, 12)  # closed: zero is still the start itself
    assert OFFICE.add(start, timedelta(0)) == start
    with pytest.raises(ValueError, match="forward"):
        OFFICE.add(start, -HOURS)


def test_a_calendar_with_no_open_time_says_so() -> None:
    with pytest.raises(ClosedCalendarError):
        Calendar(zone=MADRID, week={}).add(local(2026, 12, 7), HOURS)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Opening(600, 540), "forward"),
        (lambda: Opening(0, 1441), "forward"),
        (lambda: Calendar(zone=MADRID, week={7: ()}), "weekday"),
        (
            lambda: Calendar(zone=MADRID, week={0: (Opening(540, 720), Opening(700, 900))}),
            "overlap",
        ),
    ],
)
def test_nonsense_calendars_are_refused(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_midnight_as_an_end_means_the_end_of_the_day() -> None:
    assert Opening.of(time(22), time(0)) == Opening(22 * 60, 24 * 60)


moments = st.datetimes(
    # hypothesis takes naive bounds and attaches the zone itself.
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
durations = st.integers(min_value=0, max_value=200 * 60).map(lambda m: timedelta(minutes=m))


@given(start=moments, duration=durations)
def test_the_time_added_is_the_business_time_between(start: datetime, duration: timedelta) -> None:
    for calendar in (OFFICE, around_the_clock("Europe/Madrid")):
        due = calendar.add(start, duration)
        assert due >= start
        assert calendar.between(start, due) == duration
