"""SLA targets and a ticket's two clocks, first response and resolution, in business time.

A target is a number of business hours per priority: the desk's (``SlaTarget`` rows
without a team, else ``DEFAULT_SLA_HOURS``), overridden per team by that team's rows.
Business time is the calendar's (``tickets.calendars``: the team's, else the default).

The clocks (fields on ``Ticket``):

- first response: starts at creation, due ``target`` later; stops at the first public
  reply of staff (``first_response_at``) or when the ticket is resolved or closed.
- resolution: starts at creation and again at each reopen (``sla_cycle`` counts these
  cycles, ``resolution_started_at`` is the latest start); due after ``target`` plus the
  business time spent waiting on the client in the cycle (``resolution_paused``). It does
  not run while ``waiting`` (``waiting_since``) and stops at ``resolved``.

``watch_sla`` warns at ``WARNING_SHARE`` of a clock's target, announces the breach at its
due time and closes resolved tickets after ``AUTO_CLOSE_DAYS``; ``next_check_at`` is the
next of those moments still to come for a ticket (``moments``), kept by every write
that moves a clock (``refresh``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from django.conf import settings
from django.db.models import QuerySet

from servidesk_shared.vocabulary import OPEN_STATUSES
from tickets import calendars
from tickets.business_time import Calendar
from tickets.models import DEFAULT_SLA_HOURS, Priority, SlaAlert, SlaTarget, Status, Ticket

#: The share of a target after which the people concerned are warned.
WARNING_SHARE: Final = 0.8
#: ``*_stage`` values: how far a clock's alerts went in the current cycle.
NOT_ALERTED, WARNED, BREACHED = 0, 1, 2

Clock = Literal["first_response", "resolution"]


@dataclass(frozen=True)
class Targets:
    priority: int
    first_response_hours: int
    resolution_hours: int
    is_default: bool

    @property
    def first_response(self) -> timedelta:
        return timedelta(hours=self.first_response_hours)

    @property
    def resolution(self) -> timedelta:
        return timedelta(hours=self.resolution_hours)


class TargetTable:
    """Every stored target at once (a few rows per team): one query for a whole pass."""

    def __init__(self, rows: list[SlaTarget]) -> None:
        self._rows = {(row.team_id, row.priority): row for row in rows}

    @classmethod
    def load(cls) -> TargetTable:
        """This process's copy (``tickets.calendars.current``)."""
        return cls(calendars.current().targets)

    def get(self, priority: int, team_id: int | None = None) -> Targets:
        """The team's target for ``priority``, else the desk's, else the default."""
        row = self._rows.get((team_id, priority)) if team_id is not None else None
        if row is None:
            row = self._rows.get((None, priority))
        if row is None:
            first, resolution = DEFAULT_SLA_HOURS[priority]
            return Targets(priority, first, resolution, is_default=True)
        return Targets(
            priority,
            row.first_response_hours,
            row.resolution_hours,
            is_default=False,
        )

    def overrides_of(self, team_id: int) -> dict[int, Targets]:
        """The team's own rows, by priority."""
        return {
            priority: self.get(priority, team_id)
            for (row_team, priority) in self._rows
            if row_team == team_id
        }


def targets_for(priority: int, team_id: int | None = None) -> Targets:
    return TargetTable.load().get(priority, team_id)


def all_targets() -> list[Targets]:
    """The desk's targets for all four priorities, most urgent first."""
    table = TargetTable.load()
    return [table.get(priority) for priority in sorted(Priority.values, reverse=True)]


# --- a ticket's clocks ------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What a ticket's clocks count in: its calendar and its targets."""

    calendar_id: int | None
    calendar: Calendar
    targets: Targets


def plan_for(ticket: Ticket, table: TargetTable | None = None) -> Plan:
    calendar_id, calendar = calendars.calendar_of_team(ticket.team_id)
    targets = (table or TargetTable.load()).get(ticket.priority, ticket.team_id)
    return Plan(calendar_id, calendar, targets)


def set_due_times(ticket: Ticket, plan: Plan) -> None:
    """Both due times from the clocks' starts, the targets and the pauses so far."""
    calendar, targets = plan.calendar, plan.targets
    ticket.first_response_due = calendar.add(ticket.created_at, targets.first_response)
    ticket.resolution_due = calendar.add(
        ticket.resolution_clock_started_at, targets.resolution + ticket.resolution_paused
    )


def first_response_running(ticket: Ticket) -> bool:
    return ticket.first_response_at is None and ticket.status not in (
        Status.RESOLVED,
        Status.CLOSED,
    )


def resolution_running(ticket: Ticket) -> bool:
    return ticket.status in (Status.PENDING, Status.IN_PROGRESS)


@dataclass(frozen=True)
class Moment:
    """Something ``watch_sla`` does at ``at``: a clock's warning or breach, or a close."""

    at: datetime
    action: Literal["warning", "breached", "close"]
    clock: Clock | None = None
    due_at: datetime | None = None


def moments(ticket: Ticket, plan: Plan) -> list[Moment]:
    """What is still to happen to ``ticket``, earliest first (passed moments included)."""
    calendar, targets = plan.calendar, plan.targets
    found: list[Moment] = []
    if first_response_running(ticket):
        due = ticket.first_response_due
        if ticket.first_response_stage < WARNED:
            warn = calendar.add(ticket.created_at, targets.first_response * WARNING_SHARE)
            found.append(Moment(min(warn, due), "warning", "first_response", due))
        if ticket.first_response_stage < BREACHED:
            found.append(Moment(due, "breached", "first_response", due))
    if resolution_running(ticket):
        due = ticket.resolution_due
        if ticket.resolution_stage < WARNED:
            warn = calendar.add(
                ticket.resolution_clock_started_at,
                targets.resolution * WARNING_SHARE + ticket.resolution_paused,
            )
            found.append(Moment(min(warn, due), "warning", "resolution", due))
        if ticket.resolution_stage < BREACHED:
            found.append(Moment(due, "breached", "resolution", due))
    if ticket.status == Status.RESOLVED and ticket.resolved_at is not None:
        found.append(Moment(auto_close_at(ticket.resolved_at), "close"))
    return sorted(found, key=lambda moment: moment.at)


def auto_close_at(resolved_at: datetime) -> datetime:
    return resolved_at + timedelta(days=settings.AUTO_CLOSE_DAYS)


def refresh(ticket: Ticket, plan: Plan | None = None, *, recompute_due: bool = False) -> None:
    """Keep ``next_check_at`` (and the due times when asked) true to the ticket as it now
    is; the caller saves ``SLA_FIELDS``."""
    plan = plan or plan_for(ticket)
    if recompute_due:
        set_due_times(ticket, plan)
    upcoming = moments(ticket, plan)
    ticket.next_check_at = upcoming[0].at if upcoming else None


#: The fields ``refresh`` and the clock moves below may change.
SLA_FIELDS: Final = (
    "first_response_due",
    "resolution_due",
    "next_check_at",
    "waiting_since",
    "sla_cycle",
    "resolution_started_at",
    "resolution_paused",
    "resolution_stage",
)


def pause(ticket: Ticket, at: datetime) -> None:
    """The desk waits on the client from ``at``: the resolution clock stops."""
    ticket.waiting_since = at


def resume(ticket: Ticket, at: datetime, plan: Plan) -> None:
    """The wait is over at ``at``: its business time is added to the clock's due time."""
    if ticket.waiting_since is None:
        return
    ticket.resolution_paused += plan.calendar.between(ticket.waiting_since, at)
    ticket.waiting_since = None


def new_cycle(ticket: Ticket, at: datetime) -> None:
    """A reopen: the resolution clock starts over, with its alerts."""
    ticket.sla_cycle += 1
    ticket.resolution_started_at = at
    ticket.resolution_paused = timedelta(0)
    ticket.resolution_stage = NOT_ALERTED


RECOMPUTE_CHUNK: Final = 500


def recompute_open(tickets: QuerySet[Ticket]) -> int:
    """Move the due times (and next checks) of the open tickets among ``tickets`` to what
    their targets and calendars now say: a target, a calendar or a team's calendar
    changed. Locked in id order, in chunks; no events (the due times are not news)."""
    table = TargetTable.load()
    ids = list(tickets.filter(status__in=OPEN_STATUSES).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), RECOMPUTE_CHUNK):
        rows = list(
            Ticket.objects.select_for_update()
            .filter(pk__in=ids[start : start + RECOMPUTE_CHUNK])
            .order_by("pk")
        )
        for ticket in rows:
            refresh(ticket, plan_for(ticket, table), recompute_due=True)
        Ticket.objects.bulk_update(rows, ["first_response_due", "resolution_due", "next_check_at"])
    return len(ids)


# --- the clocks as the API shows them ---------------------------------------------------


def _left(calendar: Calendar, now: datetime, due: datetime) -> int:
    """Business seconds from ``now`` to ``due``; negative once ``due`` has passed."""
    if now <= due:
        return int(calendar.between(now, due).total_seconds())
    return -int(calendar.between(due, now).total_seconds())


def clock_state(ticket: Ticket, plan: Plan, clock: Clock, now: datetime) -> dict[str, object]:
    """``{due_at, state, business_seconds_left}`` of one clock (docs/contract-additions.md)."""
    calendar = plan.calendar
    if clock == "first_response":
        due = ticket.first_response_due
        done_at = ticket.first_response_at
        if done_at is None and not first_response_running(ticket):
            done_at = ticket.resolved_at or ticket.closed_at
        paused_at = None
    else:
        due = ticket.resolution_due
        done_at = ticket.resolved_at
        if done_at is None and ticket.status == Status.CLOSED:
            done_at = ticket.closed_at
        paused_at = ticket.waiting_since if done_at is None else None
    if done_at is not None:
        state, left = ("breached" if done_at > due else "met"), None
    elif paused_at is not None:
        state, left = "paused", _left(calendar, paused_at, due)
    else:
        left = _left(calendar, now, due)
        state = "breached" if left < 0 or now > due else "running"
    return {"due_at": due, "state": state, "business_seconds_left": left}


def clocks(ticket: Ticket, now: datetime) -> dict[str, object]:
    plan = plan_for(ticket)
    return {
        "calendar_id": plan.calendar_id,
        "first_response": clock_state(ticket, plan, "first_response", now),
        "resolution": clock_state(ticket, plan, "resolution", now),
    }


__all__ = [
    "BREACHED",
    "NOT_ALERTED",
    "SLA_FIELDS",
    "WARNED",
    "WARNING_SHARE",
    "Moment",
    "Plan",
    "SlaAlert",
    "TargetTable",
    "Targets",
    "all_targets",
    "clocks",
    "moments",
    "plan_for",
    "refresh",
    "targets_for",
]
