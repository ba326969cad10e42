"""Pure derivation of a ticket's history figures from its status changes.

Kept free of the ORM so the rules read in one place and are tested on their own:

- the ticket is open from its creation; each move into a done status (``resolved``, or
  ``closed``: a merged ticket is closed at once) closes the open spell, each move out of
  one (a reopen) starts a new one; ``resolved`` to ``closed`` changes neither;
- the time spent in ``pending``, ``in_progress`` and ``waiting`` adds up the finished
  intervals;
- the latest move to ``resolved`` that sent the client a survey (``surveyed``) dates the
  ticket's survey: a ticket resolved twice is one ticket surveyed;
- changes are taken in sequence order (the producer's commit order), never by clock;
  a change whose time is earlier than the previous one (clock skew) is treated as
  happening at the previous time, so no interval is negative;
- when the stored snapshot is newer than the last change we know of and disagrees with
  it, a change event is missing (late or lost): the snapshot's status is trusted, at
  its ``resolved_at`` (``closed_at`` for a closed one never resolved) or
  ``updated_at``. When the late event arrives the figures are derived again from the
  real change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

PENDING = "pending"
IN_PROGRESS = "in_progress"
WAITING = "waiting"
RESOLVED = "resolved"
CLOSED = "closed"
#: Statuses where the desk is done with a ticket: its open spell has ended.
DONE: Final = frozenset({RESOLVED, CLOSED})


@dataclass(frozen=True, slots=True)
class Change:
    sequence: int
    at: datetime
    from_status: str
    to_status: str
    #: A move to ``resolved`` that carried a rating link.
    surveyed: bool = False


@dataclass(frozen=True, slots=True)
class Spell:
    started_at: datetime
    ended_at: datetime | None
    reopened: bool


@dataclass(slots=True)
class History:
    spells: list[Spell] = field(default_factory=list)
    times_resolved: int = 0
    reopen_count: int = 0
    first_resolved_at: datetime | None = None
    pending_seconds: float = 0.0
    in_progress_seconds: float = 0.0
    waiting_seconds: float = 0.0
    surveyed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the newest snapshot says, for reconciling with the known changes."""

    sequence: int
    status: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None = None

    @property
    def done_at(self) -> datetime:
        """When the snapshot says the desk was done: resolved, else closed, else updated."""
        return self.resolved_at or self.closed_at or self.updated_at


def derive(snapshot: Snapshot, changes: Iterable[Change]) -> History:
    ordered = sorted(changes, key=lambda change: change.sequence)
    history = History()
    state = ordered[0].from_status if ordered else PENDING
    now = snapshot.created_at
    open_since: datetime | None = None
    reopened = False
    if state in DONE:
        # Created resolved (not in the workflow, but the data says so): a zero-length spell.
        history.spells.append(Spell(now, now, reopened=False))
        history.times_resolved = 1
        history.first_resolved_at = now
    else:
        open_since = now

    def move(to_status: str, at: datetime) -> None:
        nonlocal state, now, open_since, reopened
        at = max(at, now)
        elapsed = (at - now).total_seconds()
        if state == PENDING:
            history.pending_seconds += elapsed
        elif state == IN_PROGRESS:
            history.in_progress_seconds += elapsed
        elif state == WAITING:
            history.waiting_seconds += elapsed
        if to_status in DONE and state not in DONE:
            history.spells.append(Spell(open_since or at, at, reopened=reopened))
            open_since = None
            history.times_resolved += 1
            if history.first_resolved_at is None:
                history.first_resolved_at = at
        elif to_status not in DONE and state in DONE:
            open_since, reopened = at, True
            history.reopen_count += 1
        state, now = to_status, at

    for change in ordered:
        move(change.to_status, change.at)
        if change.surveyed:
            history.surveyed_at = now

    last_known = ordered[-1].sequence if ordered else 0
    if snapshot.sequence > last_known and snapshot.status != state:
        when = snapshot.updated_at
        if snapshot.status in DONE and state not in DONE:
            when = snapshot.done_at
        move(snapshot.status, when)

    if open_since is not None:
        history.spells.append(Spell(open_since, None, reopened=reopened))
    return history
