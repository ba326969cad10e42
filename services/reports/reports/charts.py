"""The report's charts, drawn with matplotlib's Agg canvas from a ``report_summary``.

Each chart is a function of the summary alone, so the API, the PDF and the tests draw
the same picture from the same figures. Labels are translated at drawing time (the
caller activates the language). Figures are built with ``matplotlib.figure.Figure``
on an explicit Agg canvas rather than through pyplot: no global state, no GUI backend,
safe in threaded servers.

Output is reproducible: the SVG hash salt is fixed and neither format carries a date.
Text is never parsed as mathtext or LaTeX: a name such as ``$x^2$`` shows as typed.

Memory: a figure is a web of reference cycles (figure, axes, artists; every text keeps
the renderer), so its Agg pixel buffer (megabytes) is freed only by Python's cyclic
collector, whose full passes come every few requests. Under load the buffers of several
requests piled up (seen with ``bench/load/reports_memory.py``), so whoever draws raster
charts calls ``free_figures()`` once done with them.
"""

from __future__ import annotations

import gc
import io
from collections.abc import Callable
from datetime import date
from typing import Any, Final, Literal

import matplotlib
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image as PILImage

from reports.formatting import fmt_int, fmt_percent, fmt_short_date

matplotlib.rcParams["svg.hashsalt"] = "servidesk-reports"
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable
# Every string is drawn as written: names and titles come from users, and "$x^2$" or
# "$\frac$" would otherwise be parsed as mathtext (a different picture, or an error).
# Each Text artist, tick labels made at drawing time included, takes these defaults
# when it is created; no chart here uses mathtext or LaTeX.
matplotlib.rcParams["text.parse_math"] = False
matplotlib.rcParams["text.usetex"] = False

FORMATS: Final = {"png": "image/png", "svg": "image/svg+xml"}
COLORS: Final = {
    "pending": "#f0ad4e",
    "in_progress": "#0275d8",
    "waiting": "#5bc0de",
    "resolved": "#5cb85c",
    "closed": "#6c757d",
    "created": "#0275d8",
    "resolutions": "#5cb85c",
    "reopened": "#d9534f",
    "backlog": "#6f42c1",
    "bars": "#17a2b8",
    "good": "#5cb85c",
    "bad": "#d9534f",
}
MAX_TECHNICIANS: Final = 25
MAX_TEAMS: Final = 25
MAX_TICKS: Final = 12

Chart = Callable[[Figure, dict[str, Any]], None]


def _no_data(ax: Axes, message: str | None = None) -> None:
    ax.text(
        0.5,
        0.5,
        message or _("No tickets in this period"),
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="#666666",
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _style(ax: Axes, *, counts_on: Literal["x", "y"] = "y") -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(axis=counts_on, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    # Tickets come whole: no 0.25 ticks.
    axis = ax.yaxis if counts_on == "y" else ax.xaxis
    axis.set_major_locator(MaxNLocator(integer=True))


def _date_ticks(ax: Axes, days: list[date]) -> None:
    step = max(1, -(-len(days) // MAX_TICKS))
    positions = list(range(0, len(days), step))
    ax.set_xticks(positions)
    ax.set_xticklabels([fmt_short_date(days[i]) for i in positions], rotation=45, ha="right")


def status_distribution(fig: Figure, summary: dict[str, Any]) -> None:
    ax = fig.add_subplot()
    rows = summary["by_status"]
    ax.set_title(_("Tickets by status"))
    if not summary["totals"]["created"]:
        _no_data(ax)
        return
    labels = [row["label"] for row in rows]
    counts = [row["count"] for row in rows]
    bars = ax.bar(labels, counts, color=[COLORS.get(row["status"], "#999999") for row in rows])
    ax.bar_label(bars, padding=2)
    ax.margins(y=0.12)
    ax.set_ylabel(_("Tickets"))
    _style(ax)


def created_vs_resolved(fig: Figure, summary: dict[str, Any]) -> None:
    ax = fig.add_subplot()
    rows = summary["timeline"]
    per_week = summary["period"]["interval"] == "week"
    ax.set_title(
        _("Created vs resolved per week") if per_week else _("Created vs resolved per day")
    )
    if not rows or not any(row["created"] or row["resolved"] for row in rows):
        _no_data(ax)
        return
    days = [date.fromisoformat(row["date"]) for row in rows]
    x = list(range(len(rows)))
    width = 0.4
    ax.bar(
        [i - width / 2 for i in x],
        [row["created"] for row in rows],
        width,
        label=_("Created"),
        color=COLORS["created"],
    )
    ax.bar(
        [i + width / 2 for i in x],
        [row["resolved"] for row in rows],
        width,
        label=_("Resolved"),
        color=COLORS["resolutions"],
    )
    if any(row["reopened"] for row in rows):
        ax.plot(
            x,
            [row["reopened"] for row in rows],
            color=COLORS["reopened"],
            marker="o",
            markersize=3,
            label=_("Reopened"),
        )
    _date_ticks(ax, days)
    ax.set_ylabel(_("Tickets"))
    # The legend sits under the dates: never over the bars.
    ax.legend(
        frameon=False,
        ncols=3,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=ax.figure.transFigure,
    )
    _style(ax)


def backlog(fig: Figure, summary: dict[str, Any]) -> None:
    ax = fig.add_subplot()
    rows = summary["timeline"]
    per_week = summary["period"]["interval"] == "week"
    ax.set_title(
        _("Open tickets (backlog) at the end of each week")
        if per_week
        else _("Open tickets (backlog) at the end of each day")
    )
    if not rows or not any(row["backlog"] for row in rows):
        _no_data(ax)
        return
    days = [date.fromisoformat(row["date"]) for row in rows]
    x = list(range(len(rows)))
    values = [row["backlog"] for row in rows]
    ax.plot(x, values, color=COLORS["backlog"], linewidth=2)
    ax.fill_between(x, values, color=COLORS["backlog"], alpha=0.15)
    ax.set_ylim(bottom=0)
    _date_ticks(ax, days)
    ax.set_ylabel(_("Open tickets"))
    _style(ax)


def resolution_time(fig: Figure, summary: dict[str, Any]) -> None:
    ax = fig.add_subplot()
    buckets = summary["resolution"]["distribution"]
    ax.set_title(_("Resolution time distribution"))
    if not summary["resolution"]["count"]:
        _no_data(ax)
        return
    bars = ax.bar(
        [bucket["label"] for bucket in buckets],
        [bucket["count"] for bucket in buckets],
        color=COLORS["bars"],
    )
    ax.bar_label(bars, padding=2)
    ax.margins(y=0.12)
    ax.set_xlabel(_("Time from creation to resolution"))
    ax.set_ylabel(_("Tickets"))
    _style(ax)


def technician_workload(fig: Figure, summary: dict[str, Any]) -> None:
    ax = fig.add_subplot()
    rows = sorted(summary["technicians"], key=lambda row: (-row["assigned"], row["name"]))
    ax.set_title(_("Workload per technician"))
    if not rows:
        _no_data(ax)
        return
    rows = rows[:MAX_TECHNICIANS][::-1]
    names = [row["name"] for row in rows]
    resolved = [row["resolved"] for row in rows]
    still_open = [row["open"] for row in rows]
    ax.barh(names, resolved, height=0.6, color=COLORS["resolved"], label=_("Resolved"))
    ax.barh(names, still_open, height=0.6, left=resolved, color=COLORS["pending"], label=_("Open"))
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.set_xlabel(_("Assigned tickets"))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(ax, counts_on="x")


def team_workload(fig: Figure, summary: dict[str, Any]) -> None:
    ax = fig.add_subplot()
    ax.set_title(_("Tickets per team"))
    # The busiest teams, "no team" included, biggest at the top.
    rows = sorted(summary["by_team"], key=lambda row: -row["tickets"])[:MAX_TEAMS][::-1]
    if not rows:
        _no_data(ax)
        return
    names = [
        _("%(name)s (deleted)") % {"name": row["name"]} if row["deleted"] else row["name"]
        for row in rows
    ]
    # Positions, not names, on the axis: two teams may share a name.
    y = list(range(len(rows)))
    resolved = [row["resolved"] for row in rows]
    ax.barh(y, resolved, height=0.6, color=COLORS["resolved"], label=_("Resolved"))
    ax.barh(
        y,
        [row["open"] for row in rows],
        height=0.6,
        left=resolved,
        color=COLORS["pending"],
        label=_("Open"),
    )
    ax.set_yticks(y, names)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(_("Tickets"))
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(ax, counts_on="x")


def satisfaction(fig: Figure, summary: dict[str, Any]) -> None:
    """Per day or week with answers, a full bar split into the good (green) and bad (red)
    share, the number of answers on top; the whole period's share as a dashed line."""
    ax = fig.add_subplot()
    csat = summary["csat"]
    rows = csat["timeline"]
    per_week = summary["period"]["interval"] == "week"
    ax.set_title(
        _("Satisfaction (good answers) per week")
        if per_week
        else _("Satisfaction (good answers) per day")
    )
    if not csat["answered"]:
        _no_data(ax, _("No answers to the survey in this period"))
        return
    days = [date.fromisoformat(row["date"]) for row in rows]
    x = list(range(len(rows)))
    good = [100 * row["good"] / row["answered"] if row["answered"] else 0.0 for row in rows]
    bad = [100 * row["bad"] / row["answered"] if row["answered"] else 0.0 for row in rows]
    ax.bar(x, good, color=COLORS["good"], label=_("Good"))
    bars = ax.bar(x, bad, bottom=good, color=COLORS["bad"], label=_("Bad"))
    ax.bar_label(
        bars,
        labels=[fmt_int(row["answered"]) if row["answered"] else "" for row in rows],
        padding=2,
        fontsize=7,
        color="#666666",
    )
    ax.axhline(
        100 * csat["score"],
        color="#333333",
        linewidth=1,
        linestyle="--",
        label=_("Whole period: %(value)s") % {"value": fmt_percent(csat["score"])},
    )
    ax.set_ylim(0, 110)
    ax.set_yticks([0, 25, 50, 75, 100])
    # The same format as ``fmt_percent``, without decimals: "75%" / "75 %".
    ax.set_yticklabels([_("%(value)s%%") % {"value": value} for value in (0, 25, 50, 75, 100)])
    _date_ticks(ax, days)
    ax.legend(
        frameon=False,
        ncols=3,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=ax.figure.transFigure,
    )
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)


CHARTS: Final[dict[str, tuple[Chart, Any]]] = {
    "status": (status_distribution, gettext_lazy("Tickets by status")),
    "created-resolved": (created_vs_resolved, gettext_lazy("Created vs resolved")),
    "backlog": (backlog, gettext_lazy("Backlog")),
    "resolution-time": (resolution_time, gettext_lazy("Resolution time distribution")),
    "technicians": (technician_workload, gettext_lazy("Workload per technician")),
    "teams": (team_workload, gettext_lazy("Tickets per team")),
    "csat": (satisfaction, gettext_lazy("Customer satisfaction")),
}


def _margins(fig: Figure, name: str, summary: dict[str, Any], height: float) -> None:
    """Fixed margins: a layout engine would draw every chart twice."""
    bottom = 0.9 / height  # room for rotated date labels or an axis title
    if name in ("technicians", "teams"):
        rows = summary["technicians"] if name == "technicians" else summary["by_team"]
        longest = max((len(row["name"]) for row in rows), default=4)
        left = min(0.4, 0.04 + 0.0115 * min(longest, 32))
        fig.subplots_adjust(left=left, right=0.84, top=1 - 0.45 / height, bottom=0.55 / height)
        return
    if name == "status":
        bottom = 0.45 / height
    elif name in ("created-resolved", "csat"):
        bottom = 1.2 / height  # the dates, then the legend
    fig.subplots_adjust(left=0.08, right=0.98, top=1 - 0.4 / height, bottom=bottom)


def figure(name: str, summary: dict[str, Any], *, dpi: int) -> Figure:
    """The chart ``name`` drawn on a fresh figure with an Agg canvas."""
    draw, _title = CHARTS[name]
    height = 4.0
    if name == "technicians":
        height = max(3.0, min(9.0, 1.2 + 0.3 * min(len(summary["technicians"]), MAX_TECHNICIANS)))
    elif name == "teams":
        height = max(3.0, min(9.0, 1.2 + 0.3 * min(len(summary["by_team"]), MAX_TEAMS)))
    fig = Figure(figsize=(8.0, height), dpi=dpi)
    FigureCanvasAgg(fig)  # the Agg canvas; savefig switches to the SVG one for "svg"
    _margins(fig, name, summary, height)
    draw(fig, summary)
    return fig


def free_figures() -> None:
    """Frees the figures no longer referenced, pixel buffers included, now.

    One full collection: cheap in a worker, where ``reports.memory`` froze what was
    loaded at start (costly otherwise). The SVG path draws no pixels and skips it.
    """
    gc.collect()


def render(name: str, summary: dict[str, Any], *, fmt: str = "png", dpi: int = 100) -> bytes:
    """The chart ``name`` as PNG or SVG bytes."""
    fig = figure(name, summary, dpi=dpi)
    buffer = io.BytesIO()
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {}
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    if fmt != "svg":
        del fig
        free_figures()
    return buffer.getvalue()


def render_pixels(name: str, summary: dict[str, Any], *, dpi: int) -> PILImage.Image:
    """The chart as an RGB image in memory: for the PDF, which would only decode a PNG.

    The figure is left to the caller's ``free_figures()``.
    """
    fig = figure(name, summary, dpi=dpi)
    canvas: Any = fig.canvas  # the FigureCanvasAgg figure() attached (matplotlib is untyped here)
    canvas.draw()
    width, height = canvas.get_width_height()
    rgba = PILImage.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    return rgba.convert("RGB")
