"""``export.csv``: the Tickets sheet as CSV, streamed in chunks as it is read.

Meant for programs: the header is the column keys (stable, not translated), codes stay
codes (``in_progress``, ``met``), datetimes are ISO 8601 with the offset of the report's
time zone, hours have four decimals, tags are a JSON array (``["vip", "impresora"]``: a
tag may hold any character, a comma too), and empty means "none". Text a spreadsheet would
read as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first) gets a single
quote in front (``common.spreadsheet_csv_value``), so opening the file never runs it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any, Final

from reports.exports.common import spreadsheet_csv_value
from reports.metrics import ReportQuery
from reports.selectors import (
    TICKET_COLUMNS,
    LocalClock,
    cohort_assignee_names,
    cohort_team_names,
    ticket_rows,
)

ROWS_PER_CHUNK: Final = 1000


def _text(value: Any) -> Any:
    return "" if value is None else spreadsheet_csv_value(value)


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _tags(value: list[str]) -> Any:
    # A JSON array starts with "[": never a formula, whatever the tags hold.
    return json.dumps(value, ensure_ascii=False) if value else ""


def csv_chunks(query: ReportQuery) -> Iterator[str]:
    """The CSV text in chunks of ``ROWS_PER_CHUNK`` rows; the database is read lazily."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.key for column in TICKET_COLUMNS])
    names = cohort_assignee_names(query)
    team_names = cohort_team_names(query)
    clock = LocalClock(query.time_zone)

    def when(epoch: float | None) -> str:
        return clock.iso(epoch) or ""

    kinds: dict[str, Callable[[Any], Any]] = {"datetime": when, "hours": _hours, "tags": _tags}
    cells = [kinds.get(column.kind, _text) for column in TICKET_COLUMNS]
    pending = 0
    for row in ticket_rows(query, names=names, team_names=team_names):
        writer.writerow([cell(value) for cell, value in zip(cells, row, strict=True)])
        pending += 1
        if pending == ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
