"""Business time: when a help desk is open, and clocks that only run while it is.

A ``Calendar`` is a time zone, weekly opening hours (any number of intervals a day) and
holidays (local dates, closed all day). ``add`` answers when an amount of business time,
started at a moment, runs out (an SLA target's due time); ``between`` how much business
time lies between two moments (what is left, what a pause took). Both work on aware
datetimes and answer in UTC.

Opening hours are wall-clock times in the calendar's zone, so a day of a daylight-saving
change is as long as the clock says: 9:00-18:00 is nine hours every day, and a calendar
open around the clock has a 23-hour day on the last Sunday of March in Europe/Madrid and
a 25-hour one on the last Sunday of October. A wall time the clock skips (02:30 on the
spring change) counts as the instant the clock jumps to.

Issue 19 builds the SLA on this: calendars stored per team, targets measured in business
time, the pause while a ticket waits on the client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from itertools import pairwise
from typing import Final
from zoneinfo import ZoneInfo

MINUTES_PER_DAY: Final = 24 * 60
#: How far ahead ``add`` looks for open time before deciding the calendar has none: a
#: year of holidays would be odd, ten years of them is a configuration error.
HORIZON_DAYS: Final = 3660


class ClosedCalendarError(ValueError):
    """The calendar has no open time within ``HORIZON_DAYS``."""


@dataclass(frozen=True, order=True)
class Opening:
    """One interval of a day, in minutes after local midnight: ``[start, end)``, where
    ``end`` may be 1440 (open until midnight)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_PER_DAY:
            raise ValueError(f"an opening runs forward within one day: {self.start}-{self.end}")

    @classmethod
    def of(cls, start: time, end: time) -> Opening:
        """From wall times; an ``end`` of 00:00 means midnight at the end of the day."""
        end_minutes = end.hour * 60 + end.minute or MINUTES_PER_DAY
        return cls(start.hour * 60 + start.minute, end_minutes)


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    #: Weekday (0 is Monday) -> that day's openings; a missing day is closed.
    week: Mapping[int, tuple[Opening, ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for weekday, openings in self.week.items():
            if not 0 <= weekday <= 6:
                raise ValueError(f"a weekday is 0 (Monday) to 6 (Sunday), not {weekday}")
            ordered = sorted(openings)
            for before, after in pairwise(ordered):
                if after.start < before.end:
                    raise ValueError(f"openings overlap on weekday {weekday}")

    # --- reads ------------------------------------------------------------------------

    def openings_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of local ``day``, as UTC ``[start, end)`` pairs."""
        if day in self.holidays:
            return []
        midnight = datetime.combine(day, time(0), tzinfo=self.zone)
        return [
            (_utc(midnight, opening.start), _utc(midnight, opening.end))
            for opening in sorted(self.week.get(day.weekday(), ()))
        ]

    def is_open(self, moment: datetime) -> bool:
        return any(start <= moment < end for start, end in self.openings_on(self._day(moment)))

    @cached_property
    def always_open(self) -> bool:
        """Open every minute, no holidays: business time is elapsed time (a shortcut)."""
        whole_day = (Opening(0, MINUTES_PER_DAY),)
        return not self.holidays and all(
            tuple(self.week.get(weekday, ())) == whole_day for weekday in range(7)
        )

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """When ``duration`` of business time, counted from ``start``, runs out (UTC).

        Started while closed, the clock starts at the next opening; a zero duration is
        ``start`` itself.
        """
        if duration < timedelta(0):
            raise ValueError("business time only runs forward")
        remaining = duration
        cursor = start.astimezone(UTC)
        if not remaining or self.always_open:
            return cursor + remaining
        for opened, closed in self._intervals_from(cursor):
            begin = max(opened, cursor)
            available = closed - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise ClosedCalendarError(f"no open time within {HORIZON_DAYS} days")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The business time in ``[start, end)``; zero when ``end`` is not after ``start``."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        total = timedelta(0)
        if end <= start:
            return total
        if self.always_open:
            return end - start
        for opened, closed in self._intervals_from(start):
            if opened >= end:
                break
            overlap = min(closed, end) - max(opened, start)
            if overlap > timedelta(0):
                total += overlap
        return total

    # --- helpers ----------------------------------------------------------------------

    def _day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def _intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals ending after ``moment``, in order, up to ``HORIZON_DAYS`` on."""
        # From the day before: an interval of the previous local day never ends after
        # midnight, but starting a day early costs nothing and keeps zone edges simple.
        first = self._day(moment) - timedelta(days=1)
        for offset in range(HORIZON_DAYS + 1):
            for opened, closed in self.openings_on(first + timedelta(days=offset)):
                if closed > moment:
                    yield opened, closed


def _utc(midnight: datetime, minutes: int) -> datetime:
    """Local midnight plus ``minutes`` of wall-clock time, in UTC (zoneinfo computes the
    offset of the resulting wall time: a DST change in between is taken into account)."""
    wall = midnight + timedelta(minutes=minutes)
    if minutes == MINUTES_PER_DAY:
        # The next local midnight, whatever the day's length.
        wall = datetime.combine(
            midnight.date() + timedelta(days=1), time(0), tzinfo=midnight.tzinfo
        )
    return wall.astimezone(UTC)


def office_hours(
    zone: str = "Europe/Madrid",
    *,
    opens: time = time(9),
    closes: time = time(18),
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4),
    holidays: frozenset[date] = frozenset(),
) -> Calendar:
    """One interval a day on ``weekdays``: the demo's Monday to Friday, 9:00-18:00."""
    opening = Opening.of(opens, closes)
    return Calendar(
        zone=ZoneInfo(zone), week=dict.fromkeys(weekdays, (opening,)), holidays=holidays
    )


def around_the_clock(zone: str = "UTC") -> Calendar:
    """Open every minute of every day: business time is elapsed time."""
    whole_day = (Opening(0, MINUTES_PER_DAY),)
    return Calendar(zone=ZoneInfo(zone), week=dict.fromkeys(range(7), whole_day))
