"""The status workflow of the contract, as data: every allowed move and who may make it.

    pending -> in_progress -> resolved
    in_progress -> pending
    resolved -> in_progress   (reopen)

Any other move, including "to the same status", is refused with 409 and a message that
names the moves allowed from the current status. Staff (technicians and admins) may make
every allowed move; a client may only reopen their own resolved ticket.
"""

from __future__ import annotations

from typing import Final

from tickets.actors import Actor
from tickets.models import Status

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    Status.PENDING: frozenset({Status.IN_PROGRESS}),
    Status.IN_PROGRESS: frozenset({Status.PENDING, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.IN_PROGRESS}),
}

#: The moves a client may make on their own ticket.
CLIENT_TRANSITIONS: Final[frozenset[tuple[str, str]]] = frozenset(
    {(Status.RESOLVED, Status.IN_PROGRESS)}
)


def allowed_moves(from_status: str) -> list[str]:
    """The statuses reachable from ``from_status``, in workflow order."""
    targets = TRANSITIONS.get(from_status, frozenset())
    return [status for status in Status.values if status in targets]


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def may_move(actor: Actor, from_status: str, to_status: str) -> bool:
    """Whether ``actor``'s role lets them make this (allowed) move on a ticket they can see."""
    if actor.is_staff:
        return True
    return actor.is_client and (from_status, to_status) in CLIENT_TRANSITIONS
