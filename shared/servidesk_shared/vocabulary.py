"""The help desk's words, defined once: ticket statuses, priorities, user roles and the
status workflow, with their labels in the user's language.

The workflow (the contract's, ``ARCHITECTURE.md``)::

    pending -> in_progress -> resolved
    in_progress -> pending
    resolved -> in_progress   (reopen)

Any other move, including "to the same status", is not allowed. Staff (technicians and
admins) may make every allowed move; a client may only reopen their own resolved ticket.

The values are the APIs' and the events' codes; services store them as they are, except
tickets, which keeps a priority as a rank (``tickets.models.Priority``) and speaks these
codes on its API. Labels are lazy, with English msgids and a context ("ticket status",
"ticket priority", "user role"); the Spanish ones live in this package's locale
(Pendiente, En progreso, Resuelto).
"""

from __future__ import annotations

from typing import Final

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy


class Status(models.TextChoices):
    PENDING = "pending", pgettext_lazy("ticket status", "Pending")
    IN_PROGRESS = "in_progress", pgettext_lazy("ticket status", "In progress")
    RESOLVED = "resolved", pgettext_lazy("ticket status", "Resolved")


class Priority(models.TextChoices):
    LOW = "low", pgettext_lazy("ticket priority", "Low")
    MEDIUM = "medium", pgettext_lazy("ticket priority", "Medium")
    HIGH = "high", pgettext_lazy("ticket priority", "High")
    URGENT = "urgent", pgettext_lazy("ticket priority", "Urgent")


class Role(models.TextChoices):
    CLIENT = "client", pgettext_lazy("user role", "Client")
    TECHNICIAN = "technician", pgettext_lazy("user role", "Technician")
    ADMIN = "admin", pgettext_lazy("user role", "Administrator")


#: Statuses that still owe the client work: what "open tickets" counts (a technician's
#: load, a team's queue). Resolved, and later closed, tickets are not open.
OPEN_STATUSES: Final[frozenset[str]] = frozenset({Status.PENDING, Status.IN_PROGRESS})

#: Code -> lazy label, for code that only has the code (events, API answers).
STATUS_LABELS: Final[dict[str, Promise]] = {s.value: s.label for s in Status}
PRIORITY_LABELS: Final[dict[str, Promise]] = {p.value: p.label for p in Priority}
ROLE_LABELS: Final[dict[str, Promise]] = {r.value: r.label for r in Role}

#: Every allowed move of the workflow: status -> the statuses it may move to.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    Status.PENDING: frozenset({Status.IN_PROGRESS}),
    Status.IN_PROGRESS: frozenset({Status.PENDING, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS}),
}

#: The moves a client may make on their own ticket (reopen).
CLIENT_TRANSITIONS: Final[frozenset[tuple[str, str]]] = frozenset(
    {(Status.RESOLVED, Status.IN_PROGRESS)}
)


def allowed_moves(from_status: str) -> list[str]:
    """The statuses reachable from ``from_status``, in workflow order (``Status`` order)."""
    targets = TRANSITIONS.get(from_status, frozenset())
    return [status for status in Status.values if status in targets]


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())
