"""What every download shares: file names, column titles and the fixed build date."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, TypeGuard, TypeVar

from django.utils.translation import gettext as _

from reports.metrics import ReportQuery

#: What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"): these
#: first characters, tab and carriage return included.
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")

#: Stamped wherever a format wants a creation date, so the same data gives the same bytes.
FIXED_TIMESTAMP: Final = datetime(2000, 1, 1, tzinfo=UTC)

CONTENT_TYPES: Final = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "png": "image/png",
    "svg": "image/svg+xml",
}


Cell = TypeVar("Cell")


def reads_as_formula(value: object) -> TypeGuard[str]:
    """Whether a spreadsheet would take ``value`` for a formula if written as it is.

    The one rule both spreadsheet downloads follow for every cell whose text a user
    controls (titles, names, categories...). Only text can be a formula: a number, even
    a negative one, stays a number.
    """
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def spreadsheet_csv_value(value: Cell) -> Cell | str:
    """``value`` as a CSV cell that a spreadsheet shows as text, never runs.

    Text that :func:`reads_as_formula` gets a single quote in front (OWASP's advice for
    CSV, where there is no cell type to say "text"); anything else is returned as is.
    """
    return "'" + value if reads_as_formula(value) else value


def file_name(query: ReportQuery, extension: str, *, stem: str = "servidesk-report") -> str:
    """``servidesk-report_2025-03-01_2025-03-31.pdf``: ASCII only, the period in it."""
    return f"{stem}_{query.date_from.isoformat()}_{query.date_to.isoformat()}.{extension}"


def ticket_column_titles() -> dict[str, str]:
    """Human titles of ``selectors.TICKET_COLUMNS`` (the CSV keeps the keys)."""
    return {
        "number": _("Number"),
        "ticket_id": _("Ticket id"),
        "title": _("Title"),
        "status": _("Status"),
        "priority": _("Priority"),
        "category": _("Category"),
        "assignee_id": _("Technician id"),
        "assignee_name": _("Technician"),
        "client_id": _("Client id"),
        "created_at": _("Created at"),
        "first_response_at": _("First response at"),
        "resolved_at": _("Resolved at"),
        "first_response_due": _("First response due"),
        "resolution_due": _("Resolution due"),
        "first_response_hours": _("First response (h)"),
        "resolution_hours": _("Resolution (h)"),
        "first_response_sla": _("First response SLA"),
        "resolution_sla": _("Resolution SLA"),
        "reopen_count": _("Reopened (times)"),
        "pending_hours": _("Time pending (h)"),
        "in_progress_hours": _("Time in progress (h)"),
        "team_id": _("Team id"),
        "team_name": _("Team"),
        "tags": _("Tags"),
        "waiting_hours": _("Time waiting on the client (h)"),
        "closed_at": _("Closed at"),
        "follow_up_of_id": _("Follow-up of (ticket id)"),
        "surveyed_at": _("Survey sent at"),
        "rating": _("Rating"),
        "rated_at": _("Rated at"),
    }


def sla_outcome_labels() -> dict[str | None, str]:
    return {"met": _("Met"), "breached": _("Breached"), "pending": _("Pending"), None: ""}
