"""The demo desk's past: three months of tickets, written at once (``seed_demo``).

``history_write`` lives a small help desk through its last ``DAYS`` days, ticket by
ticket in the order they came in, with a seeded random generator (the same seed and the
same day give the same desk), then writes it all in bulk in the caller's transaction:
tickets, comments and internal notes, history entries, tags, SLA alerts, attachments
(small generated files, through the attachments storage), the inbound mails that opened
some tickets, and the tickets' events in the outbox (``PUBLISHED``).

The life of a ticket follows the desk's own rules, at the times they would have happened:

- tickets arrive on working days, mostly in office hours (some mails before or after);
  a team with an assignment rule assigns at once, else a technician takes it;
- first responses and resolutions are drawn against the ticket's SLA targets in the
  business calendar (``tickets.sla``): most are in time, about one in ten is late. A
  clock that runs out is breached as ``watch_sla`` would have done it (an ``SlaAlert``,
  ``ticket.sla_breached``, and the team's escalation rule: a raised priority, the lead);
- conversations: staff replies, clients' answers and nudges, internal notes; some tickets
  wait on the client (the resolution clock pauses), a few are reopened by the client;
- half of the resolved tickets are rated (mostly good, some with a remark), and those
  resolved more than ``AUTO_CLOSE_DAYS`` ago are closed by the desk;
- whatever would happen after ``now`` does not: recent tickets are still open, some of
  them already late.

Why events, and with these dates: reports' dashboard and notifier's feed are projections
of tickets' events. Publishing the history as the events it produced (each
``occurred_at`` and snapshot carrying the historical times) keeps one source of truth:
reports derives its figures from the same tickets the queue shows, with its own code,
instead of a second invented data set that would disagree with the queue. Only the
events those figures need are published (``PUBLISHED``), about five per ticket.
"""

from __future__ import annotations

import copy
import random
import struct
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models.functions import Now
from inbound.models import InboundMessage, Outcome

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events import schemas
from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.publisher import wake_relays_on_commit
from servidesk_shared.outbox.models import AggregateSequence, OutboxMessage
from servidesk_shared.vocabulary import CLIENT_REPLY_MOVES
from tickets import attachments, calendars, csat, demo, events, numbers, search, sla
from tickets import tags as tagging
from tickets.models import (
    Assignment,
    Attachment,
    Category,
    Comment,
    DirectoryUser,
    HistoryEntry,
    Priority,
    Role,
    SlaAlert,
    Status,
    Team,
    Ticket,
)
from tickets.sla_watch import AUTO_CLOSE_ACTOR, ESCALATION_ACTOR
from tickets.user_ids import render_user_id

#: How far back the history goes, and the generator's seed.
DAYS: Final = 91
SEED: Final = 22
#: Tickets a working day brings on average, by weekday (Monday is the busiest).
PER_DAY: Final = {0: 5.0, 1: 4.3, 2: 4.1, 3: 3.9, 4: 3.2, 5: 0.0, 6: 0.0}
PRIORITIES: Final = (
    (Priority.LOW, 25),
    (Priority.MEDIUM, 45),
    (Priority.HIGH, 22),
    (Priority.URGENT, 8),
)
#: Shares of tickets: opened by mail, late to answer, late to resolve, waiting on the
#: client, reopened, rated once resolved, rated good.
MAIL_SHARE: Final = 0.16
LATE_RESPONSE: Final = 0.10
LATE_RESOLUTION: Final = 0.10
WAITING_SHARE: Final = 0.22
REOPEN_SHARE: Final = 0.05
RATED_SHARE: Final = 0.5
GOOD_SHARE: Final = 0.84
#: The steps whose events the history publishes: what reports' figures and charts come
#: from (creations, assignments, status moves, closes, ratings, breaches), each event
#: carrying the ticket as it then was (team, tags, first response included). The rest of
#: each conversation (comments, notes, tag edits) is in tickets' own records: announced
#: today, it would only flood the demo people's feeds and mailboxes with three months of
#: messages and make the consumers' catching up twice as long.
PUBLISHED: Final = frozenset({"created", "assigned", "status", "closed", "rated", "breached"})
#: Where the demo's inbound mails say they were read from.
MAIL_SOURCE: Final = "demo:inbox"
#: What the snapshot of each event is made of (the ticket's fields as they were then).
STATE_FIELDS: Final = (
    "status",
    "priority",
    "assignee_id",
    "team_id",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "first_response_due",
    "resolution_due",
    "closed_at",
    "waiting_since",
    "rating",
    "sla_cycle",
)


@dataclass(frozen=True)
class People:
    """Who the desk is: active users of the directory."""

    technicians: Sequence[DirectoryUser]
    clients: Sequence[DirectoryUser]


@dataclass(frozen=True)
class Written:
    tickets: int
    comments: int
    events: int
    attachments: int
    mails: int
    breaches: int
    by_status: dict[str, int]


@dataclass
class Step:
    """One thing that happened to a ticket: the event it published, with the ticket as it
    was right after it."""

    kind: str
    at: datetime
    actor: str | None
    state: dict[str, Any]
    tags: list[str]
    data: dict[str, Any] = field(default_factory=dict)
    comment: Comment | None = None
    files: list[Attachment] = field(default_factory=list)


@dataclass
class Upload:
    row: Attachment
    content: bytes


class Desk:
    """What the whole history shares: the people, the teams' turns, the calendar, the
    random generator and ``now``."""

    def __init__(self, *, people: People, now: datetime, rng: random.Random) -> None:
        self.now = now
        self.rng = rng
        self.people = people
        self.users = {user.pk: user for user in (*people.technicians, *people.clients)}
        self.table = sla.TargetTable.load()
        self.categories = {category.slug: category for category in Category.objects.all()}
        self.teams = {team.pk: team for team in Team.objects.prefetch_related("members")}
        technicians = {user.pk for user in people.technicians}
        self.members = {
            team.pk: [m.user_id for m in team.members.order_by("id") if m.user_id in technicians]
            for team in self.teams.values()
        }
        self.turns: dict[int, int] = Counter()

    def next_in_turn(self, team: Team) -> str | None:
        """The assignee a team's rule picks (round robin; fewest open is near enough to
        a fair draw for a history)."""
        members = self.members.get(team.pk) or []
        if team.assignment == Assignment.MANUAL or not members:
            return None
        if team.assignment == Assignment.ROUND_ROBIN:
            chosen = members[self.turns[team.pk] % len(members)]
            self.turns[team.pk] += 1
            return chosen
        return self.rng.choice(members)

    def technician_for(self, team: Team | None) -> DirectoryUser:
        members = self.members.get(team.pk) if team is not None else None
        if members:
            return self.users[self.rng.choice(members)]
        return self.rng.choice(list(self.people.technicians))


class Life:
    """One ticket, lived step by step from its creation until it closes or ``now``."""

    def __init__(self, desk: Desk, *, created: datetime, client: DirectoryUser) -> None:
        self.desk = desk
        rng = desk.rng
        self.client = client
        self.lang = "en" if client.username in demo.ENGLISH_CLIENTS else "es"
        stories = demo.STORIES_EN if self.lang == "en" else demo.STORIES_ES
        self.story = rng.choice(stories)
        category = desk.categories.get(self.story.category)
        team = desk.teams.get(category.team_id) if category and category.team_id else None
        self.via_mail = rng.random() < MAIL_SHARE
        self.ticket = Ticket(
            number=0,
            title=self.story.title,
            description=self.story.description + (self._signature() if self.via_mail else ""),
            status=Status.PENDING,
            priority=_pick(rng, PRIORITIES),
            category=category,
            client_id=client.pk,
            team=team,
            created_at=created,
            updated_at=created,
        )
        self.plan = self._plan()
        sla.set_due_times(self.ticket, self.plan)
        self.tags: list[str] = []
        self.steps: list[Step] = []
        self.comments: list[Comment] = []
        self.history: list[HistoryEntry] = []
        self.alerts: list[SlaAlert] = []
        self.uploads: list[Upload] = []
        #: Inbound mails: ``None`` for the one that opened the ticket, else the comment.
        self.mails: list[Comment | None] = []
        self.last = created
        #: What comes next would happen after ``now``: it does not.
        self.cut = False

    # --- the story ------------------------------------------------------------------

    def live(self) -> None:
        desk, rng, ticket = self.desk, self.desk.rng, self.ticket
        created = ticket.created_at
        files = [self._screenshot()] if rng.random() < (0.15 if self.via_mail else 0.03) else []
        self._entry(self.client.pk, "status", None, Status.PENDING, created)
        # The team's rule assigns before ticket.created goes out (services.ticket_create).
        chosen = desk.next_in_turn(ticket.team) if ticket.team is not None else None
        if chosen is not None:
            ticket.assignee_id, ticket.version = chosen, ticket.version + 1
            self._entry(None, "assignee_id", None, chosen, created)
        # (Its ticket.assigned would only repeat what ticket.created's snapshot says.)
        self._step("created", created, self.client.pk, files=self._attach(files, None, created))
        if self.via_mail:
            self.mails.append(None)

        targets = self.plan.targets
        late = rng.random() < LATE_RESPONSE
        share = rng.uniform(1.1, 2.4) if late else rng.betavariate(1.4, 3.5) * 0.9
        answer_at = self._business(created, targets.first_response * share)
        staff = (
            desk.users[ticket.assignee_id]
            if ticket.assignee_id in desk.users
            else desk.technician_for(ticket.team)
        )
        if ticket.assignee_id is None:
            self.take(self._between(created, answer_at), staff)
        if rng.random() < 0.75:
            extra = ("vip",) if rng.random() < 0.08 else ()
            self.tag(self._between(created, answer_at), staff, [*self.story.tags, *extra])
        if rng.random() < 0.3:
            self.comment(self._between(created, answer_at), staff, rng.choice(demo.NOTES), True)
        first_name = self.client.full_name.split(" ")[0] or self.client.username
        reply = rng.choice(demo.FIRST_REPLIES[self.lang]).format(name=first_name)
        # The first response, then the move that announces it (its snapshot has it).
        if rng.random() < WAITING_SHARE:
            self.comment(answer_at, staff, f"{reply} {rng.choice(demo.QUESTIONS[self.lang])}")
            self.move(self._later(1), staff.pk, Status.IN_PROGRESS)
            self.move(self._later(1), staff.pk, Status.WAITING)
            answered = self._business(self.last, timedelta(minutes=rng.uniform(20, 600)))
            shot = [self._screenshot()] if rng.random() < 0.15 else []
            self.comment(answered, self.client, rng.choice(demo.ANSWERS[self.lang]), files=shot)
        else:
            self.comment(answer_at, staff, reply)
            self.move(self._later(1), staff.pk, Status.IN_PROGRESS)
        if rng.random() < 0.2:
            nudge_at = self._business(self.last, timedelta(minutes=rng.uniform(60, 900)))
            self.comment(nudge_at, self.client, rng.choice(demo.NUDGES[self.lang]))
        self.resolve(staff)
        if rng.random() < REOPEN_SHARE:
            relapse_at = self.last + timedelta(hours=rng.uniform(18, 80))
            self.comment(relapse_at, self.client, rng.choice(demo.RELAPSES[self.lang]))
            self.resolve(staff)
        if rng.random() < RATED_SHARE:
            self.rate(self.last + timedelta(hours=rng.uniform(0.3, 40)))
        if ticket.resolved_at is not None:
            self.close(sla.auto_close_at(ticket.resolved_at))

    def resolve(self, staff: DirectoryUser) -> None:
        """The staff member's solution, then the move to ``resolved``: in time, or late."""
        rng, ticket = self.desk.rng, self.ticket
        late = rng.random() < LATE_RESOLUTION
        share = rng.uniform(1.05, 1.8) if late else rng.betavariate(1.6, 3.0) * 0.9
        budget = self.plan.targets.resolution * share + ticket.resolution_paused
        at = self._business(ticket.resolution_clock_started_at, budget)
        at = max(at, self._business(self.last, timedelta(minutes=rng.uniform(10, 90))))
        if rng.random() < 0.25:
            self.comment(at - timedelta(minutes=5), staff, rng.choice(demo.NOTES), True)
        log = [self._log()] if rng.random() < 0.02 else []
        self.comment(at, staff, self.story.solution, files=log)
        self.move(self._later(1), staff.pk, Status.RESOLVED)

    # --- what can happen to a ticket ------------------------------------------------

    def take(self, at: datetime, staff: DirectoryUser) -> None:
        if (when := self._reach(at)) is not None:
            self._assign(when, staff.pk, staff.pk)

    def tag(self, at: datetime, staff: DirectoryUser, names: Sequence[str]) -> None:
        if (when := self._reach(at)) is None:
            return
        at = when
        ticket, before = self.ticket, sorted(self.tags)
        after = sorted({*before, *tagging.clean(names)})
        if after == before:
            return
        self.tags = after
        ticket.updated_at, ticket.version = at, ticket.version + 1
        self._entry(staff.pk, "tags", ", ".join(before), ", ".join(after), at)
        self._step("updated", at, staff.pk, changes={"tags": (before, after)})

    def comment(
        self,
        at: datetime,
        author: DirectoryUser,
        body: str,
        internal: bool = False,
        files: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        if (when := self._reach(at)) is None:
            return
        ticket, at = self.ticket, when
        comment = Comment(author_id=author.pk, body=body, internal=internal, created_at=at)
        self.comments.append(comment)
        is_client = author.role == Role.CLIENT
        if is_client and ticket.status in CLIENT_REPLY_MOVES:
            self.move(at, author.pk, CLIENT_REPLY_MOVES[ticket.status], reply=comment)
        if not internal:
            if not is_client and ticket.first_response_at is None:
                ticket.first_response_at = at
            ticket.updated_at, ticket.version = at, ticket.version + 1
        added = self._attach(files, comment, at)
        self._step("commented", at, author.pk, comment=comment, files=added)
        if is_client and self.via_mail:
            self.mails.append(comment)

    def move(self, at: datetime, actor: str, to_status: str, reply: Comment | None = None) -> None:
        """A move of the workflow with what it does to the clocks (``services._move_status``)."""
        if (when := self._reach(at)) is None:
            return
        ticket, at = self.ticket, when
        from_status = ticket.status
        if from_status == Status.WAITING:
            sla.resume(ticket, at, self.plan)
        if to_status == Status.WAITING:
            sla.pause(ticket, at)
        if to_status == Status.RESOLVED:
            ticket.resolved_at = at
        elif from_status == Status.RESOLVED:
            ticket.resolved_at = None
            sla.new_cycle(ticket, at)
        ticket.status, ticket.updated_at, ticket.version = to_status, at, ticket.version + 1
        if from_status in (Status.WAITING, Status.RESOLVED):  # a pause ended, a new cycle
            sla.set_due_times(ticket, self.plan)
        self._entry(actor, "status", from_status, to_status, at)
        self._step("status", at, actor, from_status=from_status, to_status=to_status, reply=reply)

    def rate(self, at: datetime) -> None:
        if self.ticket.status != Status.RESOLVED or (when := self._reach(at)) is None:
            return
        rng, ticket, at = self.desk.rng, self.ticket, when
        good = rng.random() < GOOD_SHARE
        ticket.rating = "good" if good else "bad"
        ticket.rating_comment = rng.choice(demo.GOOD_REMARKS if good else demo.BAD_REMARKS)
        ticket.rated_at, ticket.version = at, ticket.version + 1
        self._entry(self.client.pk, "rating", None, ticket.rating, at)
        self._step("rated", at, self.client.pk)

    def close(self, at: datetime) -> None:
        if self.ticket.status != Status.RESOLVED or (when := self._reach(at)) is None:
            return
        ticket, at = self.ticket, when
        ticket.status, ticket.closed_at = Status.CLOSED, at
        ticket.updated_at, ticket.version = at, ticket.version + 1
        self._entry(AUTO_CLOSE_ACTOR, "status", Status.RESOLVED, Status.CLOSED, at)
        self._step("closed", at, None, from_status=Status.RESOLVED)

    def settle(self) -> None:
        """The clocks' state at ``now``: breaches up to now, warnings passed counted as
        given (``watch_sla`` has only what is still to come), the next check."""
        self._breaches_until(self.desk.now)
        ticket, now, targets = self.ticket, self.desk.now, self.plan.targets
        calendar = self.plan.calendar
        if sla.first_response_running(ticket) and ticket.first_response_stage < sla.WARNED:
            warn = calendar.add(ticket.created_at, targets.first_response * sla.WARNING_SHARE)
            if warn <= now:
                ticket.first_response_stage = sla.WARNED
        if sla.resolution_running(ticket) and ticket.resolution_stage < sla.WARNED:
            warn = calendar.add(
                ticket.resolution_clock_started_at,
                targets.resolution * sla.WARNING_SHARE + ticket.resolution_paused,
            )
            if warn <= now:
                ticket.resolution_stage = sla.WARNED
        sla.refresh(ticket, self.plan)

    # --- the clocks -----------------------------------------------------------------

    def _reach(self, at: datetime) -> datetime | None:
        """Bring the ticket to ``at`` (never before its last step: a ticket's events keep
        their order) and return that moment; the breaches before it happen first.
        ``None`` (and nothing more happens to this ticket) when it is after ``now``."""
        at = max(at, self.last)
        if self.cut or at > self.desk.now:
            self.cut = True
            return None
        self._breaches_until(at)
        self.last = max(self.last, at)
        return self.last

    def _breaches_until(self, limit: datetime) -> None:
        # Each breach may raise the priority, which moves the other clock's due time.
        for _ in range(4):
            ticket, found = self.ticket, []
            if (
                sla.first_response_running(ticket)
                and ticket.first_response_stage < sla.BREACHED
                and ticket.first_response_due < limit
            ):
                found.append((ticket.first_response_due, "first_response"))
            if (
                sla.resolution_running(ticket)
                and ticket.resolution_stage < sla.BREACHED
                and ticket.resolution_due < limit
            ):
                found.append((ticket.resolution_due, "resolution"))
            if not found:
                return
            due, clock = min(found)
            self._breach(clock, due)

    def _breach(self, clock: str, due: datetime) -> None:
        """What ``watch_sla`` does at a due time: the alert, the team's escalation, the
        events (``sla_watch._handle``)."""
        ticket = self.ticket
        cycle = ticket.sla_cycle if clock == "resolution" else 1
        setattr(ticket, f"{clock}_stage", sla.BREACHED)
        self.alerts.append(
            SlaAlert(clock=clock, kind="breached", cycle=cycle, due_at=due, created_at=due)
        )
        team, done = ticket.team, []
        changes: dict[str, tuple[Any, Any]] = {}
        before_assignee = ticket.assignee_id
        if team is not None and team.escalate_raise_priority and ticket.priority < 4:
            old = Priority(ticket.priority)
            ticket.priority = old + 1
            new = Priority(ticket.priority)
            self._entry(ESCALATION_ACTOR, "priority", old.key, new.key, due)
            changes["priority"] = (old.key, new.key)
            self.plan = self._plan()
            sla.set_due_times(ticket, self.plan)
            done.append("raised_priority")
        lead = team.lead_id if team is not None else None
        if team is not None and team.escalate_to_lead and lead and ticket.assignee_id != lead:
            self._entry(ESCALATION_ACTOR, "assignee_id", ticket.assignee_id, lead, due)
            ticket.assignee_id = lead
            done.append("reassigned_to_lead")
        if done:
            ticket.updated_at, ticket.version = due, ticket.version + 1
        self.last = max(self.last, due)
        self._step("breached", due, None, clock=clock, due_at=due, cycle=cycle, escalation=done)
        if changes:
            self._step("updated", due, None, changes=changes)
        if "reassigned_to_lead" in done:
            self._step("assigned", due, None, from_assignee=before_assignee, to_assignee=lead)

    def _plan(self) -> sla.Plan:
        ticket = self.ticket
        calendar_id, calendar = calendars.calendar_of_team(ticket.team_id)
        return sla.Plan(calendar_id, calendar, self.desk.table.get(ticket.priority, ticket.team_id))

    def _business(self, start: datetime, duration: timedelta) -> datetime:
        return self.plan.calendar.add(start, max(duration, timedelta(minutes=2)))

    def _between(self, start: datetime, end: datetime) -> datetime:
        """A moment of business time between ``start`` and ``end``."""
        span = self.plan.calendar.between(start, end)
        return self._business(start, span * self.desk.rng.uniform(0.1, 0.6))

    def _later(self, minutes: float) -> datetime:
        return self.last + timedelta(minutes=minutes)

    # --- records --------------------------------------------------------------------

    def _assign(self, at: datetime, actor: str | None, assignee: str) -> None:
        ticket = self.ticket
        before = ticket.assignee_id
        ticket.assignee_id, ticket.version = assignee, ticket.version + 1
        if actor is not None:
            ticket.updated_at = at
        self._entry(actor, "assignee_id", before, assignee, at)
        self._step("assigned", at, actor, from_assignee=before, to_assignee=assignee)

    def _entry(self, actor: str | None, name: str, old: Any, new: Any, at: datetime) -> None:
        self.history.append(
            HistoryEntry(
                actor_id=actor,
                field=name,
                from_value=None if old is None else str(old),
                to_value=None if new is None else str(new),
                at=at,
            )
        )

    def _step(self, kind: str, at: datetime, actor: str | None, **data: Any) -> None:
        comment = data.pop("comment", None)
        files = data.pop("files", [])
        state = {name: getattr(self.ticket, name) for name in STATE_FIELDS}
        self.steps.append(
            Step(kind, at, actor, state, list(self.tags), data, comment=comment, files=files)
        )

    def _attach(
        self, files: Sequence[tuple[str, bytes]], comment: Comment | None, at: datetime
    ) -> list[Attachment]:
        added = []
        for name, content in files:
            row = Attachment(
                comment=comment,
                filename=name,
                size=len(content),
                content_type=attachments.sniff_content_type(ContentFile(content), filename=name),
                uploaded_by=comment.author_id if comment is not None else self.client.pk,
                created_at=at,
            )
            self.uploads.append(Upload(row, content))
            added.append(row)
        return added

    def _screenshot(self) -> tuple[str, bytes]:
        shade = self.desk.rng.randrange(256)
        return f"captura-{shade}.png", _png(shade)

    def _log(self) -> tuple[str, bytes]:
        day = self.last.date().isoformat()
        lines = [f"{day} 09:{n:02d}:13 WARN reintento {n} de conexión" for n in range(1, 9)]
        return "registro.txt", ("\n".join(lines) + "\n").encode()

    def _signature(self) -> str:
        name = self.client.full_name or self.client.username
        return f"\n\n--\n{name}\nEnviado desde mi correo"


# --- the whole history ------------------------------------------------------------------


def simulate(*, people: People, now: datetime, seed: int = SEED, days: int = DAYS) -> list[Life]:
    """Every ticket of the last ``days`` days, lived until ``now`` (nothing written)."""
    rng = random.Random(seed)  # noqa: S311 (demo data, not security)
    desk = Desk(people=people, now=now, rng=rng)
    _calendar_id, calendar = calendars.calendar_of_team(None)
    # Some clients write far more than others, as on any desk.
    weights = [rng.uniform(0.4, 2.0) for _ in people.clients]
    lives: list[Life] = []
    first_day = now.astimezone(calendar.zone).date() - timedelta(days=days)
    for offset in range(days + 1):
        day = first_day + timedelta(days=offset)
        for created in _arrivals(rng, calendar.openings_on(day), day, calendar.zone):
            if created >= now:
                continue
            client = rng.choices(list(people.clients), weights)[0]
            life = Life(desk, created=created, client=client)
            lives.append(life)
    lives.sort(key=lambda life: life.ticket.created_at)
    for life in lives:
        life.live()
        life.settle()
    return lives


def _arrivals(
    rng: random.Random, openings: list[tuple[datetime, datetime]], day: date, zone: Any
) -> list[datetime]:
    """When the day's tickets arrive: inside the openings, and a few mails around them."""
    if not openings:
        return []
    expected = PER_DAY.get(day.weekday(), 0.0)
    count = max(0, round(rng.gauss(expected, expected**0.5)))
    found = []
    for _ in range(count):
        if rng.random() < 0.08:  # before the desk opens or after it closes
            hour = rng.choice([7, 8, 19, 20, 21])
            wall = datetime.combine(day, time(hour, rng.randrange(60)), tzinfo=zone)
            found.append(wall.astimezone(UTC))
            continue
        start, end = rng.choice(openings)
        # Mornings are busier: a triangular draw leaning to the opening.
        found.append(start + (end - start) * rng.triangular(0, 1, 0.25))
    return found


@transaction.atomic
def history_write(*, people: People, now: datetime, seed: int = SEED, days: int = DAYS) -> Written:
    """Simulate the history and write it, events included, in one transaction."""
    lives = simulate(people=people, now=now, seed=seed, days=days)
    for life, number in zip(lives, numbers.reserve_ticket_numbers(len(lives)), strict=True):
        life.ticket.number = number
    Ticket.objects.bulk_create([life.ticket for life in lives], batch_size=500)
    for life in lives:
        for comment in life.comments:
            comment.ticket = life.ticket
        for entry in life.history:
            entry.ticket = life.ticket
        for alert in life.alerts:
            alert.ticket = life.ticket
    Comment.objects.bulk_create([c for life in lives for c in life.comments], batch_size=1000)
    HistoryEntry.objects.bulk_create([h for life in lives for h in life.history], batch_size=1000)
    SlaAlert.objects.bulk_create([a for life in lives for a in life.alerts], batch_size=1000)
    _write_tags(lives)
    uploads = _write_attachments(lives)
    mails = _write_mails(lives)
    for team_id, last in _last_turns(lives).items():
        Team.objects.filter(pk=team_id).update(last_assignee_id=last)
    search.refresh_search_vectors([life.ticket.pk for life in lives])
    written = _write_events(lives)
    return Written(
        tickets=len(lives),
        comments=sum(len(life.comments) for life in lives),
        events=written,
        attachments=uploads,
        mails=mails,
        breaches=sum(len(life.alerts) for life in lives),
        by_status=dict(Counter(life.ticket.status for life in lives)),
    )


def _last_turns(lives: Sequence[Life]) -> dict[int, str]:
    """The last assignee each team's rule picked: where its turn resumes."""
    last: dict[int, str] = {}
    for life in lives:
        for step in life.steps:
            if step.kind == "assigned" and step.actor is None and life.ticket.team_id:
                last[life.ticket.team_id] = step.data["to_assignee"]
                break
    return last


def _write_tags(lives: Sequence[Life]) -> None:
    names = sorted({name for life in lives for name in life.tags})
    rows = {tag.name: tag for tag in tagging.get_or_create(names)}
    links = [
        Ticket.tags.through(ticket_id=life.ticket.pk, tag_id=rows[name].pk)
        for life in lives
        for name in life.tags
    ]
    Ticket.tags.through.objects.bulk_create(links, batch_size=1000)


def _write_attachments(lives: Sequence[Life]) -> int:
    uploads = [upload for life in lives for upload in life.uploads]
    for life in lives:
        for upload in life.uploads:
            upload.row.ticket = life.ticket
            upload.row.storage_key = attachments.new_storage_key(life.ticket.pk)
    Attachment.objects.bulk_create([upload.row for upload in uploads])
    # Like any upload's: should the transaction roll back, no row names these files.
    attachments.store(
        [(u.row.storage_key, ContentFile(u.content, name=u.row.filename)) for u in uploads]
    )
    return len(uploads)


def _write_mails(lives: Sequence[Life]) -> int:
    rows = []
    for life in lives:
        for index, comment in enumerate(life.mails):
            at = comment.created_at if comment is not None else life.ticket.created_at
            token = uuid.UUID(int=life.desk.rng.getrandbits(128)).hex
            rows.append(
                InboundMessage(
                    source=MAIL_SOURCE,
                    source_uid=f"{life.ticket.number}.{index}",
                    message_id=f"<{token}@correo.servidesk.example>",
                    sender=life.client.email,
                    subject=(life.ticket.title if comment is None else f"Re: {life.ticket.title}")[
                        :200
                    ],
                    outcome=Outcome.TICKET if comment is None else Outcome.COMMENT,
                    ticket=life.ticket,
                    comment=comment,
                    received_at=at,
                    applied_at=at,
                )
            )
    InboundMessage.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


# --- the events -------------------------------------------------------------------------


def _write_events(lives: Sequence[Life]) -> int:
    """Every step's event in the outbox, oldest first; each ``occurred_at`` and snapshot
    carries its historical time.

    ``publish`` would take two statements per event (its sequence, its row): here the
    envelopes are built the same way (``envelope.build``, which checks each payload
    against its schema) and written in bulk, numbered per ticket from 1 in the order they
    happened, with each ticket's last sequence for the events that follow. The tickets
    are new, so no sequence of theirs exists yet.
    """
    producer = event_settings().producer
    steps = sorted(
        (step.at, order, index, life, step)
        for order, life in enumerate(lives)
        for index, step in enumerate(life.steps)
        if step.kind in PUBLISHED
    )
    views = {id(life): copy.copy(life.ticket) for life in lives}
    sequences: Counter[str] = Counter()
    rows = []
    for at, _order, _index, life, step in steps:
        view = views[id(life)]
        for name, value in step.state.items():
            setattr(view, name, value)
        view.tag_names = step.tags  # type: ignore[attr-defined]
        data = _event_data(step, view)
        sequences[data.aggregate_id] += 1
        envelope = envelopes.build(
            data, producer=producer, sequence=sequences[data.aggregate_id], occurred_at=at
        )
        rows.append(
            OutboxMessage(
                event_id=uuid.UUID(envelope["id"]),
                event_type=data.type,
                aggregate_id=data.aggregate_id,
                sequence=envelope["sequence"],
                envelope=envelope,
                # The database's clock, as an expression: Django then writes VALUES rows,
                # which quote long JSON far faster than the arrays of its UNNEST form.
                created_at=Now(),
            )
        )
    OutboxMessage.objects.bulk_create(rows, batch_size=1000)
    AggregateSequence.objects.bulk_create(
        [
            AggregateSequence(aggregate_type="ticket", aggregate_id=key, last_sequence=last)
            for key, last in sequences.items()
        ]
    )
    wake_relays_on_commit()
    return len(rows)


def _event_data(step: Step, view: Ticket) -> schemas.TicketEvent:
    """The payload ``tickets.events`` would have published for ``step``, ``view`` being
    the ticket as it was then."""
    snapshot = events.ticket_snapshot(view)
    actor = render_user_id(step.actor) if step.actor else None
    return _BUILDERS[step.kind](step, view, snapshot, actor)


Builder = Callable[[Step, Ticket, schemas.TicketSnapshot, Any], schemas.TicketEvent]


def _created(step: Step, view: Ticket, snapshot: schemas.TicketSnapshot, actor: Any) -> Any:
    files = tuple(events.attachment_snapshot(row) for row in step.files)
    return schemas.TicketCreated(ticket=snapshot, actor_id=actor, attachments=files)


def _assigned(step: Step, view: Ticket, snapshot: schemas.TicketSnapshot, actor: Any) -> Any:
    return schemas.TicketAssigned(
        ticket=snapshot,
        actor_id=actor,
        from_assignee=render_user_id(step.data["from_assignee"]),
        to_assignee=render_user_id(step.data["to_assignee"]),
    )


def _commented(step: Step, view: Ticket, snapshot: schemas.TicketSnapshot, actor: Any) -> Any:
    if step.comment is None:
        raise ValueError("a comment step without its comment")
    return schemas.TicketCommented(
        ticket=snapshot,
        actor_id=actor,
        comment=events.comment_snapshot(step.comment),
        attachments=tuple(events.attachment_snapshot(row) for row in step.files),
    )


def _status(step: Step, view: Ticket, snapshot: schemas.TicketSnapshot, actor: Any) -> Any:
    reply = step.data["reply"]
    resolved = step.data["to_status"] == Status.RESOLVED
    return schemas.TicketStatusChanged(
        ticket=snapshot,
        actor_id=actor,
        from_status=step.data["from_status"],
        to_status=step.data["to_status"],
        # The client's rating link, as the move minted it (long expired by now for most).
        rating_token=csat.token_for(view, now=step.at) if resolved else None,
        reply_comment_id=reply.pk if reply is not None else None,
    )


def _updated(step: Step, view: Ticket, snapshot: schemas.TicketSnapshot, actor: Any) -> Any:
    return schemas.TicketUpdated(
        ticket=snapshot,
        actor_id=actor,
        changes={
            name: schemas.FieldChange(before=before, after=after)
            for name, (before, after) in step.data["changes"].items()
        },
    )


def _rated(step: Step, view: Ticket, snapshot: schemas.TicketSnapshot, actor: Any) -> Any:
    return schemas.TicketRated(
        ticket=snapshot,
        actor_id=actor,
        rating=view.rating,  # type: ignore[arg-type]
        comment=view.rating_comment,
        previous_rating=None,
        rated_at=step.at,
    )


def _closed(step: Step, view: Ticket, snapshot: schemas.TicketSnapshot, actor: Any) -> Any:
    return schemas.TicketClosed(
        ticket=snapshot, actor_id=None, from_status=step.data["from_status"]
    )


def _breached(step: Step, view: Ticket, snapshot: schemas.TicketSnapshot, actor: Any) -> Any:
    return schemas.TicketSlaBreached(
        ticket=snapshot,
        actor_id=None,
        clock=step.data["clock"],
        due_at=step.data["due_at"],
        cycle=step.data["cycle"],
        escalation=tuple(step.data["escalation"]),
    )


_BUILDERS: Final[dict[str, Builder]] = {
    "created": _created,
    "assigned": _assigned,
    "commented": _commented,
    "status": _status,
    "updated": _updated,
    "rated": _rated,
    "closed": _closed,
    "breached": _breached,
}


# --- generated files --------------------------------------------------------------------


def _png(shade: int, size: int = 24) -> bytes:
    """A small, valid grey PNG (``size`` pixels square): a stand-in for a screenshot."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = b"".join(b"\x00" + bytes([(shade + x) % 256 for x in range(size)]) for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]
