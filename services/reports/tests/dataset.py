"""The known data set the metric tests use, and an independent oracle for its figures.

The oracle works from the scripted facts only (``Desk.tickets``): it never reads the
projection and shares no code with ``reports.metrics``. Its rules are the documented
definitions, written out the plain way (lists, loops, ``statistics``).

Times are Europe/Madrid wall-clock; the set straddles both 2025 DST changes
(30 March 02:00 -> 03:00, 26 October 03:00 -> 02:00), local midnights whose UTC date is
the day before, reopened tickets, tickets without SLA targets, unassigned tickets and a
technician the projection has no name for. Teams and tags (issue 18): a team renamed, a
team deleted after its ticket, a team id no event named, tags set on creation and by
edits, and (in May) a ticket merged into another. Statuses and satisfaction (issue 19),
in June: a ticket merged (closed, never resolved), one auto-closed, tickets waiting on
the client (one overdue before the wait began, one on time because its clock paused),
surveys (one ticket resolved twice, one resolved without a survey, one surveyed on the
last evening of May and answered after local midnight), an answer changed, and an answer
given before the ticket went to another technician.
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

    _a_merge_in_may(desk)
    _statuses_and_satisfaction(desk)

    # The temporary team goes away after its ticket: the ticket keeps its name.
    desk.team(TEMPORARY, "Temporal", member_ids=(ANA,), kind=schemas.TeamDeleted)
    return desk


def _a_merge_in_may(desk: Desk) -> None:
    """May: a ticket merged into another of the network team (closed by the merge)."""
    kept = desk.ticket(at(2025, 5, 6, 9, 0), team_id=NETWORK, tags=("router",))
    kept.assign(BRUNO, at(2025, 5, 6, 9, 5)).respond(at(2025, 5, 6, 9, 30))
    merged = desk.ticket(at(2025, 5, 6, 9, 10), team_id=NETWORK, tags=("router", "vip"))
    merged.merge_into(kept, at(2025, 5, 6, 11, 10))


def _statuses_and_satisfaction(desk: Desk) -> None:
    """Issue 19's part of the data set (see the module's docstring)."""
    # Late May into June (issue 19). Surveyed 31 May 23:30 (21:30 UTC), answered 1 June
    # 00:15 local (still 31 May in UTC): surveyed in May, answered in June.
    t = desk.ticket(at(2025, 5, 30, 10, 0), category="email", team_id=FIRST_LINE)
    t.assign(ANA, at(2025, 5, 30, 10, 5)).respond(at(2025, 5, 30, 10, 30))
    t.resolve(at(2025, 5, 31, 23, 30))
    t.rate("good", at(2025, 6, 1, 0, 15))

    # A duplicate merged into it (closed by the merge, 1 h after it was opened); the
    # ticket itself resolved, answered "good", auto-closed a week later.
    kept = desk.ticket(at(2025, 6, 2, 9, 0), team_id=FIRST_LINE, tags=("vip",))
    kept.assign(ANA, at(2025, 6, 2, 9, 5)).respond(at(2025, 6, 2, 9, 20))
    duplicate = desk.ticket(at(2025, 6, 2, 9, 30), team_id=FIRST_LINE)
    duplicate.merge_into(kept, at(2025, 6, 2, 10, 30))
    kept.resolve(at(2025, 6, 2, 12, 0))
    kept.rate("good", at(2025, 6, 3, 8, 0))
    kept.close(at(2025, 6, 9, 12, 0))

    # Waiting on the client for the rest of June: due 5 June 09:00, after the wait began,
    # so its paused clock never runs out.
    waiting = desk.ticket(at(2025, 6, 3, 9, 0), category="hardware")
    waiting.assign(BRUNO, at(2025, 6, 3, 9, 5)).respond(at(2025, 6, 3, 9, 30))
    waiting.move("in_progress", at(2025, 6, 3, 10, 0)).move("waiting", at(2025, 6, 3, 11, 0))
    # Already late (due 12:00) when it began to wait at 13:00: breached. Its SLA alerts
    # bring their snapshots only.
    late = desk.ticket(
        at(2025, 6, 3, 10, 0), first_response_within=None, resolve_within=timedelta(hours=2)
    )
    late.move("in_progress", at(2025, 6, 3, 10, 30))
    late.sla_alert("resolution", at(2025, 6, 3, 11, 36), breached=False)
    late.sla_alert("resolution", at(2025, 6, 3, 12, 0), breached=True)
    late.move("waiting", at(2025, 6, 3, 13, 0))

    # Waits a day, so its due time moves a day and it is resolved on time; answered
    # "bad" while Bruno had it, then given to Ana: the answer stays Bruno's.
    back = desk.ticket(at(2025, 6, 4, 9, 0), category="hardware", resolve_within=timedelta(hours=4))
    back.assign(BRUNO, at(2025, 6, 4, 9, 5)).respond(at(2025, 6, 4, 9, 10))
    back.move("in_progress", at(2025, 6, 4, 9, 30)).move("waiting", at(2025, 6, 4, 10, 0))
    back.move("in_progress", at(2025, 6, 5, 10, 0))
    back.resolve(at(2025, 6, 5, 12, 0))
    back.rate("bad", at(2025, 6, 5, 18, 0))
    back.assign(ANA, at(2025, 6, 6, 9, 0))

    # Resolved twice, a survey each time: one ticket surveyed (on the 10th), unanswered.
    twice = desk.ticket(at(2025, 6, 5, 9, 0), category="email", team_id=NETWORK)
    twice.resolve(at(2025, 6, 5, 11, 0))
    twice.move("in_progress", at(2025, 6, 6, 9, 0))
    twice.resolve(at(2025, 6, 10, 9, 0))

    # Answered "bad", then changed to "good" within the link's 14 days.
    changed = desk.ticket(at(2025, 6, 8, 9, 0), category="email", team_id=NETWORK)
    changed.assign(BRUNO, at(2025, 6, 8, 9, 5)).respond(at(2025, 6, 8, 9, 30))
    changed.resolve(at(2025, 6, 8, 12, 0))
    changed.rate("bad", at(2025, 6, 9, 9, 0))
    changed.rate("good", at(2025, 6, 12, 9, 0))

    # Resolved without a survey; and a follow-up of the closed ticket.
    quiet = desk.ticket(at(2025, 6, 11, 9, 0))
    quiet.move("in_progress", at(2025, 6, 11, 10, 0))
    quiet.move("resolved", at(2025, 6, 11, 12, 0), survey=False)
    desk.ticket(at(2025, 6, 20, 9, 0), team_id=FIRST_LINE, follow_up_of_id=kept.id)


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


STATUSES = ("pending", "in_progress", "waiting", "resolved", "closed")
OPEN = ("pending", "in_progress", "waiting")


def is_resolved(t: TicketScript) -> bool:
    """Done with: resolved, or closed (auto-closed, or merged)."""
    return t.status in ("resolved", "closed")


def resolution_overdue(t: TicketScript, as_of: datetime) -> bool:
    """Not done and past its resolution due time by ``as_of``; a waiting ticket's clock is
    paused, so only if it was overdue when the wait began."""
    if t.done_at is not None or t.resolution_due is None:
        return False
    limit = utc(t.resolution_due)
    if t.waiting_since is not None and limit >= utc(t.waiting_since):
        return False
    return limit < as_of


def team_figures(cohort: list[TicketScript], as_of: datetime) -> dict[str | None, Any]:
    """``by_team`` of the summary, keyed by team id (``None``: no team)."""

    def breached(t: TicketScript) -> bool:
        """Either SLA breached as of ``as_of``: done late, or not done and overdue."""
        first = t.first_response_due is not None and (
            utc(t.first_response_at) > utc(t.first_response_due)
            if t.first_response_at is not None
            else utc(t.first_response_due) < as_of
        )
        resolution = t.resolution_due is not None and (
            utc(t.done_at) > utc(t.resolution_due)
            if t.done_at is not None
            else resolution_overdue(t, as_of)
        )
        return first or resolution

    def compliance(
        done: Callable[[TicketScript], datetime | None],
        due: Callable[[TicketScript], datetime | None],
        members: list[TicketScript],
        overdue: Callable[[TicketScript], bool],
    ) -> float | None:
        met = late = 0
        for t in members:
            when, limit = done(t), due(t)
            if limit is None:
                continue
            if when is not None:
                met += utc(when) <= utc(limit)
                late += utc(when) > utc(limit)
            elif overdue(t):
                late += 1
        return round(met / (met + late), 4) if met + late else None

    by_team_tickets: dict[str | None, list[TicketScript]] = {}
    for t in cohort:
        by_team_tickets.setdefault(None if t.team_id is None else str(t.team_id), []).append(t)
    teams: dict[str | None, dict[str, Any]] = {}
    for team_id, members in by_team_tickets.items():
        res = [hours_between(t.created_at, t.done_at) for t in members if t.done_at]
        teams[team_id] = {
            "tickets": len(members),
            "by_status": {s: sum(t.status == s for t in members) for s in STATUSES},
            "open": sum(t.status in OPEN for t in members),
            "resolved": sum(is_resolved(t) for t in members),
            "reopened": sum(bool(t.reopens) for t in members),
            "breached": sum(breached(t) for t in members),
            "mean_resolution_hours": round(statistics.fmean(res), 2) if res else None,
            "first_response_sla_compliance": compliance(
                lambda t: t.first_response_at,
                lambda t: t.first_response_due,
                members,
                lambda t: utc(t.first_response_due) < as_of,  # type: ignore[arg-type]
            ),
            "resolution_sla_compliance": compliance(
                lambda t: t.done_at,
                lambda t: t.resolution_due,
                members,
                lambda t: resolution_overdue(t, as_of),
            ),
        }
    return teams


def csat_technician(t: TicketScript) -> int | None:
    """Whom a ticket's satisfaction counts for: its assignee when last rated, else now."""
    return t.ratings[-1][2] if t.ratings else t.assignee_id


def csat_figures(
    tickets: list[TicketScript], start: datetime, end: datetime, days: list[date]
) -> dict[str, Any]:
    """``csat`` of the summary: answers dated and surveys sent in ``[start, end)``."""

    def within(when: datetime) -> bool:
        return start <= utc(when) < end

    answered = [t for t in tickets if t.ratings and within(t.ratings[-1][0])]
    surveyed = [t for t in tickets if t.surveys and within(t.surveys[-1])]

    def block(members_answered: list[TicketScript], members_surveyed: list[TicketScript]) -> Any:
        good = sum(t.ratings[-1][1] == "good" for t in members_answered)
        bad = len(members_answered) - good
        responded = sum(bool(t.ratings) for t in members_surveyed)
        return {
            "answered": len(members_answered),
            "good": good,
            "bad": bad,
            "score": round(good / len(members_answered), 4) if members_answered else None,
            "surveyed": len(members_surveyed),
            "responded": responded,
            "response_rate": round(responded / len(members_surveyed), 4)
            if members_surveyed
            else None,
        }

    def per(key: Callable[[TicketScript], Any]) -> dict[Any, Any]:
        keys = {key(t) for t in answered + surveyed}
        return {
            k: block([t for t in answered if key(t) == k], [t for t in surveyed if key(t) == k])
            for k in keys
        }

    def local_date(t: TicketScript) -> date:
        return utc(t.ratings[-1][0]).astimezone(MADRID).date()

    def as_id(value: int | None) -> str | None:
        return None if value is None else str(value)

    timeline = []
    for day in days:
        good = sum(local_date(t) == day and t.ratings[-1][1] == "good" for t in answered)
        bad = sum(local_date(t) == day and t.ratings[-1][1] == "bad" for t in answered)
        timeline.append(
            {
                "date": day.isoformat(),
                "answered": good + bad,
                "good": good,
                "bad": bad,
                "score": round(good / (good + bad), 4) if good + bad else None,
            }
        )
    return {
        **block(answered, surveyed),
        "timeline": timeline,
        "by_technician": per(lambda t: as_id(csat_technician(t))),
        "by_team": per(lambda t: as_id(t.team_id)),
        "by_category": per(lambda t: t.category),
    }


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
    csat_keep: Callable[[TicketScript], bool] | None = None,
) -> Expected:
    """The summary's figures; ``csat_keep`` filters the satisfaction figures when they
    need another rule than ``keep`` (the technician filter: see ``csat_technician``)."""
    start = local_day_start(date_from)
    end = local_day_start(date_to + timedelta(days=1))
    as_of = min(now, end)
    tickets = [t for t in desk.tickets if keep(t)]
    cohort = [t for t in tickets if start <= utc(t.created_at) < end]

    resolved = is_resolved

    fr_hours = [
        hours_between(t.created_at, t.first_response_at) for t in cohort if t.first_response_at
    ]
    res_hours = [hours_between(t.created_at, t.done_at) for t in cohort if t.done_at]

    def sla(
        done: Callable[[TicketScript], datetime | None],
        due: Callable[[TicketScript], datetime | None],
        overdue: Callable[[TicketScript], bool],
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
            elif overdue(t):
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
        res = [hours_between(t.created_at, t.done_at) for t in assigned if t.done_at]
        fr = [
            hours_between(t.created_at, t.first_response_at)
            for t in assigned
            if t.first_response_at
        ]
        technicians[str(assignee)] = {
            "assigned": len(assigned),
            "resolved": sum(resolved(t) for t in assigned),
            "open": sum(t.status in OPEN for t in assigned),
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
            "closed": sum(t.status == "closed" for t in cohort),
            "open": sum(t.status in OPEN for t in cohort),
            "reopened": sum(bool(t.reopens) for t in cohort),
            "unassigned": sum(t.assignee_id is None for t in cohort),
        },
        "by_status": {s: sum(t.status == s for t in cohort) for s in STATUSES},
        "by_priority": {
            p: sum(t.priority == p for t in cohort) for p in ("low", "medium", "high", "urgent")
        },
        "by_category": {
            c: sum(t.category == c for t in cohort) for c in {t.category for t in cohort}
        },
        "first_response": {
            **stats(fr_hours),
            "sla": sla(
                lambda t: t.first_response_at,
                lambda t: t.first_response_due,
                lambda t: utc(t.first_response_due) < as_of,  # type: ignore[arg-type]
            ),
        },
        "resolution": {
            **stats(res_hours),
            "sla": sla(
                lambda t: t.done_at,
                lambda t: t.resolution_due,
                lambda t: resolution_overdue(t, as_of),
            ),
        },
        "reopen_rate": round(sum(bool(t.reopens) for t in ever_resolved) / len(ever_resolved), 4)
        if ever_resolved
        else None,
        "timeline": timeline,
        "csat": csat_figures(
            [t for t in desk.tickets if (csat_keep or keep)(t)],
            start,
            end,
            [date.fromisoformat(row["date"]) for row in timeline],
        ),
        "backlog_start": sum(is_open_at(t, start) for t in tickets),
        "technicians": technicians,
    }
    return Expected(cohort=cohort, summary=summary)
