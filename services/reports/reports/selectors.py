"""Reads for the API besides the summary: filter lookups and the cohort's ticket rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.db.models import FloatField, Func, Q
from django.utils import timezone

from reports.metrics import HOUR, ReportQuery, cohort
from reports.models import ExportJob, Person, Team, TicketFact, TicketTag
from servidesk_shared.auth import UserDirectory

MET: Final = "met"
BREACHED: Final = "breached"
PENDING: Final = "pending"
ROWS_CHUNK: Final = 5000


def category_exists(category: str) -> bool:
    return TicketFact.objects.filter(category=category).exists()


def assignee_exists(assignee_id: str) -> bool:
    """A technician we know of: from ``user.*`` events, or as the assignee of a ticket,
    now or when it was answered (satisfaction counts for that one)."""
    return (
        Person.objects.filter(user_id=assignee_id).exists()
        or TicketFact.objects.filter(assignee_id=assignee_id).exists()
        or TicketFact.objects.filter(rated_assignee_id=assignee_id).exists()
    )


def team_exists(team_id: str) -> bool:
    """A team we know of: from ``team.*`` events (deleted ones too), or from a ticket."""
    return (
        Team.objects.filter(team_id=team_id).exists()
        or TicketFact.objects.filter(team_id=team_id).exists()
    )


def existing_tags(tags: list[str]) -> set[str]:
    """Which of ``tags`` some ticket has, in one query."""
    return set(TicketTag.objects.filter(tag__in=tags).values_list("tag", flat=True).distinct())


#: ``directory_entry(user_id=...)``: ``(is_active, role)`` of a person, or ``None``.
#: ``SERVIDESK_USER_DIRECTORY`` names it: every request's caller is checked here.
directory_entry: Final = UserDirectory(Person, key="user_id")


def person_names(user_ids: list[str]) -> dict[str, str]:
    return {
        person.user_id: person.display_name
        for person in Person.objects.filter(user_id__in=user_ids).only(
            "user_id", "username", "full_name"
        )
    }


@dataclass(frozen=True)
class Column:
    key: str
    kind: str  # "text", "int", "hours", "datetime", "tags" (a list of text)


#: The ticket rows of the CSV and of the xlsx "Tickets" sheet, in this order.
TICKET_COLUMNS: Final = (
    Column("number", "text"),
    Column("ticket_id", "text"),
    Column("title", "text"),
    Column("status", "text"),
    Column("priority", "text"),
    Column("category", "text"),
    Column("assignee_id", "text"),
    Column("assignee_name", "text"),
    Column("client_id", "text"),
    Column("created_at", "datetime"),
    Column("first_response_at", "datetime"),
    Column("resolved_at", "datetime"),
    Column("first_response_due", "datetime"),
    Column("resolution_due", "datetime"),
    Column("first_response_hours", "hours"),
    Column("resolution_hours", "hours"),
    Column("first_response_sla", "text"),
    Column("resolution_sla", "text"),
    Column("reopen_count", "int"),
    Column("pending_hours", "hours"),
    Column("in_progress_hours", "hours"),
    # Added with teams and tags (issue 18): at the end, so older readers keep their columns.
    Column("team_id", "text"),
    Column("team_name", "text"),
    Column("tags", "tags"),
    # Added with the new statuses and satisfaction (issue 19), at the end likewise.
    Column("waiting_hours", "hours"),
    Column("closed_at", "datetime"),
    Column("follow_up_of_id", "text"),
    Column("surveyed_at", "datetime"),
    Column("rating", "text"),
    Column("rated_at", "datetime"),
)


class Epoch(Func):
    """Seconds since 1970 (UTC) of a datetime column, as a float.

    Exports read instants this way: a float crosses the driver far faster than a
    ``datetime`` (Django's timestamptz loader is pure Python), and ``LocalClock`` turns
    it into local time for a whole column at a fraction of the cost.
    """

    output_field = FloatField()

    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)"

    def get_db_converters(self, connection: Any) -> list[Any]:
        # Both databases return a float already, and a FloatField has no converter of its
        # own: none, rather than the float() cast Django adds per value for a FloatField
        # output (it matters at hundreds of thousands of rows).
        return []

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)",
            **extra,
        )


class LocalClock:
    """UTC epochs to local wall-clock time in one zone, with the offsets cached.

    Offsets change only at DST transitions, which fall on quarter hours, so one lookup
    per quarter hour serves every instant in it.
    """

    QUARTER: Final = 900
    EXCEL_EPOCH_DAYS: Final = 25569.0  # 1970-01-01 in Excel's 1900 date system

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._offsets: dict[int, int] = {}
        self._suffixes: dict[int, str] = {}

    def offset(self, epoch: float) -> int:
        quarter = int(epoch // self.QUARTER)
        found = self._offsets.get(quarter)
        if found is None:
            instant = datetime.fromtimestamp(quarter * self.QUARTER, tz=self.tz)
            delta = instant.utcoffset()
            found = int(delta.total_seconds()) if delta is not None else 0
            self._offsets[quarter] = found
        return found

    def excel(self, epoch: float | None) -> float | None:
        """The local time as an Excel serial date (days since 1899-12-30)."""
        if epoch is None:
            return None
        return (epoch + self.offset(epoch)) / 86400.0 + self.EXCEL_EPOCH_DAYS

    def iso(self, epoch: float | None) -> str | None:
        """ISO 8601 with the local offset, to the second: ``2025-03-30T03:30:00+02:00``."""
        if epoch is None:
            return None
        offset = self.offset(epoch)
        suffix = self._suffixes.get(offset)
        if suffix is None:
            sign = "+" if offset >= 0 else "-"
            hours, minutes = divmod(abs(offset) // 60, 60)
            suffix = self._suffixes[offset] = f"{sign}{hours:02d}:{minutes:02d}"
        local = datetime.fromtimestamp(round(epoch) + offset, tz=UTC)
        return local.replace(tzinfo=None).isoformat() + suffix

    def local(self, epoch: float | None) -> datetime | None:
        return None if epoch is None else datetime.fromtimestamp(epoch, tz=self.tz)


def sla_outcome(
    met: bool | None,
    done: bool,
    due: float | None,
    as_of: float,
    paused_since: float | None = None,
) -> str | None:
    """The same rule the summary counts with (``metrics.sla_counts``); times are epochs.

    ``paused_since``: when the clock was paused (the ticket waits on the client); it is
    breached then only if it was already overdue when the pause began.
    """
    if met is not None:
        return MET if met else BREACHED
    if due is None or done:
        return None
    overdue = due < as_of and (paused_since is None or due < paused_since)
    return BREACHED if overdue else PENDING


def ticket_rows(
    query: ReportQuery, *, names: dict[str, str], team_names: dict[str, str]
) -> Iterator[tuple[Any, ...]]:
    """The cohort as rows of ``TICKET_COLUMNS``, oldest first; datetimes as UTC epochs,
    tags as a list.

    Read in chunks through a server-side cursor, so memory stays flat however many.
    ``names`` maps assignee ids to display names, ``team_names`` team ids to names (an
    id missing from either gives an empty name). Convert the epochs with ``LocalClock``.
    """
    as_of = query.as_of.timestamp()
    rows = (
        cohort(query)
        .order_by("created_at", "pk")
        .values_list(
            "number",
            "ticket_id",
            "title",
            "status",
            "priority",
            "category",
            "assignee_id",
            "client_id",
            Epoch("created_at"),
            Epoch("first_response_at"),
            Epoch("resolved_at"),
            Epoch("first_response_due"),
            Epoch("resolution_due"),
            "first_response_seconds",
            "resolution_seconds",
            "first_response_met",
            "resolution_met",
            "reopen_count",
            "pending_seconds",
            "in_progress_seconds",
            "team_id",
            "tags",
            "waiting_seconds",
            Epoch("closed_at"),
            "follow_up_of_id",
            Epoch("surveyed_at"),
            "rating",
            Epoch("rated_at"),
            Epoch("waiting_since"),
        )
    )
    for (
        number,
        ticket_id,
        title,
        status,
        priority,
        category,
        assignee_id,
        client_id,
        created_at,
        first_response_at,
        resolved_at,
        first_response_due,
        resolution_due,
        first_response_seconds,
        resolution_seconds,
        first_response_met,
        resolution_met,
        reopen_count,
        pending_seconds,
        in_progress_seconds,
        team_id,
        tags,
        waiting_seconds,
        closed_at,
        follow_up_of_id,
        surveyed_at,
        rating,
        rated_at,
        waiting_since,
    ) in rows.iterator(chunk_size=ROWS_CHUNK):
        yield (
            number,
            ticket_id,
            title,
            status,
            priority,
            category,
            assignee_id,
            names.get(assignee_id, "") if assignee_id is not None else "",
            client_id,
            created_at,
            first_response_at,
            resolved_at,
            first_response_due,
            resolution_due,
            None if first_response_seconds is None else first_response_seconds / HOUR,
            None if resolution_seconds is None else resolution_seconds / HOUR,
            sla_outcome(
                first_response_met, first_response_at is not None, first_response_due, as_of
            ),
            sla_outcome(
                resolution_met, resolution_seconds is not None, resolution_due, as_of, waiting_since
            ),
            reopen_count,
            pending_seconds / HOUR,
            in_progress_seconds / HOUR,
            team_id,
            team_names.get(team_id, "") if team_id is not None else "",
            tags or [],
            (waiting_seconds or 0.0) / HOUR,
            closed_at,
            follow_up_of_id,
            surveyed_at,
            rating,
            rated_at,
        )


def cohort_assignee_names(query: ReportQuery) -> dict[str, str]:
    """Names of the assignees in the cohort, in one query."""
    assignees = cohort(query).filter(~Q(assignee_id=None)).values("assignee_id")
    return {
        person.user_id: person.display_name
        for person in Person.objects.filter(user_id__in=assignees).only(
            "user_id", "username", "full_name"
        )
    }


def cohort_team_names(query: ReportQuery) -> dict[str, str]:
    """Names of the teams in the cohort (deleted ones too), in one query."""
    teams = cohort(query).filter(~Q(team_id=None)).values("team_id")
    return dict(Team.objects.filter(team_id__in=teams).values_list("team_id", "name"))


# --- export jobs (issue 22) ----------------------------------------------------------------


def export_job_of(*, owner_id: str, job_id: str) -> ExportJob | None:
    """``owner_id``'s job ``job_id`` while it is kept, without its file; ``None`` for
    anyone else's, an expired one or a malformed id (all look the same: not found)."""
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        return None
    return (
        ExportJob.objects.filter(pk=key, owner_id=owner_id, expires_at__gt=timezone.now())
        .defer("content")
        .first()
    )


def export_content(*, job: ExportJob) -> bytes:
    """The file of a finished ``job``."""
    content = ExportJob.objects.filter(pk=job.pk).values_list("content", flat=True).first()
    return bytes(content or b"")
