"""``export.xlsx``: seven sheets written with openpyxl in write-only (streaming) mode.

Summary, Tickets, By technician, By team, By tag, Satisfaction and Daily. Rows go straight to
temporary files as they are appended, so memory stays flat however many tickets the
period holds. Dates are real Excel dates (in the report's time zone,
which the Summary sheet names: Excel has no time zones) and numbers are numbers, each
with a format. Every sheet has a frozen header row and an autofilter.

The file is reproducible: the document's dates are fixed and so are the dates of the
zip entries (openpyxl's ``save`` would stamp the current time on both).

openpyxl builds the whole workbook through its public write-only API
(``Workbook(write_only=True)``, ``ws.append``, ``WriteOnlyCell``): sheets, styles, column
widths, frozen panes, autofilters and every row. Each styled column reuses one cell, so
a row costs one ``WriteOnlyCell`` per text that must stay text. Characters XML 1.0
cannot carry are dropped first (openpyxl refuses them). openpyxl writes through lxml
when it is installed (a dependency of this service): faster, and a carriage return in a
text stays one (``&#13;``; the standard library's writer would leave it bare, and an XML
reader turns a bare one into a line feed).

No cell is ever a formula. Text that a spreadsheet would read as one (``=``, ``+``,
``-``, ``@``, tab or carriage return first: ``common.reads_as_formula``) is written as a
string cell, unchanged, with Excel's "quote prefix" style, the mark Excel itself puts on
text typed after an apostrophe, so it stays text even when someone edits the cell.
openpyxl would otherwise store a string that starts with ``=`` as a formula.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Final
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from reports.exports.common import (
    FIXED_TIMESTAMP,
    reads_as_formula,
    sla_outcome_labels,
    ticket_column_titles,
)
from reports.formatting import filter_lines
from reports.metrics import Report, ReportQuery, category_label
from reports.models import Priority, Rating, Status
from reports.selectors import TICKET_COLUMNS, LocalClock, ticket_rows

#: What ``Workbook.create_sheet`` returns in write-only mode (openpyxl does not export
#: the class under a public name).
WriteOnlyWorksheet = Any

INT_FORMAT: Final = "#,##0"
HOURS_FORMAT: Final = "0.00"
PERCENT_FORMAT: Final = "0.0%"
DATE_FORMAT: Final = "yyyy-mm-dd"
DATETIME_FORMAT: Final = "yyyy-mm-dd hh:mm"
ZIP_DATE: Final = (1980, 1, 1, 0, 0, 0)
HEADER_FONT: Final = Font(bold=True)

COLUMN_FORMATS: Final = {
    "int": INT_FORMAT,
    "hours": HOURS_FORMAT,
    "datetime": DATETIME_FORMAT,
    "date": DATE_FORMAT,
    "percent": PERCENT_FORMAT,
}
TICKET_WIDTHS: Final = {
    "title": 40,
    "assignee_name": 24,
    "number": 12,
    "team_name": 24,
    "tags": 30,
}
#: Between the tags of a ticket in its cell (the CSV keeps a JSON array).
TAG_SEPARATOR: Final = ", "


class _ReproducibleZip(ZipFile):
    """A ``ZipFile`` that stamps every entry with one fixed date and mode."""

    def _info(self, name: str) -> ZipInfo:
        info = ZipInfo(name, date_time=ZIP_DATE)
        info.compress_type = ZIP_DEFLATED
        # Fast deflate: sheet XML is repetitive, level 1 is nearly as small as level 6
        # and much faster. (Python 3.13 renamed the attribute.)
        setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", 1)
        info.external_attr = 0o644 << 16
        return info

    def writestr(
        self, zinfo_or_arcname: str | ZipInfo, data: Any, *args: Any, **kwargs: Any
    ) -> None:
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(  # type: ignore[override]
        self, filename: str, arcname: str | None = None, *args: Any, **kwargs: Any
    ) -> None:
        # Streamed from the temporary files: a big sheet is never read into memory.
        info = self._info(arcname or Path(filename).name)
        with self.open(info, "w", force_zip64=True) as target, open(filename, "rb") as source:
            shutil.copyfileobj(source, target, 1 << 16)


def _header(ws: WriteOnlyWorksheet, titles: Sequence[str]) -> list[WriteOnlyCell]:
    cells = []
    for title in titles:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = HEADER_FONT
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cells.append(cell)
    return cells


def _start_table(ws: WriteOnlyWorksheet, titles: Sequence[str], widths: Sequence[float]) -> None:
    """Column widths and the frozen header: both must precede the first row."""
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.append(_header(ws, titles))


def _end_table(ws: WriteOnlyWorksheet, columns: int, rows: int) -> None:
    ws.auto_filter.ref = f"A1:{get_column_letter(columns)}{max(rows, 1) + 1}"


def _text_cell(ws: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    """A string cell that cannot be a formula, whatever ``value`` starts with."""
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"  # openpyxl makes any string starting with "=" a formula
    cell.quotePrefix = True
    return cell


class _RowWriter:
    """Appends rows whose columns have fixed formats, reusing one styled cell per column."""

    def __init__(self, ws: WriteOnlyWorksheet, kinds: Sequence[str]) -> None:
        self.ws = ws
        self.cells: list[WriteOnlyCell | None] = []
        for kind in kinds:
            number_format = COLUMN_FORMATS.get(kind)
            if number_format is None:
                self.cells.append(None)
                continue
            cell = WriteOnlyCell(ws)
            cell.number_format = number_format
            self.cells.append(cell)
        self.count = 0

    def append(self, values: Iterable[Any]) -> None:
        row: list[Any] = []
        for cell, value in zip(self.cells, values, strict=True):
            if reads_as_formula(value):
                row.append(_text_cell(self.ws, value))
            elif value is None or cell is None:
                row.append(value)
            else:
                cell.value = value
                row.append(cell)
        self.ws.append(row)
        self.count += 1


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=None)


def summary_rows(
    report: Report, query: ReportQuery, names: dict[str, str]
) -> list[tuple[str, Any, str]]:
    """(label, value, kind) of the Summary sheet, in order."""
    s = report.summary
    fr, res, totals, activity = s["first_response"], s["resolution"], s["totals"], s["activity"]
    as_of = _naive(query.as_of.astimezone(query.time_zone))
    rows: list[tuple[str, Any, str]] = [
        (_("Period start"), query.date_from, "date"),
        (_("Period end"), query.date_to, "date"),
        (_("Time zone"), query.time_zone.key, "text"),
        (_("Open SLAs judged as of"), as_of, "datetime"),
    ]
    rows += [(_("Filter"), line, "text") for line in filter_lines(s, names, report.team_names)]
    rows += [
        (_("Tickets created"), totals["created"], "int"),
        (_("Open"), totals["open"], "int"),
        (_("Resolved"), totals["resolved"], "int"),
        (_("Closed (counted in resolved)"), totals["closed"], "int"),
        (_("Reopened tickets"), totals["reopened"], "int"),
        (_("Unassigned"), totals["unassigned"], "int"),
        (_("Reopen rate"), s["reopen_rate"], "percent"),
        (_("First responses"), fr["count"], "int"),
        (_("First response: mean (h)"), fr["mean_hours"], "hours"),
        (_("First response: median (h)"), fr["median_hours"], "hours"),
        (_("First response: p90 (h)"), fr["p90_hours"], "hours"),
        (_("First response SLA: met"), fr["sla"]["met"], "int"),
        (_("First response SLA: breached"), fr["sla"]["breached"], "int"),
        (_("First response SLA: pending"), fr["sla"]["pending"], "int"),
        (_("First response SLA compliance"), fr["sla"]["compliance"], "percent"),
        (_("Resolutions"), res["count"], "int"),
        (_("Resolution: mean (h)"), res["mean_hours"], "hours"),
        (_("Resolution: median (h)"), res["median_hours"], "hours"),
        (_("Resolution: p90 (h)"), res["p90_hours"], "hours"),
        (_("Resolution SLA: met"), res["sla"]["met"], "int"),
        (_("Resolution SLA: breached"), res["sla"]["breached"], "int"),
        (_("Resolution SLA: pending"), res["sla"]["pending"], "int"),
        (_("Resolution SLA compliance"), res["sla"]["compliance"], "percent"),
        (_("Backlog at start"), activity["backlog_start"], "int"),
        (_("Backlog at end"), activity["backlog_end"], "int"),
        (_("Created in period"), activity["created"], "int"),
        (_("Resolved in period"), activity["resolved"], "int"),
        (_("Reopened in period"), activity["reopened"], "int"),
        (_("Survey answers"), s["csat"]["answered"], "int"),
        (_("Good answers"), s["csat"]["good"], "int"),
        (_("Bad answers"), s["csat"]["bad"], "int"),
        (_("Satisfaction (CSAT)"), s["csat"]["score"], "percent"),
        (_("Surveys sent"), s["csat"]["surveyed"], "int"),
        (_("Surveys answered"), s["csat"]["responded"], "int"),
        (_("Survey response rate"), s["csat"]["response_rate"], "percent"),
    ]
    rows += [
        (_("Status: %(name)s") % {"name": row["label"]}, row["count"], "int")
        for row in s["by_status"]
    ]
    rows += [
        (_("Priority: %(name)s") % {"name": row["label"]}, row["count"], "int")
        for row in s["by_priority"]
    ]
    rows += [
        (_("Category: %(name)s") % {"name": row["label"]}, row["count"], "int")
        for row in s["by_category"]
    ]
    return rows


def build_xlsx(
    report: Report,
    query: ReportQuery,
    *,
    names: dict[str, str],
    target: IO[bytes],
    progress: Callable[[float], None] | None = None,
) -> int:
    """Write the workbook to ``target``; returns the number of ticket rows.

    ``progress(fraction)`` (if given) hears how far it got, sheet by sheet, 0 to 1.
    """

    def step(fraction: float) -> None:
        if progress is not None:
            progress(fraction)

    wb = Workbook(write_only=True)
    props = wb.properties
    props.creator = "Servidesk"
    props.lastModifiedBy = "Servidesk"
    props.title = _("Help desk report")
    props.language = get_language()
    props.created = props.modified = FIXED_TIMESTAMP.replace(tzinfo=None)

    _write_summary(wb.create_sheet(_("Summary")), report, query, names)
    step(0.05)
    # The ticket rows are most of the work (and of the file).
    count = _write_tickets(wb.create_sheet(_("Tickets")), query, names, report.team_names)
    step(0.6)
    _write_technicians(wb.create_sheet(_("By technician")), report)
    _write_teams(wb.create_sheet(_("By team")), report)
    _write_tags(wb.create_sheet(_("By tag")), report)
    _write_satisfaction(wb.create_sheet(_("Satisfaction")), report)
    _write_daily(wb.create_sheet(_("Daily")), report)
    step(0.7)
    # ExcelWriter rather than ``wb.save``, which would stamp the current time on the
    # document's properties.
    with _ReproducibleZip(target, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
    step(1.0)
    return count


def build_xlsx_file(report: Report, query: ReportQuery, *, names: dict[str, str]) -> IO[bytes]:
    """The workbook in a temporary file (deleted on close), positioned at its start."""
    target = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it)
    build_xlsx(report, query, names=names, target=target)
    target.seek(0)
    return target


def _write_summary(
    ws: WriteOnlyWorksheet, report: Report, query: ReportQuery, names: dict[str, str]
) -> None:
    rows = summary_rows(report, query, names)
    _start_table(ws, [_("Metric"), _("Value")], [44, 30])
    for label, value, kind in rows:
        _RowWriter(ws, ["text", kind]).append(
            [label, value.replace(tzinfo=None) if isinstance(value, datetime) else value]
        )
    _end_table(ws, 2, len(rows))


def _write_tickets(
    ws: WriteOnlyWorksheet, query: ReportQuery, names: dict[str, str], team_names: dict[str, str]
) -> int:
    titles = ticket_column_titles()
    widths = [
        TICKET_WIDTHS.get(column.key, 17 if column.kind == "datetime" else 13)
        for column in TICKET_COLUMNS
    ]
    _start_table(ws, [titles[column.key] for column in TICKET_COLUMNS], widths)
    writer = _RowWriter(ws, [column.kind for column in TICKET_COLUMNS])
    rows = ticket_rows(query, names=names, team_names=team_names)
    for row in _ticket_values(rows, LocalClock(query.time_zone)):
        writer.append(row)
    _end_table(ws, len(TICKET_COLUMNS), writer.count)
    return writer.count


# Characters XML 1.0 cannot carry: dropped (openpyxl refuses a cell holding one).
_XML_ILLEGAL = str.maketrans({chr(code): None for code in [*range(0, 9), 11, 12, *range(14, 32)]})


def _clean(text: str | None) -> str | None:
    """User text without the characters XML cannot carry (``None`` stays ``None``)."""
    return None if text is None else text.translate(_XML_ILLEGAL)


def _ticket_values(rows: Iterable[tuple[Any, ...]], clock: LocalClock) -> Iterator[list[Any]]:
    """The Tickets sheet's values: labels for codes, text as text, instants as Excel dates."""
    columns = TICKET_COLUMNS
    at = {c.key: i for i, c in enumerate(columns)}
    status_at, priority_at, rating_at = at["status"], at["priority"], at["rating"]
    sla_at = (at["first_response_sla"], at["resolution_sla"])
    text_at = [i for i, c in enumerate(columns) if c.kind in ("text", "tags")]
    tags_at = [i for i, c in enumerate(columns) if c.kind == "tags"]
    datetime_at = [i for i, c in enumerate(columns) if c.kind == "datetime"]
    sla = sla_outcome_labels()
    statuses = {value: str(label) for value, label in Status.choices}
    priorities = {value: str(label) for value, label in Priority.choices}
    ratings = {value: str(label) for value, label in Rating.choices}
    excel = clock.excel
    for source in rows:
        row = list(source)
        row[status_at] = statuses.get(row[status_at], row[status_at])
        row[priority_at] = priorities.get(row[priority_at], row[priority_at])
        row[rating_at] = ratings.get(row[rating_at], row[rating_at])
        for i in sla_at:
            row[i] = sla[row[i]] or None
        for i in tags_at:
            row[i] = TAG_SEPARATOR.join(row[i]) or None
        for i in text_at:
            value = row[i]
            if value is not None:
                # ``_RowWriter`` then quotes what reads as a formula once cleaned.
                row[i] = str(value).translate(_XML_ILLEGAL) or None
        for i in datetime_at:
            row[i] = excel(row[i])
        yield row


def _write_technicians(ws: WriteOnlyWorksheet, report: Report) -> None:
    titles = [
        _("Technician"),
        _("Technician id"),
        _("Assigned"),
        _("Open"),
        _("Resolved"),
        _("Reopened"),
        _("Median first response (h)"),
        _("Median resolution (h)"),
        _("First response SLA compliance"),
        _("Resolution SLA compliance"),
    ]
    _start_table(ws, titles, [28, 14, 11, 11, 11, 11, 16, 16, 16, 16])
    writer = _RowWriter(
        ws, ["text", "text", "int", "int", "int", "int", "hours", "hours", "percent", "percent"]
    )
    for row in report.summary["technicians"]:
        writer.append(
            [
                row["name"],
                row["assignee_id"],
                row["assigned"],
                row["open"],
                row["resolved"],
                row["reopened"],
                row["median_first_response_hours"],
                row["median_resolution_hours"],
                row["first_response_sla_compliance"],
                row["resolution_sla_compliance"],
            ]
        )
    _end_table(ws, len(titles), writer.count)


def _write_teams(ws: WriteOnlyWorksheet, report: Report) -> None:
    titles = [
        _("Team"),
        _("Team id"),
        _("Deleted"),
        _("Lead"),
        _("Tickets"),
        *(str(label) for _value, label in Status.choices),
        _("Open"),
        _("Reopened"),
        _("SLA breached"),
        _("Mean resolution (h)"),
        _("First response SLA compliance"),
        _("Resolution SLA compliance"),
    ]
    statuses = len(Status.choices)
    _start_table(ws, titles, [28, 12, 10, 24, 11, *[11] * statuses, 11, 11, 12, 16, 16, 16])
    writer = _RowWriter(
        ws,
        [
            "text",
            "text",
            "text",
            "text",
            "int",
            *["int"] * statuses,
            "int",
            "int",
            "int",
            "hours",
            "percent",
            "percent",
        ],
    )
    yes = _("Yes")
    for row in report.summary["by_team"]:
        writer.append(
            [
                _clean(row["name"]),
                row["team_id"],
                yes if row["deleted"] else None,
                _clean(row["lead_name"]),
                row["tickets"],
                *(row["by_status"][value] for value in Status.values),
                row["open"],
                row["reopened"],
                row["breached"],
                row["mean_resolution_hours"],
                row["first_response_sla_compliance"],
                row["resolution_sla_compliance"],
            ]
        )
    _end_table(ws, len(titles), writer.count)


def _write_tags(ws: WriteOnlyWorksheet, report: Report) -> None:
    titles = [_("Tag"), _("Tickets")]
    _start_table(ws, titles, [30, 11])
    writer = _RowWriter(ws, ["text", "int"])
    for row in report.summary["by_tag"]:
        writer.append([_clean(row["tag"]), row["count"]])
    _end_table(ws, len(titles), writer.count)


def _write_satisfaction(ws: WriteOnlyWorksheet, report: Report) -> None:
    """One table: the answers and surveys per technician, then per team, then per
    category (the first column says which), so one autofilter serves all three."""
    titles = [
        _("By"),
        _("Name"),
        _("Id"),
        _("Answers"),
        _("Good"),
        _("Bad"),
        _("Satisfaction (CSAT)"),
        _("Surveys sent"),
        _("Surveys answered"),
        _("Response rate"),
    ]
    _start_table(ws, titles, [14, 28, 12, 10, 10, 10, 14, 12, 12, 14])
    writer = _RowWriter(
        ws, ["text", "text", "text", "int", "int", "int", "percent", "int", "int", "percent"]
    )
    csat = report.summary["csat"]
    deleted = _("%(name)s (deleted)")
    groups: list[tuple[str, list[tuple[str | None, str | None, dict[str, Any]]]]] = [
        (
            _("Technician"),
            [(row["name"], row["assignee_id"], row) for row in csat["by_technician"]],
        ),
        (
            _("Team"),
            [
                (
                    deleted % {"name": row["name"]} if row["deleted"] else row["name"],
                    row["team_id"],
                    row,
                )
                for row in csat["by_team"]
            ],
        ),
        (
            _("Category"),
            [(row["label"], row["category"] or None, row) for row in csat["by_category"]],
        ),
    ]
    for by, rows in groups:
        for name, key, row in rows:
            writer.append(
                [
                    by,
                    _clean(name),
                    _clean(key),
                    row["answered"],
                    row["good"],
                    row["bad"],
                    row["score"],
                    row["surveyed"],
                    row["responded"],
                    row["response_rate"],
                ]
            )
    _end_table(ws, len(titles), writer.count)


def _write_daily(ws: WriteOnlyWorksheet, report: Report) -> None:
    titles = [
        _("Date"),
        _("Created"),
        _("Resolved"),
        _("Reopened"),
        _("Backlog at end of day"),
        _("Good answers"),
        _("Bad answers"),
    ]
    _start_table(ws, titles, [12, 11, 11, 11, 16, 11, 11])
    writer = _RowWriter(ws, ["date", "int", "int", "int", "int", "int", "int"])
    for day, row in report.daily.iterrows():
        writer.append(
            [
                date(day.year, day.month, day.day),
                int(row["created"]),
                int(row["resolved"]),
                int(row["reopened"]),
                int(row["backlog"]),
                int(row["rated_good"]),
                int(row["rated_bad"]),
            ]
        )
    _end_table(ws, len(titles), writer.count)


__all__ = ["build_xlsx", "build_xlsx_file", "category_label"]
