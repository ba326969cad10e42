"""Numbers, dates and labels as people read them, in the active language."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import formats
from django.utils.translation import gettext as _

from reports.metrics import NO_TEAM, category_label, priority_label, status_label

DASH = "\u2013"  # an en dash: "no value"


def fmt_int(value: int | None) -> str:
    if value is None:
        return DASH
    return formats.number_format(value, decimal_pos=0, use_l10n=True, force_grouping=True)


def fmt_decimal(value: float | None, places: int = 1) -> str:
    if value is None:
        return DASH
    # Django's number_format cuts the extra digits off; round them as people expect.
    rounded = round(value, places)
    return formats.number_format(rounded, decimal_pos=places, use_l10n=True, force_grouping=True)


def fmt_hours(value: float | None) -> str:
    if value is None:
        return DASH
    return _("%(hours)s h") % {"hours": fmt_decimal(value, 2)}


def fmt_percent(ratio: float | None) -> str:
    if ratio is None:
        return DASH
    return _("%(value)s%%") % {"value": fmt_decimal(ratio * 100, 1)}


def fmt_date(value: date) -> str:
    return formats.date_format(value, "DATE_FORMAT", use_l10n=True)


def fmt_short_date(value: date) -> str:
    """Day and abbreviated month, for chart axes: "3 Mar" / "3 mar"."""
    return formats.date_format(value, "j M", use_l10n=True)


def fmt_period(date_from: date, date_to: date) -> str:
    return _("%(from)s to %(to)s") % {"from": fmt_date(date_from), "to": fmt_date(date_to)}


def filter_lines(
    summary: dict[str, Any],
    technician_names: dict[str, str],
    team_names: dict[str, str],
) -> list[str]:
    """One "Name: value" line per filter in use, or a line saying there are none."""
    filters = summary["filters"]
    lines = []
    if filters.get("category") is not None:
        lines.append(_("Category: %(value)s") % {"value": category_label(filters["category"])})
    if filters.get("priority") is not None:
        lines.append(_("Priority: %(value)s") % {"value": priority_label(filters["priority"])})
    if filters.get("assignee_id") is not None:
        assignee = filters["assignee_id"]
        name = (
            _("Unassigned")
            if assignee == "none"
            else technician_names.get(assignee, f"#{assignee}")
        )
        lines.append(_("Technician: %(value)s") % {"value": name})
    if filters.get("status") is not None:
        lines.append(_("Status: %(value)s") % {"value": status_label(filters["status"])})
    if filters.get("team_id") is not None:
        team = filters["team_id"]
        name = _("No team") if team == NO_TEAM else team_names.get(team, f"#{team}")
        lines.append(_("Team: %(value)s") % {"value": name})
    if filters.get("tag"):
        lines.append(_("Tags: %(value)s") % {"value": ", ".join(filters["tag"])})
    return lines or [_("Filters: none (all tickets)")]
