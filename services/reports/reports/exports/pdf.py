"""``export.pdf``: the report as a document, built with reportlab's platypus.

Title page with the period and filters, the KPI block, the charts, the per-technician
and per-team tables, the tickets per tag and satisfaction per technician, team and
category, "page N of M" on every page, all in the
active language. The
document is reproducible: reportlab's ``invariant`` mode fixes the creation date and the
document id, and everything else depends on the data only.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Final

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from reports import charts
from reports.formatting import (
    filter_lines,
    fmt_date,
    fmt_hours,
    fmt_int,
    fmt_percent,
    fmt_period,
)
from reports.metrics import Report, ReportQuery

CHART_DPI: Final = 150
CHART_WIDTH: Final = 17 * cm
GRID: Final = colors.HexColor("#cccccc")
HEAD: Final = colors.HexColor("#eef2f7")


class ChartImage(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """A chart's pixels drawn at ``width``, keeping its proportions."""

    def __init__(self, pixels: PILImage.Image, width: float) -> None:
        super().__init__()
        self.image = ImageReader(pixels)
        pixel_width, pixel_height = pixels.size
        self.draw_width, self.draw_height = width, width * pixel_height / pixel_width

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.draw_width, self.draw_height

    def draw(self) -> None:
        self.canv.drawImage(self.image, 0, 0, self.draw_width, self.draw_height)


class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab is untyped
    """Draws "page N of M" on every page, though M is known only at the end.

    Each page shows a form (a PDF XObject) named after its number; ``save`` defines the
    forms once the total is known. PDF lets a page use a form defined later, and
    reportlab's ``doForm``/``beginForm`` are its public way to do so.
    """

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self.saveState()
        self.doForm(self._footer_name(self.getPageNumber()))
        self.restoreState()
        super().showPage()

    def save(self) -> None:
        total = self.getPageNumber() - 1  # the page after the last one shown
        for page in range(1, total + 1):
            self.beginForm(self._footer_name(page))
            self._draw_footer(page, total)
            self.endForm()
        super().save()

    @staticmethod
    def _footer_name(page: int) -> str:
        return f"footer{page}"

    def _draw_footer(self, page: int, total: int) -> None:
        width, _height = A4  # the document's page size (``build_pdf``)
        self.setFont("Helvetica", 8)
        self.setFillColor(colors.HexColor("#666666"))
        self.drawRightString(
            width - 2 * cm,
            1.2 * cm,
            _("Page %(page)d of %(total)d") % {"page": page, "total": total},
        )
        self.drawString(2 * cm, 1.2 * cm, _("Servidesk help desk report"))


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=26, leading=32),
        "subtitle": ParagraphStyle(
            "subtitle", parent=base["Normal"], fontSize=14, leading=20, alignment=TA_CENTER
        ),
        "centered": ParagraphStyle("centered", parent=base["Normal"], alignment=TA_CENTER),
        "h2": base["Heading2"],
        "body": base["Normal"],
        "cell": ParagraphStyle("cell", parent=base["Normal"], fontSize=8, leading=10),
        "head": ParagraphStyle(
            "head", parent=base["Normal"], fontName="Helvetica-Bold", fontSize=8, leading=10
        ),
        "head_number": ParagraphStyle(
            "head_number",
            parent=base["Normal"],
            fontName="Helvetica-Bold",
            fontSize=8,
            leading=10,
            alignment=TA_RIGHT,
        ),
    }


def _table(rows: list[list[Any]], widths: list[float], *, numeric_from: int = 1) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD),
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _kpi_rows(summary: dict[str, Any]) -> list[list[str]]:
    totals, fr, res = summary["totals"], summary["first_response"], summary["resolution"]
    activity, csat = summary["activity"], summary["csat"]
    return [
        [_("Indicator"), _("Value")],
        [_("Tickets created"), fmt_int(totals["created"])],
        [_("Open"), fmt_int(totals["open"])],
        [_("Resolved"), fmt_int(totals["resolved"])],
        [_("Closed (counted in resolved)"), fmt_int(totals["closed"])],
        [_("Reopen rate"), fmt_percent(summary["reopen_rate"])],
        [_("First response: mean"), fmt_hours(fr["mean_hours"])],
        [_("First response: median"), fmt_hours(fr["median_hours"])],
        [_("First response: p90"), fmt_hours(fr["p90_hours"])],
        [_("First response SLA compliance"), fmt_percent(fr["sla"]["compliance"])],
        [_("Resolution: mean"), fmt_hours(res["mean_hours"])],
        [_("Resolution: median"), fmt_hours(res["median_hours"])],
        [_("Resolution: p90"), fmt_hours(res["p90_hours"])],
        [_("Resolution SLA compliance"), fmt_percent(res["sla"]["compliance"])],
        [_("Backlog at start"), fmt_int(activity["backlog_start"])],
        [_("Backlog at end"), fmt_int(activity["backlog_end"])],
        [_("Satisfaction (CSAT)"), fmt_percent(csat["score"])],
        [
            _("Survey answers (good / bad)"),
            _("%(answered)s (%(good)s / %(bad)s)")
            % {
                "answered": fmt_int(csat["answered"]),
                "good": fmt_int(csat["good"]),
                "bad": fmt_int(csat["bad"]),
            },
        ],
        [_("Survey response rate"), fmt_percent(csat["response_rate"])],
    ]


def _technician_rows(summary: dict[str, Any], styles: dict[str, ParagraphStyle]) -> list[list[Any]]:
    titles = [
        _("Assigned"),
        _("Open"),
        _("Resolved"),
        _("Median resolution"),
        _("First response SLA"),
        _("Resolution SLA"),
    ]
    # Paragraphs, so long titles wrap inside their column.
    rows: list[list[Any]] = [
        [
            Paragraph(_escape(_("Technician")), styles["head"]),
            *(Paragraph(_escape(title), styles["head_number"]) for title in titles),
        ]
    ]
    cell = styles["cell"]
    for row in summary["technicians"]:
        rows.append(
            [
                Paragraph(_escape(row["name"]), cell),
                fmt_int(row["assigned"]),
                fmt_int(row["open"]),
                fmt_int(row["resolved"]),
                fmt_hours(row["median_resolution_hours"]),
                fmt_percent(row["first_response_sla_compliance"]),
                fmt_percent(row["resolution_sla_compliance"]),
            ]
        )
    return rows


def _team_rows(summary: dict[str, Any], styles: dict[str, ParagraphStyle]) -> list[list[Any]]:
    titles = [
        _("Tickets"),
        _("Open"),
        _("Resolved"),
        _("SLA breached"),
        _("Mean resolution"),
        _("Resolution SLA"),
    ]
    rows: list[list[Any]] = [
        [
            Paragraph(_escape(_("Team")), styles["head"]),
            *(Paragraph(_escape(title), styles["head_number"]) for title in titles),
        ]
    ]
    cell = styles["cell"]
    for row in summary["by_team"]:
        name = row["name"]
        if row["deleted"]:
            name = _("%(name)s (deleted)") % {"name": name}
        rows.append(
            [
                Paragraph(_escape(name), cell),
                fmt_int(row["tickets"]),
                fmt_int(row["open"]),
                fmt_int(row["resolved"]),
                fmt_int(row["breached"]),
                fmt_hours(row["mean_resolution_hours"]),
                fmt_percent(row["resolution_sla_compliance"]),
            ]
        )
    return rows


def _tag_rows(summary: dict[str, Any], styles: dict[str, ParagraphStyle]) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            Paragraph(_escape(_("Tag")), styles["head"]),
            Paragraph(_escape(_("Tickets")), styles["head_number"]),
        ]
    ]
    for row in summary["by_tag"]:
        rows.append([Paragraph(_escape(row["tag"]), styles["cell"]), fmt_int(row["count"])])
    return rows


def _csat_rows(
    rows: list[dict[str, Any]], first: str, styles: dict[str, ParagraphStyle]
) -> list[list[Any]]:
    """A satisfaction table: ``first`` names the first column (technician, team...)."""
    titles = [
        _("Answers"),
        _("Good"),
        _("Bad"),
        _("CSAT"),
        _("Surveys sent"),
        _("Response rate"),
    ]
    table: list[list[Any]] = [
        [
            Paragraph(_escape(first), styles["head"]),
            *(Paragraph(_escape(title), styles["head_number"]) for title in titles),
        ]
    ]
    for row in rows:
        name = row["label"] if "label" in row else row["name"]
        if row.get("deleted"):
            name = _("%(name)s (deleted)") % {"name": name}
        table.append(
            [
                Paragraph(_escape(name), styles["cell"]),
                fmt_int(row["answered"]),
                fmt_int(row["good"]),
                fmt_int(row["bad"]),
                fmt_percent(row["score"]),
                fmt_int(row["surveyed"]),
                fmt_percent(row["response_rate"]),
            ]
        )
    return table


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_pdf(
    report: Report,
    query: ReportQuery,
    *,
    names: dict[str, str],
    progress: Callable[[float], None] | None = None,
) -> bytes:
    """The document; ``progress(fraction)`` (if given) hears how far it got, 0 to 1."""
    summary = report.summary
    styles = _styles()
    buffer = io.BytesIO()
    title = _("Help desk report")
    period = fmt_period(query.date_from, query.date_to)
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
        title=f"{title}: {period}",
        author="Servidesk",
        subject=period,
        creator="Servidesk reports",
        producer="Servidesk reports (ReportLab)",
        invariant=1,
        lang=get_language(),
    )

    story: list[Any] = [
        Spacer(1, 5 * cm),
        Paragraph("Servidesk", styles["subtitle"]),
        Paragraph(_escape(title), styles["title"]),
        Spacer(1, 0.8 * cm),
        Paragraph(_escape(period), styles["subtitle"]),
        Spacer(1, 0.4 * cm),
        Paragraph(
            _escape(_("Days counted in the %(zone)s time zone") % {"zone": query.time_zone.key}),
            styles["centered"],
        ),
        Spacer(1, 1.2 * cm),
    ]
    story += [
        Paragraph(_escape(line), styles["centered"])
        for line in filter_lines(summary, names, report.team_names)
    ]
    as_of = query.as_of.astimezone(query.time_zone)
    story += [
        Spacer(1, 0.4 * cm),
        Paragraph(
            _escape(
                _("Open SLAs judged as of %(date)s %(time)s")
                % {"date": fmt_date(as_of.date()), "time": as_of.strftime("%H:%M")}
            ),
            styles["centered"],
        ),
        PageBreak(),
        Paragraph(_escape(_("Key figures")), styles["h2"]),
        _table(_kpi_rows(summary), [9 * cm, 5 * cm]),
        Spacer(1, 0.6 * cm),
    ]

    steps = len(charts.CHARTS) + 1  # each chart, then laying the pages out
    for done, (name, (_draw, chart_title)) in enumerate(charts.CHARTS.items(), start=1):
        image = ChartImage(charts.render_pixels(name, summary, dpi=CHART_DPI), CHART_WIDTH)
        story.append(KeepTogether([Paragraph(_escape(str(chart_title)), styles["h2"]), image]))
        if progress is not None:
            progress(done / steps)
    charts.free_figures()  # the figures' pixel buffers; the story keeps RGB copies

    story += [
        PageBreak(),
        Paragraph(_escape(_("Per technician")), styles["h2"]),
    ]
    if summary["technicians"]:
        story.append(
            _table(
                _technician_rows(summary, styles),
                [4.6 * cm, 1.7 * cm, 1.5 * cm, 1.7 * cm, 2.5 * cm, 2.5 * cm, 2.5 * cm],
            )
        )
    else:
        story.append(Paragraph(_escape(_("No assigned tickets in this period.")), styles["body"]))

    story += [Spacer(1, 0.6 * cm), Paragraph(_escape(_("Per team")), styles["h2"])]
    if summary["by_team"]:
        story.append(
            _table(
                _team_rows(summary, styles),
                [4.6 * cm, 1.5 * cm, 1.5 * cm, 1.7 * cm, 1.7 * cm, 2.6 * cm, 3.4 * cm],
            )
        )
    else:
        story.append(Paragraph(_escape(_("No tickets in this period.")), styles["body"]))

    story += [Spacer(1, 0.6 * cm), Paragraph(_escape(_("Tickets per tag")), styles["h2"])]
    if summary["by_tag"]:
        story.append(_table(_tag_rows(summary, styles), [9 * cm, 3 * cm]))
    else:
        story.append(Paragraph(_escape(_("No tagged tickets in this period.")), styles["body"]))

    csat = summary["csat"]
    widths = [5.1 * cm, 1.7 * cm, 1.5 * cm, 1.5 * cm, 1.7 * cm, 2.3 * cm, 2.6 * cm]
    for title, rows, first in (
        (_("Satisfaction per technician"), csat["by_technician"], _("Technician")),
        (_("Satisfaction per team"), csat["by_team"], _("Team")),
        (_("Satisfaction per category"), csat["by_category"], _("Category")),
    ):
        story += [Spacer(1, 0.6 * cm), Paragraph(_escape(title), styles["h2"])]
        if rows:
            story.append(_table(_csat_rows(rows, first, styles), widths))
        else:
            story.append(
                Paragraph(_escape(_("No surveys or answers in this period.")), styles["body"])
            )

    doc.build(story, canvasmaker=NumberedCanvas)
    if progress is not None:
        progress(1.0)
    return buffer.getvalue()
