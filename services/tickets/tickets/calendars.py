"""Business calendars as stored (``BusinessCalendar``), checked, and read for the clocks.

An admin's calendar arrives as JSON: ``week`` with the seven keys ``mon`` … ``sun``, each
a list of ``["HH:MM", "HH:MM"]`` openings, and ``holidays`` as ``{"date", "name"}``
objects. ``clean_week`` / ``clean_holidays`` / ``clean_time_zone`` turn what was sent
into the stored form or raise ``CalendarError`` with a message for the person.

The SLA's settings (every calendar, each team's calendar, every target) are read once
per process and kept ``CACHE_SECONDS`` (``current``): every ticket write that moves a
clock and every ticket page needs them, and they change a few times a year. Saving or
deleting a calendar or a target in this process clears the copy at once (signals), and
so do ``tickets.teams``' writes; other processes see a change within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import re
import threading
import time as clock
from dataclasses import dataclass
from datetime import date, time
from itertools import pairwise
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.signals import post_delete, post_save
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from servidesk_shared.errors import ApplicationError, ConflictError
from tickets.business_time import Calendar, Opening, around_the_clock
from tickets.models import WEEKDAYS, BusinessCalendar, SlaTarget, Team, Ticket

CACHE_SECONDS: Final = 30.0
MAX_OPENINGS_PER_DAY: Final = 6
MAX_HOLIDAYS: Final = 200
HOLIDAY_NAME_MAX_LENGTH: Final = 100
_WALL_TIME: Final = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")

#: The default calendar of a fresh install: open around the clock, so that targets mean
#: the wall-clock hours they meant before calendars existed.
AROUND_THE_CLOCK_WEEK: Final[dict[str, list[list[str]]]] = {
    day: [["00:00", "24:00"]] for day in WEEKDAYS
}
#: The demo's: Monday to Friday, 9:00-18:00.
OFFICE_WEEK: Final[dict[str, list[list[str]]]] = {
    day: ([["09:00", "18:00"]] if day not in ("sat", "sun") else []) for day in WEEKDAYS
}


class CalendarError(ValueError):
    """What was sent is not a calendar: ``field`` names the part, ``str()`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --- checking what was sent --------------------------------------------------------------


def clean_time_zone(value: Any) -> str:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise CalendarError("time_zone", _("Give a time zone such as Europe/Madrid."))
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(
            "time_zone", _("%(zone)s is not a known time zone.") % {"zone": value[:64]}
        ) from None
    if value not in available_timezones():
        raise CalendarError("time_zone", _("%(zone)s is not a known time zone.") % {"zone": value})
    return value


def _minutes(text: Any, *, day: str) -> int:
    if not isinstance(text, str) or not _WALL_TIME.match(text):
        raise CalendarError(
            "week",
            _("%(day)s: write times as HH:MM (00:00 to 24:00), not %(value)s.")
            % {"day": day, "value": str(text)[:20]},
        )
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def clean_week(value: Any) -> dict[str, list[list[str]]]:
    """The seven days' openings, sorted, each ``[start, end)`` forward and not overlapping."""
    if not isinstance(value, dict):
        raise CalendarError("week", _("Give the openings of each day, mon to sun."))
    unknown = sorted(set(value) - set(WEEKDAYS), key=str)
    if unknown:
        raise CalendarError(
            "week",
            _("Unknown days: %(days)s. Use %(known)s.")
            % {"days": ", ".join(str(day)[:10] for day in unknown), "known": ", ".join(WEEKDAYS)},
        )
    cleaned: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        openings = value.get(day, [])
        if not isinstance(openings, list) or len(openings) > MAX_OPENINGS_PER_DAY:
            raise CalendarError(
                "week",
                _("%(day)s: give a list of at most %(count)s openings.")
                % {"day": day, "count": MAX_OPENINGS_PER_DAY},
            )
        spans: list[tuple[int, int]] = []
        for opening in openings:
            if not isinstance(opening, list | tuple) or len(opening) != 2:
                raise CalendarError(
                    "week", _("%(day)s: each opening is [start, end].") % {"day": day}
                )
            start, end = (_minutes(part, day=day) for part in opening)
            if end <= start:
                raise CalendarError(
                    "week",
                    _("%(day)s: an opening must end after it starts (%(start)s-%(end)s).")
                    % {"day": day, "start": opening[0], "end": opening[1]},
                )
            spans.append((start, end))
        spans.sort()
        for (_start, end), (next_start, _end) in pairwise(spans):
            if next_start < end:
                raise CalendarError("week", _("%(day)s: openings must not overlap.") % {"day": day})
        cleaned[day] = [[_wall(start), _wall(end)] for start, end in spans]
    if not any(cleaned.values()):
        raise CalendarError("week", _("A calendar must be open at some time of the week."))
    return cleaned


def _wall(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def clean_holidays(value: Any) -> list[dict[str, str]]:
    """Holidays by date (one entry a date), names trimmed; sorted by date."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_HOLIDAYS:
        raise CalendarError(
            "holidays",
            _("Give a list of at most %(count)s holidays.") % {"count": MAX_HOLIDAYS},
        )
    by_date: dict[str, str] = {}
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("date"), str):
            raise CalendarError("holidays", _('Each holiday is {"date": "YYYY-MM-DD", "name"}.'))
        try:
            day = date.fromisoformat(entry["date"])
        except ValueError:
            raise CalendarError(
                "holidays",
                _("%(value)s is not a date (YYYY-MM-DD).") % {"value": entry["date"][:20]},
            ) from None
        name = entry.get("name", "")
        if not isinstance(name, str) or "\x00" in name:
            raise CalendarError("holidays", _("A holiday's name is text."))
        name = " ".join(name.split())
        if len(name) > HOLIDAY_NAME_MAX_LENGTH:
            raise CalendarError(
                "holidays",
                _("A holiday's name has at most %(count)s characters.")
                % {"count": HOLIDAY_NAME_MAX_LENGTH},
            )
        if day.isoformat() in by_date:
            raise CalendarError(
                "holidays", _("%(date)s is listed twice.") % {"date": day.isoformat()}
            )
        by_date[day.isoformat()] = name
    return [{"date": day, "name": name} for day, name in sorted(by_date.items())]


# --- stored -> business time ----------------------------------------------------------------


def to_calendar(row: BusinessCalendar) -> Calendar:
    week = {
        index: tuple(
            Opening(_minutes(start, day=day), _minutes(end, day=day))
            for start, end in row.week.get(day, [])
        )
        for index, day in enumerate(WEEKDAYS)
    }
    holidays = frozenset(date.fromisoformat(entry["date"]) for entry in row.holidays)
    return Calendar(zone=ZoneInfo(row.time_zone), week=week, holidays=holidays)


@dataclass(frozen=True)
class Known:
    """Every calendar, which one each team uses and every SLA target, as read at
    ``read_at``."""

    read_at: float
    by_id: dict[int, Calendar]
    default_id: int | None
    team_calendar: dict[int, int]
    targets: list[SlaTarget]


_lock = threading.Lock()
_known: Known | None = None


def _read() -> Known:
    rows = list(BusinessCalendar.objects.all())
    default_id = next((row.pk for row in rows if row.is_default), None)
    teams = dict(Team.objects.filter(calendar__isnull=False).values_list("pk", "calendar_id"))
    return Known(
        read_at=clock.monotonic(),
        by_id={row.pk: to_calendar(row) for row in rows},
        default_id=default_id,
        team_calendar=teams,
        targets=list(SlaTarget.objects.all()),
    )


def current() -> Known:
    global _known  # noqa: PLW0603 (the process's short-lived copy)
    with _lock:
        known = _known
        if known is None or clock.monotonic() - known.read_at > CACHE_SECONDS:
            known = _known = _read()
        return known


def forget(**kwargs: Any) -> None:
    """Drop this process's copy: a calendar, a target or a team's calendar changed."""
    global _known  # noqa: PLW0603
    with _lock:
        _known = None


def calendar_of_team(team_id: int | None) -> tuple[int | None, Calendar]:
    """``(calendar id, calendar)`` the tickets of ``team_id`` (or of no team) count in.

    Without any stored calendar (a database migrated but emptied): around the clock.
    """
    known = current()
    calendar_id = known.team_calendar.get(team_id) if team_id is not None else None
    if calendar_id is None or calendar_id not in known.by_id:
        calendar_id = known.default_id
    if calendar_id is None:
        return None, around_the_clock("Europe/Madrid")
    return calendar_id, known.by_id[calendar_id]


def connect() -> None:
    """Called once from ``TicketsConfig.ready``."""
    for model in (BusinessCalendar, SlaTarget):
        post_save.connect(forget, sender=model, dispatch_uid=f"sla-settings-saved-{model}")
        post_delete.connect(forget, sender=model, dispatch_uid=f"sla-settings-deleted-{model}")


def wall_time(text: str) -> time:
    """``"HH:MM"`` of a stored week as a ``time`` (24:00 as midnight)."""
    minutes = _minutes(text, day="")
    return time(0) if minutes == 24 * 60 else time(minutes // 60, minutes % 60)


# --- writes (admins) ------------------------------------------------------------------------


def _field_error(field_name: str, message: str) -> ApplicationError:
    return ApplicationError(
        _("The data sent is not valid."), extra={"fields": {field_name: [message]}}
    )


def _save_named(calendar: BusinessCalendar) -> None:
    """Save; the same name saved by another request a moment earlier (past the check of
    ``_unique_name``) is the same 400, not the unique index's 500."""
    try:
        with transaction.atomic():
            calendar.save()
    except IntegrityError:
        raise _field_error("name", _("A calendar with this name already exists.")) from None


def _unique_name(name: str, *, exclude: int | None = None) -> None:
    same = BusinessCalendar.objects.filter(name__iexact=name)
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        raise _field_error("name", _("A calendar with this name already exists."))


def _lock_all() -> None:
    """Lock every calendar (a handful of rows), in id order, before the default changes:
    two admins making two calendars the default at once then take turns, and the second
    unmarks the first's new default instead of breaking the one-default index (a 500)."""
    list(BusinessCalendar.objects.select_for_update(no_key=True).order_by("pk").values("pk"))


def _locked(calendar_id: int) -> BusinessCalendar:
    """The calendar's row, locked; a 404 when another request deleted it meanwhile."""
    calendar = BusinessCalendar.objects.select_for_update().filter(pk=calendar_id).first()
    if calendar is None:
        raise Http404
    return calendar


def _recompute(tickets: QuerySet[Ticket]) -> None:
    from tickets import sla  # noqa: PLC0415 (sla reads the calendars of this module)

    sla.recompute_open(tickets)


def _tickets_counting_in(calendar: BusinessCalendar) -> QuerySet[Ticket]:
    """The tickets whose clocks count in ``calendar``: its teams', and when it is the
    default, those of no team or of a team without a calendar of its own."""
    counted = Q(team__calendar=calendar)
    if calendar.is_default:
        counted |= Q(team__isnull=True) | Q(team__calendar__isnull=True)
    return Ticket.objects.filter(counted)


@transaction.atomic
def calendar_create(
    *,
    name: str,
    time_zone: str,
    week: dict[str, list[list[str]]],
    holidays: list[dict[str, str]],
    is_default: bool = False,
) -> BusinessCalendar:
    """A new calendar (``week``/``holidays`` as ``clean_*`` return them); made the default,
    it takes over from the old one and the tickets counting in that one move to it."""
    if is_default:
        _lock_all()
    _unique_name(name)
    if is_default:
        BusinessCalendar.objects.filter(is_default=True).update(is_default=False)
    calendar = BusinessCalendar(
        name=name,
        time_zone=time_zone,
        week=week,
        holidays=holidays,
        is_default=is_default,
        updated_at=timezone.now(),
    )
    _save_named(calendar)
    forget()
    if is_default:
        _recompute(_tickets_counting_in(calendar))
    return calendar


@transaction.atomic
def calendar_update(*, calendar_id: int, changes: dict[str, Any]) -> BusinessCalendar:
    """Change any of name, time zone, week, holidays, default (given keys only); the due
    times of the open tickets counting in it (or, made default, now counting in it) move.
    The default stays the default until another calendar is made the default."""
    if changes.get("is_default"):
        _lock_all()
    calendar = _locked(calendar_id)
    if "name" in changes:
        _unique_name(changes["name"], exclude=calendar.pk)
    if changes.get("is_default") is False and calendar.is_default:
        raise _field_error(
            "is_default", _("Make another calendar the default instead: one must be.")
        )
    if changes.get("is_default") and not calendar.is_default:
        BusinessCalendar.objects.filter(is_default=True).update(is_default=False)
    for name in ("name", "time_zone", "week", "holidays", "is_default"):
        if name in changes:
            setattr(calendar, name, changes[name])
    calendar.updated_at = timezone.now()
    _save_named(calendar)
    forget()
    _recompute(_tickets_counting_in(calendar))
    return calendar


@transaction.atomic
def calendar_delete(*, calendar_id: int) -> None:
    """Delete a calendar that is not the default (409): its teams count in the default."""
    calendar = _locked(calendar_id)
    if calendar.is_default:
        raise ConflictError(
            _("The default calendar cannot be deleted; make another one the default first."),
            extra={"code": "default_calendar"},
        )
    team_ids = list(calendar.teams.values_list("pk", flat=True))
    calendar.delete()
    forget()
    _recompute(Ticket.objects.filter(team__in=team_ids))
