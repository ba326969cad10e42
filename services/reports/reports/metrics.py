"""The report: every figure of ``summary/``, computed from the projection.

Definitions (the ones the API documents and the tests check):

- The **period** is ``date_from`` to ``date_to``, both inclusive, as local dates in
  ``REPORTS_TIME_ZONE``: from local midnight of the first day to local midnight after the
  last one, however long DST makes those days.
- The **cohort** is the tickets created in the period that match the filters (filters
  look at a ticket's current category, priority, assignee, status, team and tags; every
  tag given must be on the ticket). Counts, response and resolution times, SLA
  compliance, the reopen rate, the per-technician and per-team tables and the per-tag
  counts describe the cohort.
- The **timeline** describes activity in the period, for tickets matching the filters
  whenever they were created: tickets created, resolutions, reopens per day (or week),
  and the backlog (tickets open) at the end of each.
- **Times** run from creation: first response to ``first_response_at``; resolution to the
  current ``resolved_at`` of a resolved ticket (after a reopen: the last resolution).
  Mean, median and p90 (linear interpolation, as PostgreSQL's ``percentile_cont``).
- **SLA**: met when done by the due time, breached when done late or still not done when
  the due time passed by the report's ``as_of`` (the end of the period, or now if that is
  earlier), pending otherwise; compliance is met / (met + breached). Tickets without a
  due time do not count.
- **Reopen rate**: tickets reopened at least once / tickets resolved at least once.
- **Per team**: the cohort's tickets of each team (and those without one), counted by
  status; ``breached`` counts tickets with the first response or the resolution SLA
  breached; the mean resolution time is over the team's resolved tickets. A team
  deleted since keeps its name, marked ``deleted``.
- **Per tag**: how many cohort tickets carry each tag, the ``TOP_TAGS`` most used first.
- **Statuses**: ``open`` counts ``pending``, ``in_progress`` and ``waiting``; ``resolved``
  counts the tickets the desk is done with, ``resolved`` and ``closed`` (auto-closing a
  resolved ticket must not take it out of the figures a week later; a merged ticket is
  closed); ``closed`` says how many of those are closed. Resolution times and the
  resolution SLA of a closed ticket run to its ``resolved_at``, or its ``closed_at`` when
  it never was resolved (merged). While a ticket waits on the client its resolution
  clock is paused: it is breached only if its due time passed before the wait began.
- **Satisfaction** (``csat``), not the cohort but the answers and surveys of the period,
  for tickets matching the filters whenever created: ``answered`` counts tickets whose
  latest rating is dated in the period (``good``, ``bad``; ``percent`` = good /
  answered); ``surveyed`` counts tickets whose latest survey (a move to ``resolved`` that
  sent a rating link) went out in the period, a ticket resolved twice being one ticket,
  and ``responded`` how many of those have an answer now (``response_rate`` = responded
  / surveyed). A ticket counts for the technician it was assigned to when last rated
  (its current assignee while unanswered), and for its current team and category; the
  ``assignee_id`` filter means that technician here too.

Where the work happens: the database filters, groups and counts (one grouped query over
the cohort, one over the spells overlapping the period), and ships the durations
packed as binary floats; numpy takes the percentiles (a sort per group on the server
would cost more) and pandas rolls the grouped rows up into every
breakdown, turns days into weeks and accumulates the backlog. On other databases
(SQLite in local use) the durations are read as rows and the same code runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    Aggregate,
    BinaryField,
    Case,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.db.models.functions import TruncDate
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone
from django.utils.translation import gettext as _

from reports.models import (
    OpenSpell,
    Person,
    Priority,
    Rating,
    Status,
    Team,
    TicketFact,
    TicketTag,
)
from servidesk_shared.vocabulary import OPEN_STATUSES

HOUR: Final = 3600.0
DAY_INTERVAL: Final = "day"
WEEK_INTERVAL: Final = "week"
INTERVALS: Final = (DAY_INTERVAL, WEEK_INTERVAL)
#: Ranges longer than this are shown per week unless the caller asks otherwise.
DAILY_UP_TO_DAYS: Final = 92
UNASSIGNED: Final = "none"
#: ``team_id=none``: tickets without a team.
NO_TEAM: Final = "none"
#: How many tags ``by_tag`` lists, the most used first.
TOP_TAGS: Final = 50
#: Statuses of tickets the desk is done with: counted as resolved.
DONE_STATUSES: Final[frozenset[str]] = frozenset({Status.RESOLVED.value, Status.CLOSED.value})
#: Statuses that still owe the client work (the vocabulary's, as plain codes).
OPEN: Final[frozenset[str]] = frozenset(map(str, OPEN_STATUSES))

#: Resolution-time histogram buckets, in hours: [lower, upper).
RESOLUTION_BUCKETS: Final[tuple[tuple[float, float | None], ...]] = (
    (0, 1),
    (1, 4),
    (4, 8),
    (8, 24),
    (24, 72),
    (72, 168),
    (168, None),
)


def report_time_zone() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "REPORTS_TIME_ZONE", "") or settings.TIME_ZONE)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local day starts, in UTC.

    A midnight that falls in a DST gap (some zones move the clock at 00:00) resolves, as
    PEP 495 says for ``fold=0``, with the offset before the change: the instant the gap
    ends, which is when that day really starts.
    """
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class ReportQuery:
    """A validated request for a report: the period, the filters and the presentation."""

    date_from: date
    date_to: date
    category: str | None = None
    priority: str | None = None
    assignee_id: str | None = None
    status: str | None = None
    #: A team's id, or ``NO_TEAM``.
    team_id: str | None = None
    #: Every one of these tags must be on a ticket (normalised as tickets does).
    tags: tuple[str, ...] = ()
    interval: str | None = None
    time_zone: ZoneInfo = field(default_factory=report_time_zone)
    #: Fixed when the query is made, so every figure of one report uses the same instant.
    now: datetime = field(default_factory=timezone.now)

    @property
    def start(self) -> datetime:
        return local_midnight(self.date_from, self.time_zone)

    @property
    def end(self) -> datetime:
        """Exclusive: the start of the day after ``date_to``."""
        return local_midnight(self.date_to + timedelta(days=1), self.time_zone)

    @property
    def as_of(self) -> datetime:
        """When open SLAs are judged: the end of the period, or now if that is earlier."""
        return min(self.now, self.end)

    @property
    def last_day(self) -> date:
        """The last day the timeline shows: ``date_to``, or today for a period still running."""
        today = self.as_of.astimezone(self.time_zone).date()
        if self.as_of == self.end:
            return self.date_to
        return max(self.date_from, min(self.date_to, today))

    @property
    def resolved_interval(self) -> str:
        if self.interval:
            return self.interval
        days = (self.date_to - self.date_from).days + 1
        return DAY_INTERVAL if days <= DAILY_UP_TO_DAYS else WEEK_INTERVAL

    def filter_q(self, *, ticket: str = "pk", assignee: str = "assignee_id") -> Q:
        """The filters, on the attribute names ``TicketFact`` and ``OpenSpell`` share.

        ``ticket`` names the ticket's key on the filtered model (``pk`` on ``TicketFact``,
        ``ticket_id`` on ``OpenSpell``): the tag filter looks its tags up by it.
        ``assignee`` names the technician's column (satisfaction has its own).
        """
        q = Q()
        if self.category is not None:
            q &= Q(category=self.category)
        if self.priority is not None:
            q &= Q(priority=self.priority)
        if self.status is not None:
            q &= Q(status=self.status)
        if self.assignee_id == UNASSIGNED:
            q &= Q(**{f"{assignee}__isnull": True})
        elif self.assignee_id is not None:
            q &= Q(**{assignee: self.assignee_id})
        if self.team_id == NO_TEAM:
            q &= Q(team_id__isnull=True)
        elif self.team_id is not None:
            q &= Q(team_id=self.team_id)
        for tag in self.tags:
            q &= Q(Exists(TicketTag.objects.filter(ticket_id=OuterRef(ticket), tag=tag)))
        return q

    def filters(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "priority": self.priority,
            "assignee_id": self.assignee_id,
            "status": self.status,
            "team_id": self.team_id,
            "tag": list(self.tags),
        }


# --- database pieces ---------------------------------------------------------------------


class PackedFloats(Aggregate):
    """PostgreSQL: the group's non-null float8 values packed into one ``bytea``.

    ``string_agg(float8send(x), '')``: eight big-endian bytes a value, which numpy reads
    without parsing (``numpy.frombuffer(data, ">f8")``). Shipping the durations this way
    and taking percentiles with numpy is faster than ``percentile_cont``,
    which sorts every group on the server.
    """

    function = "STRING_AGG"
    name = "PackedFloats"
    template = "STRING_AGG(FLOAT8SEND(%(expressions)s), ''::bytea)"
    output_field = BinaryField()


def packs_floats() -> bool:
    return connection.vendor == "postgresql"


def cohort(query: ReportQuery) -> QuerySet[TicketFact]:
    return TicketFact.objects.filter(
        query.filter_q(), created_at__gte=query.start, created_at__lt=query.end
    )


def first_response_breached(as_of: datetime) -> Q:
    return Q(first_response_met=False) | Q(
        first_response_at__isnull=True, first_response_due__lt=as_of
    )


def _resolution_clock_ran_out(as_of: datetime) -> Q:
    """Not done and overdue by ``as_of``. A ticket waiting on the client has its clock
    paused (its due time is the one the wait began with): overdue only if that was
    already past when the wait began."""
    return Q(resolution_seconds__isnull=True, resolution_due__lt=as_of) & (
        Q(waiting_since__isnull=True) | Q(resolution_due__lt=F("waiting_since"))
    )


def resolution_breached(as_of: datetime) -> Q:
    return Q(resolution_met=False) | _resolution_clock_ran_out(as_of)


def sla_counts(as_of: datetime) -> dict[str, Count]:
    """Met / breached / pending counts of both SLAs as of ``as_of``, as aggregates, and
    ``breached``: the tickets with either SLA breached."""
    return {
        "fr_met": Count("pk", filter=Q(first_response_met=True)),
        "fr_breached": Count("pk", filter=first_response_breached(as_of)),
        "fr_pending": Count(
            "pk", filter=Q(first_response_at__isnull=True, first_response_due__gte=as_of)
        ),
        "res_met": Count("pk", filter=Q(resolution_met=True)),
        "res_breached": Count("pk", filter=resolution_breached(as_of)),
        "breached": Count("pk", filter=first_response_breached(as_of) | resolution_breached(as_of)),
        "res_pending": Count(
            "pk",
            filter=Q(resolution_seconds__isnull=True)
            & (
                Q(resolution_due__gte=as_of)
                | Q(waiting_since__isnull=False, resolution_due__gte=F("waiting_since"))
            ),
        ),
    }


GROUP_KEYS: Final = ["status", "priority", "category", "assignee_id", "team_id"]
GROUP_COUNTS: Final = [
    "n",
    "reopened",
    "ever_resolved",
    "fr_met",
    "fr_breached",
    "fr_pending",
    "res_met",
    "res_breached",
    "res_pending",
    "breached",
    "res_n",
    "res_seconds",
]


def cohort_groups(query: ReportQuery) -> pd.DataFrame:
    """One grouped query: the cohort's counts per (status, priority, category, assignee,
    team), with the resolution seconds summed for the per-team means."""
    rows = (
        cohort(query)
        .values(*GROUP_KEYS)
        .annotate(
            n=Count("pk"),
            reopened=Count("pk", filter=Q(reopen_count__gt=0)),
            ever_resolved=Count("pk", filter=Q(times_resolved__gt=0)),
            **sla_counts(query.as_of),
            res_n=Count("resolution_seconds"),
            res_seconds=Sum("resolution_seconds"),
        )
        .order_by()
    )
    frame = pd.DataFrame.from_records(list(rows), columns=[*GROUP_KEYS, *GROUP_COUNTS])
    return frame


Durations = dict[str | None, tuple[np.ndarray, np.ndarray]]


def cohort_durations(query: ReportQuery) -> Durations:
    """First-response and resolution seconds of the cohort, per assignee (``None``: nobody)."""
    facts = cohort(query)
    if packs_floats():
        rows = (
            facts.values("assignee_id")
            .annotate(
                fr=PackedFloats("first_response_seconds"),
                res=PackedFloats("resolution_seconds"),
            )
            .order_by()
        )
        return {row["assignee_id"]: (_unpack(row["fr"]), _unpack(row["res"])) for row in rows}
    frame = pd.DataFrame.from_records(
        list(facts.values_list("assignee_id", "first_response_seconds", "resolution_seconds")),
        columns=["assignee_id", "fr", "res"],
    )
    return {
        (None if pd.isna(key) else str(key)): (
            group["fr"].dropna().to_numpy(dtype="float64"),
            group["res"].dropna().to_numpy(dtype="float64"),
        )
        for key, group in frame.groupby("assignee_id", dropna=False, sort=False)
    }


def _unpack(data: bytes | memoryview | None) -> np.ndarray:
    if not data:
        return np.empty(0, dtype="float64")
    return np.frombuffer(bytes(data), dtype=">f8").astype("float64")


def _quantile(values: np.ndarray, fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as ``percentile_cont``."""
    return float(np.quantile(values, fraction)) if len(values) else None


def duration_figures(query: ReportQuery) -> dict[str, Any]:
    """Percentiles overall and per technician, and the resolution-time histogram."""
    durations = cohort_durations(query)
    empty = np.empty(0, dtype="float64")
    first_response = np.concatenate([fr for fr, _res in durations.values()] or [empty])
    resolution = np.concatenate([res for _fr, res in durations.values()] or [empty])
    edges = [lower * HOUR for lower, _upper in RESOLUTION_BUCKETS] + [np.inf]
    histogram, _edges = np.histogram(resolution, bins=edges)
    overall: dict[str, Any] = {
        "fr_n": len(first_response),
        "fr_mean": float(first_response.mean()) if len(first_response) else None,
        "res_n": len(resolution),
        "res_mean": float(resolution.mean()) if len(resolution) else None,
        "fr_p50": _quantile(first_response, 0.5),
        "fr_p90": _quantile(first_response, 0.9),
        "res_p50": _quantile(resolution, 0.5),
        "res_p90": _quantile(resolution, 0.9),
        **{f"bucket_{index}": int(count) for index, count in enumerate(histogram)},
    }
    per_technician = {
        assignee_id: {"fr_p50": _quantile(fr, 0.5), "res_p50": _quantile(res, 0.5)}
        for assignee_id, (fr, res) in durations.items()
        if assignee_id is not None
    }
    return {"overall": overall, "per_technician": per_technician}


class DayIndex(Func):
    """PostgreSQL: the 0-based index of the local day of the period an instant falls in.

    ``width_bucket`` against the period's local midnights (a binary search per row) is
    cheaper than converting every instant to local time and casting it to a date.
    """

    output_field = IntegerField()

    def __init__(self, expression: str, midnights: list[datetime]) -> None:
        super().__init__(expression)
        self.midnights = midnights

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(WIDTH_BUCKET({sql}, %s::timestamptz[]) - 1)", (*params, self.midnights)


def local_day(field: str, query: ReportQuery) -> Func:
    """The local day of ``field``: a day index on PostgreSQL, a date elsewhere."""
    if connection.vendor == "postgresql":
        days = (query.date_to - query.date_from).days + 2
        midnights = [
            local_midnight(query.date_from + timedelta(days=n), query.time_zone)
            for n in range(days)
        ]
        return DayIndex(field, midnights)
    return TruncDate(field, tzinfo=query.time_zone)


def day_offsets(values: pd.Series, query: ReportQuery) -> pd.Series:
    """What ``local_day`` gave as days from ``date_from``: -1 before the period, ``n``
    (the number of days) after it, NaN for no date."""
    days = (query.date_to - query.date_from).days + 1
    if pd.api.types.is_numeric_dtype(values):
        offsets = values.astype("float64")
    else:
        start = pd.Timestamp(query.date_from)
        offsets = (pd.to_datetime(values) - start).dt.days.astype("float64")
    return offsets.clip(lower=-1, upper=days)


def daily_activity(query: ReportQuery) -> pd.DataFrame:
    """Per local day of the period: created, resolutions, reopens and the backlog at its end.

    One query over ``OpenSpell``, the spells that overlap the period, counted per (day it
    started, day it ended, reopened): a spell starting in a day is a creation (or a
    reopen), one ending is a resolution, and those that started before the period are
    the opening backlog, to which the running sum of starts minus ends is added.
    """
    start, end = query.start, query.end
    rows = (
        OpenSpell.objects.filter(query.filter_q(ticket="ticket_id"), started_at__lt=end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
        .annotate(start_day=local_day("started_at", query), end_day=local_day("ended_at", query))
        .values("start_day", "end_day", "reopened")
        .annotate(n=Count("pk"))
        .order_by()
    )
    spells = pd.DataFrame.from_records(
        list(rows), columns=["start_day", "end_day", "reopened", "n"]
    )
    days = (query.date_to - query.date_from).days + 1
    counts = {name: np.zeros(days, dtype="int64") for name in ("created", "reopened", "resolved")}
    opening = 0
    if len(spells):
        started = day_offsets(spells["start_day"], query)
        ended = day_offsets(spells["end_day"], query)
        n = spells["n"].to_numpy(dtype="int64")
        reopened = spells["reopened"].to_numpy(dtype=bool)
        opening = int(n[(started < 0).to_numpy()].sum())
        inside = ((started >= 0) & (started < days)).to_numpy()
        for name, mask in (("created", inside & ~reopened), ("reopened", inside & reopened)):
            np.add.at(counts[name], started.to_numpy()[mask].astype("int64"), n[mask])
        closed = ((ended >= 0) & (ended < days)).to_numpy()
        np.add.at(counts["resolved"], ended.to_numpy()[closed].astype("int64"), n[closed])

    shown = (query.last_day - query.date_from).days + 1
    frame = pd.DataFrame(
        {name: values[:shown] for name, values in counts.items()},
        index=pd.date_range(query.date_from, periods=shown, freq="D", name="day"),
    )
    frame["backlog"] = opening + (frame["created"] + frame["reopened"] - frame["resolved"]).cumsum()
    frame.attrs["opening_backlog"] = opening
    return frame[["created", "resolved", "reopened", "backlog"]]


def timeline(daily: pd.DataFrame, interval: str) -> pd.DataFrame:
    """The daily frame as shown: per day, or per week (Monday-based, backlog at its end).

    A week cut by the start of the period is labelled with the period's first day.
    """
    if interval == DAY_INTERVAL or daily.empty:
        return daily
    days = daily.index
    mondays = days - pd.to_timedelta(days.day_of_week, unit="D")
    week_starts = mondays.where(mondays >= days[0], days[0])
    grouped = daily.groupby(week_starts)
    frame = grouped[[name for name in daily.columns if name != "backlog"]].sum()
    frame["backlog"] = grouped["backlog"].last()
    frame.index.name = "day"
    return frame[list(daily.columns)].astype("int64")


# --- satisfaction ----------------------------------------------------------------------

CSAT_KEYS: Final = ["assignee_id", "team_id", "category"]
CSAT_COUNTS: Final = ["good", "bad", "surveyed", "responded"]
#: The columns ``csat_daily`` adds to the daily frame.
CSAT_DAILY: Final = ["rated_good", "rated_bad"]


def csat_groups(query: ReportQuery) -> pd.DataFrame:
    """One grouped query: the answers dated and the surveys sent in the period, for
    tickets matching the filters, per (technician, team, category, local day of the
    answer). The technician is the assignee when last rated, else the current one."""
    start, end = query.start, query.end
    rated = Q(rated_at__gte=start, rated_at__lt=end)
    surveyed = Q(surveyed_at__gte=start, surveyed_at__lt=end)
    rows = (
        TicketFact.objects.annotate(
            csat_assignee=Case(
                When(rating__isnull=False, then=F("rated_assignee_id")),
                default=F("assignee_id"),
            )
        )
        .filter(query.filter_q(assignee="csat_assignee"))
        .filter(rated | surveyed)
        .annotate(rated_day=local_day("rated_at", query))
        .values("csat_assignee", "team_id", "category", "rated_day")
        .annotate(
            good=Count("pk", filter=rated & Q(rating=Rating.GOOD)),
            bad=Count("pk", filter=rated & Q(rating=Rating.BAD)),
            surveyed=Count("pk", filter=surveyed),
            responded=Count("pk", filter=surveyed & Q(rating__isnull=False)),
        )
        .order_by()
    )
    frame = pd.DataFrame.from_records(
        list(rows), columns=["csat_assignee", "team_id", "category", "rated_day", *CSAT_COUNTS]
    )
    return frame.rename(columns={"csat_assignee": "assignee_id"})


def csat_daily(daily: pd.DataFrame, csat: pd.DataFrame, query: ReportQuery) -> pd.DataFrame:
    """The daily frame with the answers of each day: ``rated_good``, ``rated_bad``."""
    days = len(daily)
    counts = {name: np.zeros(days, dtype="int64") for name in CSAT_DAILY}
    if len(csat) and days:
        offsets = day_offsets(csat["rated_day"], query).to_numpy()
        inside = (offsets >= 0) & (offsets < days)
        at = offsets[inside].astype("int64")
        np.add.at(counts["rated_good"], at, csat["good"].to_numpy(dtype="int64")[inside])
        np.add.at(counts["rated_bad"], at, csat["bad"].to_numpy(dtype="int64")[inside])
    frame = daily.assign(**counts)
    frame.attrs = dict(daily.attrs)
    return frame


def csat_block(good: int, bad: int, surveyed: int, responded: int) -> dict[str, Any]:
    """The satisfaction figures of one group: ``score`` = good / answered, and
    ``response_rate`` = responded / surveyed (both ``None`` for no denominator)."""
    answered = good + bad
    return {
        "answered": answered,
        "good": good,
        "bad": bad,
        "score": _ratio(good, answered),
        "surveyed": surveyed,
        "responded": responded,
        "response_rate": _ratio(responded, surveyed),
    }


def _csat_sums(csat: pd.DataFrame, key: str) -> pd.DataFrame:
    """Sums per ``key``, a missing id (nobody, no team) being a group of its own (NaN)."""
    return csat.groupby(key, dropna=False)[CSAT_COUNTS].sum()


def _key(value: Any) -> str | None:
    return None if pd.isna(value) else str(value)


def _csat_of(row: pd.Series) -> dict[str, Any]:
    return csat_block(*(int(row[name]) for name in CSAT_COUNTS))


def csat_summary(
    csat: pd.DataFrame,
    shown: pd.DataFrame,
    *,
    names: dict[str, str],
    teams: dict[str, Team],
) -> dict[str, Any]:
    """``csat`` of the summary: the figures, per shown day or week, and per technician
    (by name, "Unassigned" last), team (by name, "No team" last) and category (most
    answered first)."""
    total = csat[CSAT_COUNTS].sum() if len(csat) else pd.Series(0, index=CSAT_COUNTS)
    by_technician: list[dict[str, Any]] = []
    by_team: list[dict[str, Any]] = []
    by_category: list[dict[str, Any]] = []
    if len(csat):
        for key, row in _csat_sums(csat, "assignee_id").iterrows():
            assignee_id = _key(key)
            by_technician.append(
                {
                    "assignee_id": assignee_id,
                    "name": technician_label(assignee_id, names),
                    **_csat_of(row),
                }
            )
        for key, row in _csat_sums(csat, "team_id").iterrows():
            team_id = _key(key)
            team = teams.get(team_id) if team_id is not None else None
            by_team.append(
                {
                    "team_id": team_id,
                    "name": team_label(team_id, teams),
                    "deleted": bool(team is not None and team.deleted),
                    **_csat_of(row),
                }
            )
        for key, row in csat.groupby("category")[CSAT_COUNTS].sum().iterrows():
            name = str(key)
            by_category.append({"category": name, "label": category_label(name), **_csat_of(row)})
    by_technician.sort(
        key=lambda r: (r["assignee_id"] is None, r["name"].casefold(), r["assignee_id"] or "")
    )
    by_team.sort(key=lambda r: (r["team_id"] is None, r["name"].casefold(), r["team_id"] or ""))
    by_category.sort(key=lambda r: (-r["answered"], r["category"]))
    return {
        **csat_block(*(_int(total[name]) for name in CSAT_COUNTS)),
        "timeline": [
            {
                "date": day.date().isoformat(),
                "answered": int(row.rated_good + row.rated_bad),
                "good": int(row.rated_good),
                "bad": int(row.rated_bad),
                "score": _ratio(int(row.rated_good), int(row.rated_good + row.rated_bad)),
            }
            for day, row in shown.iterrows()
        ],
        "by_technician": by_technician,
        "by_team": by_team,
        "by_category": by_category,
    }


# --- assembling the report ---------------------------------------------------------------


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / HOUR, 2)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def sla_block(met: int, breached: int, pending: int) -> dict[str, Any]:
    return {
        "met": met,
        "breached": breached,
        "pending": pending,
        "compliance": _ratio(met, met + breached),
    }


def status_label(value: str) -> str:
    return str(Status(value).label) if value in Status.values else value


def priority_label(value: str) -> str:
    return str(Priority(value).label) if value in Priority.values else value


def category_label(value: str) -> str:
    return value or _("No category")


def names_of(user_ids: list[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    return {
        person.user_id: person.display_name
        for person in Person.objects.filter(user_id__in=user_ids).only(
            "user_id", "username", "full_name"
        )
    }


def technician_label(assignee_id: str | None, names: dict[str, str]) -> str:
    if assignee_id is None:
        return _("Unassigned")
    return names.get(assignee_id) or f"#{assignee_id}"


def teams_of(team_ids: list[str]) -> dict[str, Team]:
    """The directory's rows of these teams, deleted ones included (one query, or none)."""
    if not team_ids:
        return {}
    return {team.team_id: team for team in Team.objects.filter(team_id__in=team_ids)}


def team_label(team_id: str | None, teams: dict[str, Team]) -> str:
    """A team's name; "No team" for none, ``#id`` for a team no event named yet."""
    if team_id is None or team_id == NO_TEAM:
        return _("No team")
    team = teams.get(team_id)
    return team.name if team is not None else f"#{team_id}"


def tag_counts(query: ReportQuery) -> list[dict[str, Any]]:
    """The cohort's tags with how many of its tickets carry each: the ``TOP_TAGS`` most
    used, most used first, then by tag."""
    rows = (
        TicketTag.objects.filter(ticket__in=cohort(query).values("pk"))
        .values("tag")
        .annotate(n=Count("pk"))
        .order_by("-n", "tag")[:TOP_TAGS]
    )
    return [{"tag": row["tag"], "count": int(row["n"])} for row in rows]


@dataclass(frozen=True)
class Report:
    """``summary``: the JSON of ``summary/``; ``daily``: the per-day frame behind it;
    ``team_names``: the directory's name of every team of the cohort and of the filter
    (a team no event named yet is missing)."""

    summary: dict[str, Any]
    daily: pd.DataFrame
    team_names: dict[str, str] = field(default_factory=dict)


def report_summary(query: ReportQuery) -> dict[str, Any]:
    """The whole report as JSON-ready builtins, in the active language."""
    return compute_report(query).summary


def compute_report(query: ReportQuery) -> Report:
    groups = cohort_groups(query)
    durations = duration_figures(query)
    csat = csat_groups(query)
    daily = csat_daily(daily_activity(query), csat, query)
    interval = query.resolved_interval
    shown = timeline(daily, interval)

    total = groups[GROUP_COUNTS].sum() if len(groups) else pd.Series(0, index=GROUP_COUNTS)
    created = _int(total["n"])

    def counts_by(key: str) -> dict[str, int]:
        if groups.empty:
            return {}
        return {str(k): int(v) for k, v in groups.groupby(key, dropna=False)["n"].sum().items()}

    by_status = counts_by("status")
    by_priority = counts_by("priority")
    by_category = counts_by("category")
    resolved = sum(by_status.get(value, 0) for value in DONE_STATUSES)
    still_open = sum(by_status.get(value, 0) for value in OPEN)

    def ids_in(column: str) -> set[str]:
        """The ids of ``column`` in the cohort's groups and the satisfaction ones."""
        return {
            str(value)
            for frame in (groups, csat)
            if not frame.empty
            for value in frame[column].dropna().unique()
        }

    team_ids = ids_in("team_id")
    if query.team_id is not None and query.team_id != NO_TEAM:
        team_ids.add(query.team_id)
    teams = teams_of(sorted(team_ids))
    lead_ids = [team.lead_id for team in teams.values() if team.lead_id is not None]
    names = names_of(sorted({*ids_in("assignee_id"), *lead_ids}))
    technicians = _technician_rows(groups, durations["per_technician"], names)
    by_team = _team_rows(groups, teams, names)
    by_tag = tag_counts(query) if created else []
    overall = durations["overall"]
    summary = {
        "period": {
            "from": query.date_from.isoformat(),
            "to": query.date_to.isoformat(),
            "time_zone": query.time_zone.key,
            "interval": interval,
            "as_of": query.as_of.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        },
        "filters": query.filters(),
        "totals": {
            "created": created,
            "open": still_open,
            "resolved": resolved,
            "closed": by_status.get(Status.CLOSED, 0),
            "reopened": _int(total["reopened"]),
            "unassigned": int(groups.loc[groups["assignee_id"].isna(), "n"].sum())
            if len(groups)
            else 0,
        },
        "by_status": [
            {"status": value, "label": str(label), "count": by_status.get(value, 0)}
            for value, label in Status.choices
        ],
        "by_priority": [
            {"priority": value, "label": str(label), "count": by_priority.get(value, 0)}
            for value, label in Priority.choices
        ],
        "by_category": [
            {"category": name, "label": category_label(name), "count": count}
            for name, count in sorted(by_category.items(), key=lambda item: (-item[1], item[0]))
        ],
        "first_response": {
            "count": overall["fr_n"],
            "mean_hours": _hours(overall["fr_mean"]),
            "median_hours": _hours(overall["fr_p50"]),
            "p90_hours": _hours(overall["fr_p90"]),
            "sla": sla_block(
                _int(total["fr_met"]), _int(total["fr_breached"]), _int(total["fr_pending"])
            ),
        },
        "resolution": {
            "count": overall["res_n"],
            "mean_hours": _hours(overall["res_mean"]),
            "median_hours": _hours(overall["res_p50"]),
            "p90_hours": _hours(overall["res_p90"]),
            "sla": sla_block(
                _int(total["res_met"]), _int(total["res_breached"]), _int(total["res_pending"])
            ),
            "distribution": [
                {
                    "from_hours": lower,
                    "to_hours": upper,
                    "label": bucket_label(lower, upper),
                    "count": _int(overall[f"bucket_{index}"]),
                }
                for index, (lower, upper) in enumerate(RESOLUTION_BUCKETS)
            ],
        },
        "reopen_rate": _ratio(_int(total["reopened"]), _int(total["ever_resolved"])),
        "activity": {
            "backlog_start": int(daily.attrs.get("opening_backlog", 0)),
            "backlog_end": int(daily["backlog"].iloc[-1])
            if len(daily)
            else int(daily.attrs.get("opening_backlog", 0)),
            "created": int(daily["created"].sum()),
            "resolved": int(daily["resolved"].sum()),
            "reopened": int(daily["reopened"].sum()),
        },
        "timeline": [
            {
                "date": day.date().isoformat(),
                "created": int(row.created),
                "resolved": int(row.resolved),
                "reopened": int(row.reopened),
                "backlog": int(row.backlog),
            }
            for day, row in shown.iterrows()
        ],
        "technicians": technicians,
        "by_team": by_team,
        "by_tag": by_tag,
        "csat": csat_summary(csat, shown, names=names, teams=teams),
    }
    team_names = {team_id: team.name for team_id, team in teams.items()}
    return Report(summary=summary, daily=daily, team_names=team_names)


def bucket_label(lower: float, upper: float | None) -> str:
    def fmt(hours: float) -> str:
        if hours >= 24 and hours % 24 == 0:
            return _("%(count)d d") % {"count": hours // 24}
        return _("%(count)d h") % {"count": hours}

    if upper is None:
        return _("%(from)s or more") % {"from": fmt(lower)}
    return f"{fmt(lower)}\u2013{fmt(upper)}"


def _technician_rows(
    groups: pd.DataFrame, per_technician: dict[str, dict[str, Any]], names: dict[str, str]
) -> list[dict[str, Any]]:
    assigned = groups.dropna(subset=["assignee_id"])
    if assigned.empty:
        return []
    assigned = assigned.assign(
        resolved=assigned["status"].isin(list(DONE_STATUSES)) * assigned["n"],
        open=assigned["status"].isin(list(OPEN)) * assigned["n"],
    )
    sums = assigned.groupby("assignee_id")[
        ["n", "resolved", "open", "reopened", "fr_met", "fr_breached", "res_met", "res_breached"]
    ].sum()
    rows: list[dict[str, Any]] = []
    for assignee_id, row in sums.iterrows():
        key = str(assignee_id)
        medians = per_technician.get(key, {})
        rows.append(
            {
                "assignee_id": key,
                "name": technician_label(key, names),
                "assigned": int(row["n"]),
                "open": int(row["open"]),
                "resolved": int(row["resolved"]),
                "reopened": int(row["reopened"]),
                "median_first_response_hours": _hours(medians.get("fr_p50")),
                "median_resolution_hours": _hours(medians.get("res_p50")),
                "first_response_sla_compliance": _ratio(
                    int(row["fr_met"]), int(row["fr_met"] + row["fr_breached"])
                ),
                "resolution_sla_compliance": _ratio(
                    int(row["res_met"]), int(row["res_met"] + row["res_breached"])
                ),
            }
        )
    rows.sort(key=lambda r: (r["name"].casefold(), r["assignee_id"]))
    return rows


TEAM_SUMS: Final = [
    "n",
    *(f"status_{value}" for value in Status.values),
    "reopened",
    "breached",
    "fr_met",
    "fr_breached",
    "res_met",
    "res_breached",
    "res_n",
    "res_seconds",
]


def _team_rows(
    groups: pd.DataFrame, teams: dict[str, Team], names: dict[str, str]
) -> list[dict[str, Any]]:
    """One row per team with tickets in the cohort, by name, then one for "no team"."""
    if groups.empty:
        return []
    frame = groups.assign(
        team_id=groups["team_id"].fillna(NO_TEAM),
        **{f"status_{value}": (groups["status"] == value) * groups["n"] for value in Status.values},
    )
    sums = frame.groupby("team_id")[TEAM_SUMS].sum()
    rows: list[dict[str, Any]] = []
    for key, row in sums.iterrows():
        team_id = None if key == NO_TEAM else str(key)
        team = teams.get(team_id) if team_id is not None else None
        lead_id = team.lead_id if team is not None else None
        resolved = sum(int(row[f"status_{value}"]) for value in DONE_STATUSES)
        still_open = sum(int(row[f"status_{value}"]) for value in OPEN)
        res_n = int(row["res_n"])
        rows.append(
            {
                "team_id": team_id,
                "name": team_label(team_id, teams),
                "deleted": bool(team is not None and team.deleted),
                "lead_id": lead_id,
                "lead_name": technician_label(lead_id, names) if lead_id is not None else None,
                "members": len(team.member_ids) if team is not None else None,
                "tickets": int(row["n"]),
                "by_status": {value: int(row[f"status_{value}"]) for value in Status.values},
                "open": still_open,
                "resolved": resolved,
                "reopened": int(row["reopened"]),
                "breached": int(row["breached"]),
                "mean_resolution_hours": _hours(float(row["res_seconds"]) / res_n)
                if res_n
                else None,
                "first_response_sla_compliance": _ratio(
                    int(row["fr_met"]), int(row["fr_met"] + row["fr_breached"])
                ),
                "resolution_sla_compliance": _ratio(
                    int(row["res_met"]), int(row["res_met"] + row["res_breached"])
                ),
            }
        )
    rows.sort(key=lambda r: (r["team_id"] is None, r["name"].casefold(), r["team_id"] or ""))
    return rows
