"""``export.csv``: the Tickets sheet as CSV, streamed in chunks as it is read.

Meant for programs: the header is the column keys (stable, not translated), codes stay
codes (``in_progress``, ``met``), datetimes are ISO 8601 with the offset of the report's
time zone, hours have four decimals, and empty means "none".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from reports.metrics import ReportQuery
from reports.selectors import TICKET_COLUMNS, cohort_assignee_names, ticket_rows

ROWS_PER_CHUNK: Final = 1000


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}"
    return value


def csv_chunks(query: ReportQuery) -> Iterator[str]:
    """The CSV text in chunks of ``ROWS_PER_CHUNK`` rows; the database is read lazily."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.key for column in TICKET_COLUMNS])
    names = cohort_assignee_names(query)
    pending = 0
    for row in ticket_rows(query, names=names):
        writer.writerow([_cell(value) for value in row])
        pending += 1
        if pending == ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
