"""The status workflow of the contract, checked: who may make which of its moves.

The moves themselves are defined once, in ``servidesk_shared.vocabulary``::

    pending -> in_progress -> resolved
    in_progress -> pending
    resolved -> in_progress   (reopen)

Any other move, including "to the same status", is refused with 409 and a message that
names the moves allowed from the current status. Staff (technicians and admins) may make
every allowed move; a client may only reopen their own resolved ticket.
"""

from __future__ import annotations

from servidesk_shared.vocabulary import (
    CLIENT_TRANSITIONS,
    TRANSITIONS,
    allowed_moves,
    is_allowed,
)
from tickets.actors import Actor

__all__ = ["CLIENT_TRANSITIONS", "TRANSITIONS", "allowed_moves", "is_allowed", "may_move"]


def may_move(actor: Actor, from_status: str, to_status: str) -> bool:
    """Whether ``actor``'s role lets them make this (allowed) move on a ticket they can see."""
    if actor.is_staff:
        return True
    return actor.is_client and (from_status, to_status) in CLIENT_TRANSITIONS
