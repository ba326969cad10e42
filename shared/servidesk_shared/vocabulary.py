"""The help desk's words, defined once: ticket statuses, priorities, user roles and the
status workflow, with their labels in the user's language.

The workflow (the contract's, ``ARCHITECTURE.md``; ``waiting`` and ``closed`` came with
the SLA issue)::

    pending -> in_progress -> resolved -> closed   (closed: final, only the desk closes)
    in_progress -> pending
    in_progress -> waiting    (waiting on the client: the resolution clock pauses)
    waiting -> in_progress | resolved
    resolved -> in_progress   (reopen)

Any other move, including "to the same status", is not allowed. Staff (technicians and
admins) may make every move of ``TRANSITIONS``; a client may only reopen their own
resolved ticket. A client's reply moves a waiting or resolved ticket back to
``in_progress`` by itself (``CLIENT_REPLY_MOVES``). Only the desk itself closes: a
resolved ticket after ``AUTO_CLOSE_DAYS`` without client activity, a merged ticket at
once (``SYSTEM_TRANSITIONS``).

The values are the APIs' and the events' codes; services store them as they are, except
tickets, which keeps a priority as a rank (``tickets.models.Priority``) and speaks these
codes on its API. Labels are lazy, with English msgids and a context ("ticket status",
"ticket priority", "user role"); the Spanish ones live in this package's locale
(Pendiente, En progreso, Esperando al cliente, Resuelto, Cerrado).
"""

from __future__ import annotations

from typing import Final

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy


class Status(models.TextChoices):
    PENDING = "pending", pgettext_lazy("ticket status", "Pending")
    IN_PROGRESS = "in_progress", pgettext_lazy("ticket status", "In progress")
    WAITING = "waiting", pgettext_lazy("ticket status", "Waiting on client")
    RESOLVED = "resolved", pgettext_lazy("ticket status", "Resolved")
    CLOSED = "closed", pgettext_lazy("ticket status", "Closed")


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
#: load, a team's queue). A ticket waiting on the client is open; resolved and closed
#: ones are not.
OPEN_STATUSES: Final[frozenset[str]] = frozenset(
    {Status.PENDING, Status.IN_PROGRESS, Status.WAITING}
)

#: Where the resolution clock does not run: the desk waits on the client.
PAUSED_STATUSES: Final[frozenset[str]] = frozenset({Status.WAITING})

#: Nothing moves a ticket out of these (a client's reply opens a follow-up ticket).
FINAL_STATUSES: Final[frozenset[str]] = frozenset({Status.CLOSED})

#: Code -> lazy label, for code that only has the code (events, API answers).
STATUS_LABELS: Final[dict[str, Promise]] = {s.value: s.label for s in Status}
PRIORITY_LABELS: Final[dict[str, Promise]] = {p.value: p.label for p in Priority}
ROLE_LABELS: Final[dict[str, Promise]] = {r.value: r.label for r in Role}

#: Every allowed move of the workflow: status -> the statuses it may move to.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    Status.PENDING: frozenset({Status.IN_PROGRESS}),
    Status.IN_PROGRESS: frozenset({Status.PENDING, Status.WAITING, Status.RESOLVED}),
    Status.WAITING: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS}),
    Status.CLOSED: frozenset(),
}

#: The statuses a person's move can lead to (every one but ``closed``): what a status
#: field a person fills in (a bulk action, a canned response's action) may name.
REACHABLE_STATUSES: Final[tuple[str, ...]] = tuple(
    status for status in Status.values if any(status in to for to in TRANSITIONS.values())
)

#: The moves a client may make on their own ticket (reopen).
CLIENT_TRANSITIONS: Final[frozenset[tuple[str, str]]] = frozenset(
    {(Status.RESOLVED, Status.IN_PROGRESS)}
)

#: What a client's reply does by itself, in the reply's transaction: the desk owes an
#: answer again. Other statuses keep theirs; a closed ticket gets a follow-up instead.
CLIENT_REPLY_MOVES: Final[dict[str, str]] = {
    Status.WAITING: Status.IN_PROGRESS,
    Status.RESOLVED: Status.IN_PROGRESS,
}

#: Moves only the desk itself makes, never a person: auto-close of a resolved ticket
#: and the close of a merged one (from wherever it was).
SYSTEM_TRANSITIONS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        (Status.RESOLVED, Status.CLOSED),
        *((status, Status.CLOSED) for status in OPEN_STATUSES),
    }
)


def allowed_moves(from_status: str) -> list[str]:
    """The statuses reachable from ``from_status``, in workflow order (``Status`` order)."""
    targets = TRANSITIONS.get(from_status, frozenset())
    return [status for status in Status.values if status in targets]


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())
