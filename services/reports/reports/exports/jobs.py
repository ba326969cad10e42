"""Making a download for an export job: the synchronous exports' code, with progress.

``render(export_format, query, progress=...)`` builds the same bytes as ``export.pdf``,
``export.xlsx`` and ``export.csv`` for ``query`` (in the active language) and calls
``progress(percent)`` as it goes, with whole percents that only grow (0 to 99: 100 is
for the job once the file is stored). The worker (``reports.exports.worker``) turns each
call into an update of the job's row, which also renews its lease.

Shares of the work, roughly as they are timed: computing the report is the first 30 %;
for a PDF each chart and the layout share the rest; for a workbook the ticket sheet and
the compression do; for a CSV the rows, counted beforehand, do.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from reports.exports.common import CONTENT_TYPES, file_name
from reports.exports.csvfile import ROWS_PER_CHUNK, csv_chunks
from reports.exports.pdf import build_pdf
from reports.exports.xlsx import build_xlsx
from reports.metrics import Report, ReportQuery, cohort, compute_report, report_time_zone
from reports.selectors import person_names

Progress = Callable[[int], None]

#: Where each stage ends, in percent.
REPORT_DONE: Final = 30
RENDER_DONE: Final = 99


@dataclass(frozen=True)
class Rendered:
    content: bytes
    file_name: str
    content_type: str


def names_for(report: Report, query: ReportQuery) -> dict[str, str]:
    """Technicians' names for the filter lines: the report's, and the filter's assignee."""
    names = {row["assignee_id"]: row["name"] for row in report.summary["technicians"]}
    if query.assignee_id and query.assignee_id not in names:
        names.update(person_names([query.assignee_id]))
    return names


class _Meter:
    """Maps a stage's fractions onto ``[start, end]`` percent and reports each new one."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.last = -1

    def at(self, percent: float) -> None:
        whole = min(RENDER_DONE, int(percent))
        if whole > self.last:
            self.last = whole
            self.progress(whole)

    def stage(self, start: float, end: float) -> Callable[[float], None]:
        return lambda fraction: self.at(start + (end - start) * max(0.0, min(1.0, fraction)))


def render(export_format: str, query: ReportQuery, *, progress: Progress) -> Rendered:
    meter = _Meter(progress)
    meter.at(1)
    if export_format == "csv":
        content = _csv(query, meter.stage(REPORT_DONE // 3, RENDER_DONE))
    else:
        report = compute_report(query)
        meter.at(REPORT_DONE)
        names = names_for(report, query)
        stage = meter.stage(REPORT_DONE, RENDER_DONE)
        if export_format == "pdf":
            content = build_pdf(report, query, names=names, progress=stage)
        elif export_format == "xlsx":
            content = _xlsx(report, query, names, stage)
        else:
            raise ValueError(f"unknown export format {export_format!r}")
    return Rendered(
        content=content,
        file_name=file_name(query, export_format),
        content_type=CONTENT_TYPES[export_format],
    )


def _xlsx(
    report: Report, query: ReportQuery, names: dict[str, str], stage: Callable[[float], None]
) -> bytes:
    with tempfile.TemporaryFile() as target:
        build_xlsx(report, query, names=names, target=target, progress=stage)
        target.seek(0)
        return target.read()


def _csv(query: ReportQuery, stage: Callable[[float], None]) -> bytes:
    total = cohort(query).count()
    stage(0.0)
    buffer = io.BytesIO()
    for written, chunk in enumerate(csv_chunks(query), start=1):
        buffer.write(chunk.encode("utf-8"))
        stage(written * ROWS_PER_CHUNK / total if total else 1.0)
    stage(1.0)
    return buffer.getvalue()


def filters_of(query: ReportQuery) -> dict[str, Any]:
    """``query`` as a job keeps it (JSON): the API's parameters, normalised."""
    return {
        "from": query.date_from.isoformat(),
        "to": query.date_to.isoformat(),
        "category": query.category,
        "priority": query.priority,
        "status": query.status,
        "assignee_id": query.assignee_id,
        "team_id": query.team_id,
        "tag": list(query.tags),
        "interval": query.interval,
    }


def query_of(filters: dict[str, Any]) -> ReportQuery:
    """The query a job's ``filters`` (``filters_of``) describe, as of now."""
    return ReportQuery(
        date_from=date.fromisoformat(filters["from"]),
        date_to=date.fromisoformat(filters["to"]),
        category=filters.get("category"),
        priority=filters.get("priority"),
        status=filters.get("status"),
        assignee_id=filters.get("assignee_id"),
        team_id=filters.get("team_id"),
        tags=tuple(filters.get("tag") or ()),
        interval=filters.get("interval"),
        time_zone=report_time_zone(),
    )
