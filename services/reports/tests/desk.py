"""A tiny help desk for tests: it plays ticket histories and emits the events tickets would.

Each ``TicketScript`` keeps the snapshot the tickets service would hold and records every
event as a real envelope (``servidesk_shared.events.envelope.build``), so the tests feed
the projection exactly what the consumer hands it. The scripts also remember the plain
facts (when created, answered, resolved, reopened, surveyed, rated) from which tests
compute the expected figures on their own, without reading the projection.

Events are at the version tickets writes today (2); ``as_version_1`` turns an envelope
back into what a version 1 producer sent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from reports.handlers import handlers

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events import schemas

MADRID = ZoneInfo("Europe/Madrid")


def at(*args: int, fold: int = 0, tz: ZoneInfo = MADRID) -> datetime:
    """A local wall-clock time in ``tz`` (Madrid by default), as an aware datetime."""
    return datetime(*args, tzinfo=tz, fold=fold)  # type: ignore[misc]


def utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def hours_between(start: datetime, end: datetime) -> float:
    """Real elapsed hours: both ends in UTC first (same-zone subtraction is wall time)."""
    return (utc(end) - utc(start)).total_seconds() / 3600


@dataclass
class TicketScript:
    desk: Desk
    id: int
    number: str
    created_at: datetime
    priority: str
    category: str
    client_id: int
    first_response_due: datetime | None
    resolution_due: datetime | None
    title: str = ""
    status: str = "pending"
    assignee_id: int | None = None
    team_id: int | None = None
    tags: tuple[str, ...] = ()
    merged_into_id: int | None = None
    updated_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    waiting_since: datetime | None = None
    follow_up_of_id: int | None = None
    rating: str | None = None
    # What happened, for expectations computed by the tests themselves.
    resolutions: list[datetime] = field(default_factory=list)
    reopens: list[datetime] = field(default_factory=list)
    #: When a move to resolved sent the client a survey (a rating link).
    surveys: list[datetime] = field(default_factory=list)
    #: (when, rating, assignee then) of every answer, in order.
    ratings: list[tuple[datetime, str, int | None]] = field(default_factory=list)

    def snapshot(self) -> schemas.TicketSnapshot:
        return schemas.TicketSnapshot(
            id=self.id,
            number=self.number,
            title=self.title or f"Ticket {self.number}",
            description="…",
            status=self.status,  # type: ignore[arg-type]
            priority=self.priority,  # type: ignore[arg-type]
            category=self.category,
            client_id=self.client_id,
            assignee_id=self.assignee_id,
            created_at=utc(self.created_at),
            updated_at=utc(self.updated_at or self.created_at),
            first_response_at=utc(self.first_response_at) if self.first_response_at else None,
            resolved_at=utc(self.resolved_at) if self.resolved_at else None,
            first_response_due=utc(self.first_response_due) if self.first_response_due else None,
            resolution_due=utc(self.resolution_due) if self.resolution_due else None,
            team_id=self.team_id,
            tags=self.tags,
            merged_into_id=self.merged_into_id,
            closed_at=utc(self.closed_at) if self.closed_at else None,
            waiting_since=utc(self.waiting_since) if self.waiting_since else None,
            follow_up_of_id=self.follow_up_of_id,
            rating=self.rating,  # type: ignore[arg-type]
        )

    @property
    def done_at(self) -> datetime | None:
        """When the desk was done with it: resolved, else closed (merged); else ``None``."""
        if self.status not in ("resolved", "closed"):
            return None
        return self.resolved_at or self.closed_at

    def update(self, when: datetime, **changes: Any) -> TicketScript:
        """An edit (``ticket.updated``): any of title, priority, category, team_id, tags."""
        self.updated_at = when
        recorded = {}
        for name, value in changes.items():
            before = getattr(self, name)
            setattr(self, name, tuple(value) if name == "tags" else value)
            recorded[name] = schemas.FieldChange(
                before=list(before) if name == "tags" else before,
                after=list(value) if name == "tags" else value,
            )
        self.desk.emit(
            schemas.TicketUpdated(ticket=self.snapshot(), actor_id=1, changes=recorded), when
        )
        return self

    def merge_into(self, into: TicketScript, when: datetime) -> TicketScript:
        """``ticket.merged``: this ticket is closed, pointing at ``into`` (as tickets does
        since version 2: no ``resolved_at`` of its own)."""
        if self.status not in ("resolved", "closed"):
            self.resolutions.append(when)  # its open spell ends here
        self.status, self.updated_at, self.closed_at = "closed", when, when
        self.merged_into_id = into.id
        self.desk.emit(
            schemas.TicketMerged(ticket=self.snapshot(), actor_id=1, into=into.snapshot()), when
        )
        return self

    def assign(self, assignee_id: int | None, when: datetime) -> TicketScript:
        before, self.assignee_id, self.updated_at = self.assignee_id, assignee_id, when
        self.desk.emit(
            schemas.TicketAssigned(
                ticket=self.snapshot(), actor_id=1, from_assignee=before, to_assignee=assignee_id
            ),
            when,
        )
        return self

    def respond(self, when: datetime, *, author_id: int | None = None) -> TicketScript:
        """A public reply by staff; the first one sets ``first_response_at``."""
        self.updated_at = when
        if self.first_response_at is None:
            self.first_response_at = when
        comment = schemas.CommentSnapshot(
            id=len(self.desk.envelopes) + 1,
            author_id=author_id or self.assignee_id or 1,
            body="On it.",
            internal=False,
            created_at=utc(when),
        )
        self.desk.emit(
            schemas.TicketCommented(
                ticket=self.snapshot(), actor_id=comment.author_id, comment=comment
            ),
            when,
        )
        return self

    def move(self, to_status: str, when: datetime, *, survey: bool = True) -> TicketScript:
        """A move of the workflow. A move to resolved sends a survey (a rating token), as
        tickets does, unless ``survey`` is false. Waiting pauses the resolution clock:
        its due time moves by the time waited when the wait ends (a 24/7 calendar)."""
        from_status, self.status, self.updated_at = self.status, to_status, when
        if from_status == "waiting" and self.waiting_since is not None:
            if self.resolution_due is not None:
                self.resolution_due += utc(when) - utc(self.waiting_since)
            self.waiting_since = None
        if to_status == "waiting":
            self.waiting_since = when
        token = None
        if to_status == "resolved":
            self.resolved_at = when
            self.resolutions.append(when)
            if survey:
                token = f"token-{self.id}-{len(self.surveys)}"
                self.surveys.append(when)
        else:
            if from_status == "resolved":
                self.reopens.append(when)
            self.resolved_at = None  # reopening clears it, as the tickets service does
        self.desk.emit(
            schemas.TicketStatusChanged(
                ticket=self.snapshot(),
                actor_id=self.assignee_id or 1,
                from_status=from_status,  # type: ignore[arg-type]
                to_status=to_status,  # type: ignore[arg-type]
                rating_token=token,
            ),
            when,
        )
        return self

    def close(self, when: datetime) -> TicketScript:
        """``ticket.closed``: the desk closes a resolved ticket (auto-close)."""
        from_status, self.status = self.status, "closed"
        self.updated_at = self.closed_at = when
        self.desk.emit(
            schemas.TicketClosed(
                ticket=self.snapshot(),
                actor_id=None,
                from_status=from_status,  # type: ignore[arg-type]
            ),
            when,
        )
        return self

    def rate(self, rating: str, when: datetime, *, comment: str = "") -> TicketScript:
        """``ticket.rated``: the client answers the survey (or changes the answer)."""
        previous, self.rating, self.updated_at = self.rating, rating, when
        self.ratings.append((when, rating, self.assignee_id))
        self.desk.emit(
            schemas.TicketRated(
                ticket=self.snapshot(),
                actor_id=self.client_id,
                rating=rating,  # type: ignore[arg-type]
                comment=comment,
                previous_rating=previous,  # type: ignore[arg-type]
                rated_at=utc(when),
            ),
            when,
        )
        return self

    def sla_alert(self, clock: str, when: datetime, *, breached: bool) -> TicketScript:
        """``ticket.sla_warning`` or ``ticket.sla_breached`` (no escalation)."""
        due = self.first_response_due if clock == "first_response" else self.resolution_due
        assert due is not None
        kind = schemas.TicketSlaBreached if breached else schemas.TicketSlaWarning
        self.desk.emit(
            kind(ticket=self.snapshot(), actor_id=None, clock=clock, due_at=utc(due), cycle=1),  # type: ignore[arg-type]
            when,
        )
        return self

    def resolve(self, when: datetime) -> TicketScript:
        if self.status == "pending":
            self.move("in_progress", when)
        return self.move("resolved", when)


class Desk:
    def __init__(self, *, first_number: int = 1) -> None:
        #: Ticket ids (and numbers) start here: another desk's tickets may be applied too.
        self.first_number = first_number
        self.envelopes: list[dict[str, Any]] = []
        self.sequences: dict[str, int] = defaultdict(int)
        self.tickets: list[TicketScript] = []

    def emit(self, data: schemas.EventData, when: datetime) -> dict[str, Any]:
        key = f"{data.aggregate_type}:{data.aggregate_id}"
        self.sequences[key] += 1
        envelope = envelopes.build(
            data,
            producer=schemas.OWNERS[data.type],  # consumers refuse any other producer
            sequence=self.sequences[key],
            occurred_at=utc(when),
        )
        self.envelopes.append(envelope)
        return envelope

    def user(
        self,
        user_id: int,
        full_name: str,
        *,
        role: str = "technician",
        username: str | None = None,
        kind: type[schemas.UserCard] = schemas.UserRegistered,
        is_active: bool = True,
    ) -> dict[str, Any]:
        card = kind(
            id=user_id,
            username=username or f"user{user_id}",
            full_name=full_name,
            email=f"user{user_id}@example.com",
            phone="",
            role=role,  # type: ignore[arg-type]
            language="es",
            notify_email=True,
            notify_sms=False,
            is_active=is_active,
        )
        return self.emit(card, datetime(2025, 1, 1, tzinfo=UTC))

    def team(
        self,
        team_id: int,
        name: str,
        *,
        member_ids: tuple[int, ...] = (),
        lead_id: int | None = None,
        kind: type[schemas.TeamCard] = schemas.TeamCreated,
    ) -> dict[str, Any]:
        card = kind(
            id=team_id,
            name=name,
            member_ids=member_ids,
            lead_id=lead_id,
            assignment="manual",
            category_slugs=(),
        )
        return self.emit(card, datetime(2025, 1, 1, tzinfo=UTC))

    def ticket(
        self,
        created_at: datetime,
        *,
        priority: str = "medium",
        category: str = "network",
        client_id: int = 500,
        team_id: int | None = None,
        tags: tuple[str, ...] = (),
        first_response_within: timedelta | None = timedelta(hours=4),
        resolve_within: timedelta | None = timedelta(hours=48),
        title: str = "",
        follow_up_of_id: int | None = None,
    ) -> TicketScript:
        number = self.first_number + len(self.tickets)
        created_utc = utc(created_at)
        script = TicketScript(
            desk=self,
            id=number,
            number=f"SD-{1000 + number}",
            created_at=created_at,
            priority=priority,
            category=category,
            client_id=client_id,
            first_response_due=created_utc + first_response_within
            if first_response_within
            else None,
            resolution_due=created_utc + resolve_within if resolve_within else None,
            title=title,
            team_id=team_id,
            tags=tags,
            follow_up_of_id=follow_up_of_id,
        )
        self.tickets.append(script)
        self.emit(schemas.TicketCreated(ticket=script.snapshot(), actor_id=client_id), created_at)
        return script

    def apply(self, envelopes_: list[dict[str, Any]] | None = None) -> int:
        """Hand every envelope (or the given ones) to the handlers, as the consumer would."""
        for raw in self.envelopes if envelopes_ is None else envelopes_:
            apply_envelope(raw)
        return len(self.envelopes if envelopes_ is None else envelopes_)


#: What version 2 added to ticket events, beside the statuses: absent from version 1.
V2_SNAPSHOT_FIELDS = ("waiting_since", "follow_up_of_id", "rating")


def as_version_1(raw: dict[str, Any]) -> dict[str, Any]:
    """The envelope a version 1 producer sent for the same event: version 1, and neither
    the snapshot fields nor the ``rating_token`` version 2 added."""
    assert raw["type"].startswith("ticket."), raw["type"]
    assert raw["version"] == 2, raw["version"]
    data = {key: value for key, value in raw["data"].items() if key != "rating_token"}
    for key in ("ticket", "into"):
        if key in data:
            data[key] = {k: v for k, v in data[key].items() if k not in V2_SNAPSHOT_FIELDS}
    return {**raw, "version": 1, "data": data}


def apply_envelope(raw: dict[str, Any]) -> None:
    event = envelopes.decode(envelopes.parse_envelope(raw))
    handler = handlers.get(event.type)
    assert handler is not None, event.type
    handler(event)
