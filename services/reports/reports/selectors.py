"""Reads for the API besides the summary: filter lookups and the cohort's ticket rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.db.models import Q

from reports.metrics import HOUR, ReportQuery, cohort
from reports.models import Person, TicketFact

MET: Final = "met"
BREACHED: Final = "breached"
PENDING: Final = "pending"
ROWS_CHUNK: Final = 5000


def category_exists(category: str) -> bool:
    return TicketFact.objects.filter(category=category).exists()


def assignee_exists(assignee_id: str) -> bool:
    """A technician we know of: from ``user.*`` events, or as the assignee of a ticket."""
    return (
        Person.objects.filter(user_id=assignee_id).exists()
        or TicketFact.objects.filter(assignee_id=assignee_id).exists()
    )


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
    kind: str  # "text", "int", "hours", "datetime"


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
)

_FIELDS: Final = (
    "number",
    "ticket_id",
    "title",
    "status",
    "priority",
    "category",
    "assignee_id",
    "client_id",
    "created_at",
    "first_response_at",
    "resolved_at",
    "first_response_due",
    "resolution_due",
    "first_response_seconds",
    "resolution_seconds",
    "first_response_met",
    "resolution_met",
    "reopen_count",
    "pending_seconds",
    "in_progress_seconds",
)


def sla_outcome(met: bool | None, done: bool, due: datetime | None, as_of: datetime) -> str | None:
    """The same rule the summary counts with (``metrics.sla_counts``)."""
    if met is not None:
        return MET if met else BREACHED
    if due is None or done:
        return None
    return BREACHED if due < as_of else PENDING


def ticket_rows(query: ReportQuery, *, names: dict[str, str]) -> Iterator[tuple[Any, ...]]:
    """The cohort as rows of ``TICKET_COLUMNS``, oldest first, datetimes aware in the zone.

    Read in chunks through a server-side cursor, so memory stays flat however many.
    ``names`` maps assignee ids to display names (``person_names``).
    """
    tz: ZoneInfo = query.time_zone
    as_of = query.as_of

    def local(value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(tz)

    def hours(seconds: float | None) -> float | None:
        return None if seconds is None else seconds / HOUR

    rows = cohort(query).order_by("created_at", "pk").values_list(*_FIELDS)
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
            local(created_at),
            local(first_response_at),
            local(resolved_at),
            local(first_response_due),
            local(resolution_due),
            hours(first_response_seconds),
            hours(resolution_seconds),
            sla_outcome(
                first_response_met, first_response_at is not None, first_response_due, as_of
            ),
            sla_outcome(resolution_met, resolution_seconds is not None, resolution_due, as_of),
            reopen_count,
            hours(pending_seconds),
            hours(in_progress_seconds),
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
