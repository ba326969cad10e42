"""The known data set the metric tests use, and an independent oracle for its figures.

The oracle works from the scripted facts only (``Desk.tickets``): it never reads the
projection and shares no code with ``reports.metrics``. Its rules are the documented
definitions, written out the plain way (lists, loops, ``statistics``).

Times are Europe/Madrid wall-clock; the set straddles both 2025 DST changes
(30 March 02:00 -> 03:00, 26 October 03:00 -> 02:00), local midnights whose UTC date is
the day before, reopened tickets, tickets without SLA targets, unassigned tickets and a
technician the projection has no name for. Teams and tags (issue 18): a team renamed, a
team deleted after its ticket, a team id no event named, tags set on creation and by
edits, and (in May) a ticket merged into another.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from servidesk_shared.events import schemas
from tests.desk import MADRID, Desk, TicketScript, at, hours_between, utc

ANA, BRUNO, NAMELESS = 10, 11, 12
#: Teams: first line (lead Ana), network (renamed), a temporary one deleted later, and
#: an id no ``team.*`` event ever named.
FIRST_LINE, NETWORK, TEMPORARY, UNNAMED_TEAM = 1, 2, 3, 9


def build_desk() -> Desk:
    desk = Desk()
    desk.user(ANA, "Ana Pérez")
    desk.user(BRUNO, "Bruno Díaz")
    desk.user(1, "Admin", role="admin")
    desk.team(FIRST_LINE, "Primer nivel", member_ids=(ANA, BRUNO), lead_id=ANA)
    desk.team(NETWORK, "Redes", member_ids=(BRUNO,), lead_id=BRUNO)
    desk.team(
        NETWORK,
        "Redes y comunicaciones",
        member_ids=(BRUNO,),
        lead_id=BRUNO,
        kind=schemas.TeamUpdated,
    )
    desk.team(TEMPORARY, "Temporal", member_ids=(ANA,))

    # Before March: one resolved in March (backlog at the start), one never resolved.
    t = desk.ticket(at(2025, 2, 27, 10, 0), category="hardware")
    t.assign(ANA, at(2025, 2, 27, 10, 5)).respond(at(2025, 2, 27, 11, 0))
    t.resolve(at(2025, 3, 2, 10, 0))
    desk.ticket(at(2025, 2, 20, 9, 0), priority="low", category="email")

    # March.
    t = desk.ticket(
        at(2025, 3, 3, 9, 0), priority="high", team_id=FIRST_LINE, tags=("vip", "impresora")
    )
    t.assign(ANA, at(2025, 3, 3, 9, 10)).respond(at(2025, 3, 3, 9, 30))
    t.resolve(at(2025, 3, 3, 17, 0))

    t = desk.ticket(at(2025, 3, 10, 10, 0), category="email")
    t.update(at(2025, 3, 10, 10, 1), team_id=NETWORK, tags=["correo"])
    t.update(at(2025, 3, 10, 10, 2), tags=["correo", "vip"])
    t.assign(BRUNO, at(2025, 3, 10, 10, 5)).respond(at(2025, 3, 10, 15, 0))  # late
    t.resolve(at(2025, 3, 14, 10, 0))  # late

    t = desk.ticket(at(2025, 3, 15, 12, 0), priority="low")  # resolved, reopened, resolved
    t.update(at(2025, 3, 15, 12, 5), team_id=FIRST_LINE, tags=["facturación"])
    t.assign(ANA, at(2025, 3, 15, 12, 10)).respond(at(2025, 3, 15, 12, 45))
    t.resolve(at(2025, 3, 16, 12, 0))
    t.move("in_progress", at(2025, 3, 18, 9, 0))
    t.resolve(at(2025, 3, 19, 12, 0))

    # The night of the spring change: 23:30 CET, answered at 03:30 CEST (3 real hours).
    t = desk.ticket(
        at(2025, 3, 29, 23, 30), priority="urgent", category="hardware", team_id=TEMPORARY
    )
    t.assign(BRUNO, at(2025, 3, 30, 1, 0)).respond(at(2025, 3, 30, 3, 30))
    t.resolve(at(2025, 3, 30, 4, 0))

    # Local 30 March 00:30 is still 29 March in UTC. Never answered: both SLAs breached.
    desk.ticket(at(2025, 3, 30, 0, 30), team_id=UNNAMED_TEAM, tags=("vip",))

    # Local 31 March 00:15 is 30 March in UTC; resolved in March, reopened in April.
    t = desk.ticket(at(2025, 3, 31, 0, 15), priority="high", category="email")
    t.assign(NAMELESS, at(2025, 3, 31, 0, 20)).respond(at(2025, 3, 31, 1, 15))
    t.resolve(at(2025, 3, 31, 6, 15))
    t.move("in_progress", at(2025, 4, 2, 10, 0))

    # The last minute of March: its SLAs are not due by the end of the month.
    desk.ticket(at(2025, 3, 31, 23, 59), priority="low")

    # No SLA targets, no category.
    t = desk.ticket(
        at(2025, 3, 20, 8, 0), category="", first_response_within=None, resolve_within=None
    )
    t.assign(BRUNO, at(2025, 3, 20, 8, 30)).respond(at(2025, 3, 20, 9, 0))
    t.resolve(at(2025, 3, 20, 20, 0))

    # Local 1 April 00:00 is 31 March 22:00 UTC: April, not March.
    desk.ticket(at(2025, 4, 1, 0, 0))

    # The autumn change: 02:30 happens twice on 26 October.
    t = desk.ticket(at(2025, 10, 26, 2, 30, fold=0), category="hardware")
    t.assign(ANA, at(2025, 10, 26, 2, 40, fold=0)).respond(at(2025, 10, 26, 2, 50, fold=0))
    t.resolve(at(2025, 10, 26, 2, 15, fold=1))  # 45 real minutes after creation
    desk.ticket(at(2025, 10, 26, 2, 30, fold=1), priority="high")
    desk.ticket(at(2025, 10, 26, 23, 30))  # 22:30 UTC, still the 26th locally
    desk.ticket(at(2025, 10, 27, 0, 10))  # 23:10 UTC on the 26th, but the 27th locally

    # May: a ticket merged into another of the network team (resolved by the merge).
    kept = desk.ticket(at(2025, 5, 6, 9, 0), team_id=NETWORK, tags=("router",))
    kept.assign(BRUNO, at(2025, 5, 6, 9, 5)).respond(at(2025, 5, 6, 9, 30))
    merged = desk.ticket(at(2025, 5, 6, 9, 10), team_id=NETWORK, tags=("router", "vip"))
    merged.merge_into(kept, at(2025, 5, 6, 11, 10))

    # The temporary team goes away after its ticket: the ticket keeps its name.
    desk.team(TEMPORARY, "Temporal", member_ids=(ANA,), kind=schemas.TeamDeleted)
    return desk


# --- the oracle --------------------------------------------------------------------------


def local_day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=MADRID).astimezone(UTC)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def is_open_at(ticket: TicketScript, instant: datetime) -> bool:
    if utc(ticket.created_at) >= instant:
        return False
    moves = sorted(
        [(utc(when), "resolved") for when in ticket.resolutions]
        + [(utc(when), "reopened") for when in ticket.reopens]
    )
    state = "open"
    for when, kind in moves:
        if when >= instant:
            break
        state = "closed" if kind == "resolved" else "open"
    return state == "open"


def is_resolved(t: TicketScript) -> bool:
    return t.status == "resolved"


def team_figures(cohort: list[TicketScript], as_of: datetime) -> dict[str | None, Any]:
    """``by_team`` of the summary, keyed by team id (``None``: no team)."""

    def breached(t: TicketScript) -> bool:
        """Either SLA breached as of ``as_of``: done late, or not done and overdue."""
        outcomes = (
            (t.first_response_at, t.first_response_due),
            (t.resolved_at if is_resolved(t) else None, t.resolution_due),
        )
        return any(
            limit is not None
            and (utc(when) > utc(limit) if when is not None else utc(limit) < as_of)
            for when, limit in outcomes
        )

    def compliance(
        done: Callable[[TicketScript], datetime | None],
        due: Callable[[TicketScript], datetime | None],
        members: list[TicketScript],
    ) -> float | None:
        met = late = 0
        for t in members:
            when, limit = done(t), due(t)
            if limit is None:
                continue
            if when is not None:
                met += utc(when) <= utc(limit)
                late += utc(when) > utc(limit)
            elif utc(limit) < as_of:
                late += 1
        return round(met / (met + late), 4) if met + late else None

    by_team_tickets: dict[str | None, list[TicketScript]] = {}
    for t in cohort:
        by_team_tickets.setdefault(None if t.team_id is None else str(t.team_id), []).append(t)
    teams: dict[str | None, dict[str, Any]] = {}
    for team_id, members in by_team_tickets.items():
        res = [
            hours_between(t.created_at, t.resolved_at)
            for t in members
            if is_resolved(t) and t.resolved_at
        ]
        teams[team_id] = {
            "tickets": len(members),
            "by_status": {
                s: sum(t.status == s for t in members)
                for s in ("pending", "in_progress", "resolved")
            },
            "open": sum(not is_resolved(t) for t in members),
            "resolved": sum(is_resolved(t) for t in members),
            "reopened": sum(bool(t.reopens) for t in members),
            "breached": sum(breached(t) for t in members),
            "mean_resolution_hours": round(statistics.fmean(res), 2) if res else None,
            "first_response_sla_compliance": compliance(
                lambda t: t.first_response_at, lambda t: t.first_response_due, members
            ),
            "resolution_sla_compliance": compliance(
                lambda t: t.resolved_at if is_resolved(t) else None,
                lambda t: t.resolution_due,
                members,
            ),
        }
    return teams


@dataclass
class Expected:
    cohort: list[TicketScript]
    summary: dict[str, Any]


def expected(
    desk: Desk,
    date_from: date,
    date_to: date,
    *,
    now: datetime,
    keep: Callable[[TicketScript], bool] = lambda ticket: True,
) -> Expected:
    start = local_day_start(date_from)
    end = local_day_start(date_to + timedelta(days=1))
    as_of = min(now, end)
    tickets = [t for t in desk.tickets if keep(t)]
    cohort = [t for t in tickets if start <= utc(t.created_at) < end]

    def resolved(t: TicketScript) -> bool:
        return t.status == "resolved"

    fr_hours = [
        hours_between(t.created_at, t.first_response_at) for t in cohort if t.first_response_at
    ]
    res_hours = [
        hours_between(t.created_at, t.resolved_at) for t in cohort if resolved(t) and t.resolved_at
    ]

    def sla(
        done: Callable[[TicketScript], datetime | None],
        due: Callable[[TicketScript], datetime | None],
    ) -> dict[str, Any]:
        met = breached = pending = 0
        for t in cohort:
            when, limit = done(t), due(t)
            if limit is None:
                continue
            if when is not None:
                if utc(when) <= utc(limit):
                    met += 1
                else:
                    breached += 1
            elif utc(limit) < as_of:
                breached += 1
            else:
                pending += 1
        return {
            "met": met,
            "breached": breached,
            "pending": pending,
            "compliance": round(met / (met + breached), 4) if met + breached else None,
        }

    def stats(values: list[float]) -> dict[str, Any]:
        if not values:
            return {"count": 0, "mean_hours": None, "median_hours": None, "p90_hours": None}
        return {
            "count": len(values),
            "mean_hours": round(statistics.fmean(values), 2),
            "median_hours": round(statistics.median(values), 2),
            "p90_hours": round(percentile(values, 0.9), 2),
        }

    last_day = min(date_to, as_of.astimezone(MADRID).date()) if as_of < end else date_to
    timeline = []
    day = date_from
    while day <= last_day:
        day_start, day_end = local_day_start(day), local_day_start(day + timedelta(days=1))

        def within(when: datetime, lo: datetime = day_start, hi: datetime = day_end) -> bool:
            return lo <= utc(when) < hi

        timeline.append(
            {
                "date": day.isoformat(),
                "created": sum(within(t.created_at) for t in tickets),
                "resolved": sum(within(w) for t in tickets for w in t.resolutions),
                "reopened": sum(within(w) for t in tickets for w in t.reopens),
                "backlog": sum(is_open_at(t, day_end) for t in tickets),
            }
        )
        day += timedelta(days=1)

    ever_resolved = [t for t in cohort if t.resolutions]
    by_assignee: dict[int, list[TicketScript]] = {}
    for t in cohort:
        if t.assignee_id is not None:
            by_assignee.setdefault(t.assignee_id, []).append(t)
    technicians = {}
    for assignee, assigned in by_assignee.items():
        res = [
            hours_between(t.created_at, t.resolved_at)
            for t in assigned
            if resolved(t) and t.resolved_at
        ]
        fr = [
            hours_between(t.created_at, t.first_response_at)
            for t in assigned
            if t.first_response_at
        ]
        technicians[str(assignee)] = {
            "assigned": len(assigned),
            "resolved": sum(resolved(t) for t in assigned),
            "open": sum(not resolved(t) for t in assigned),
            "reopened": sum(bool(t.reopens) for t in assigned),
            "median_resolution_hours": round(statistics.median(res), 2) if res else None,
            "median_first_response_hours": round(statistics.median(fr), 2) if fr else None,
        }

    tag_counts = Counter(tag for t in cohort for tag in t.tags)

    summary = {
        "by_team": team_figures(cohort, as_of),
        "by_tag": sorted(tag_counts.items(), key=lambda item: (-item[1], item[0]))[:50],
        "totals": {
            "created": len(cohort),
            "resolved": sum(resolved(t) for t in cohort),
            "open": sum(not resolved(t) for t in cohort),
            "reopened": sum(bool(t.reopens) for t in cohort),
            "unassigned": sum(t.assignee_id is None for t in cohort),
        },
        "by_status": {
            s: sum(t.status == s for t in cohort) for s in ("pending", "in_progress", "resolved")
        },
        "by_priority": {
            p: sum(t.priority == p for t in cohort) for p in ("low", "medium", "high", "urgent")
        },
        "by_category": {
            c: sum(t.category == c for t in cohort) for c in {t.category for t in cohort}
        },
        "first_response": {
            **stats(fr_hours),
            "sla": sla(lambda t: t.first_response_at, lambda t: t.first_response_due),
        },
        "resolution": {
            **stats(res_hours),
            "sla": sla(
                lambda t: t.resolved_at if resolved(t) else None, lambda t: t.resolution_due
            ),
        },
        "reopen_rate": round(sum(bool(t.reopens) for t in ever_resolved) / len(ever_resolved), 4)
        if ever_resolved
        else None,
        "timeline": timeline,
        "backlog_start": sum(is_open_at(t, start) for t in tickets),
        "technicians": technicians,
    }
    return Expected(cohort=cohort, summary=summary)
