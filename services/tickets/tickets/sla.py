"""SLA targets per priority and the due times they give a ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tickets.models import DEFAULT_SLA_HOURS, Priority, SlaTarget


@dataclass(frozen=True)
class Targets:
    priority: int
    first_response_hours: int
    resolution_hours: int
    is_default: bool

    def due(self, start: datetime) -> tuple[datetime, datetime]:
        """``(first_response_due, resolution_due)`` for a ticket opened at ``start``."""
        return (
            start + timedelta(hours=self.first_response_hours),
            start + timedelta(hours=self.resolution_hours),
        )


def targets_for(priority: int) -> Targets:
    row = SlaTarget.objects.filter(priority=priority).first()
    if row is not None:
        return Targets(priority, row.first_response_hours, row.resolution_hours, is_default=False)
    first, resolution = DEFAULT_SLA_HOURS[priority]
    return Targets(priority, first, resolution, is_default=True)


def all_targets() -> list[Targets]:
    """All four priorities, most urgent first, configured rows over the defaults."""
    rows = {row.priority: row for row in SlaTarget.objects.all()}
    result = []
    for priority in sorted(Priority.values, reverse=True):
        row = rows.get(priority)
        if row is not None:
            result.append(
                Targets(priority, row.first_response_hours, row.resolution_hours, is_default=False)
            )
        else:
            first, resolution = DEFAULT_SLA_HOURS[priority]
            result.append(Targets(priority, first, resolution, is_default=True))
    return result
