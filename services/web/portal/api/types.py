"""The APIs' answers as the UI reads them (ARCHITECTURE.md, "API shapes other clients rely
on"), decoded by msgspec with ``decode``.

A field an API adds is ignored; a field the contract names must be there, with its type;
one added after the contract (names, SLA verdicts, ``version``...) gets a default when an
answer lacks it. An answer that does not fit is refused with ``msgspec.ValidationError``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

import msgspec
from django.utils import timezone

from servidesk_shared.vocabulary import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    PAUSED_STATUSES,
    allowed_moves,
)

T = TypeVar("T")

#: An open ticket whose next target is closer than this is "due soon" (wall-clock time,
#: or business time when tickets says how much is left).
DUE_SOON = timedelta(hours=1)


class Id(str):
    """An opaque id (a JSON number or string), kept as text so that ``7`` and ``"7"`` are
    the same id and compare equal to the signed-in user's id."""


def _decode_hook(kind: type, value: Any) -> Any:
    if kind is Id and isinstance(value, int | str) and not isinstance(value, bool):
        return Id(value)
    raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")


def decode(body: bytes, kind: type[T]) -> T:
    """``body`` (JSON) as ``kind``; raises ``msgspec.DecodeError`` when it does not fit."""
    return msgspec.json.decode(body, type=kind, dec_hook=_decode_hook)


def cursor_of(url: str | None) -> str | None:
    """The ``cursor`` parameter of a ``next``/``previous`` link (its host is internal)."""
    values = parse_qs(urlsplit(url).query).get("cursor") if url else None
    return values[0] if values else None


class Page(msgspec.Struct, Generic[T], frozen=True):
    results: list[T]
    next: str | None = None
    previous: str | None = None

    @property
    def next_cursor(self) -> str | None:
        return cursor_of(self.next)

    @property
    def previous_cursor(self) -> str | None:
        return cursor_of(self.previous)


class TokenPair(msgspec.Struct, frozen=True):
    access: str
    refresh: str


class SlaClock(msgspec.Struct, frozen=True):
    """One SLA clock of a ticket (first response or resolution). ``state``: ``running``,
    ``paused`` (the resolution clock while waiting on the client), ``met`` or
    ``breached``; ``business_seconds_left``: business time left until ``due_at``
    (negative once late and still running, frozen while paused, null once done)."""

    due_at: datetime | None = None
    state: str = "running"
    business_seconds_left: float | None = None

    @property
    def running_late(self) -> bool:
        return self.state == "breached" and (self.business_seconds_left or 0) < 0


class Sla(msgspec.Struct, frozen=True):
    """A ticket's ``sla``: its two clocks, in the business time of ``calendar_id``."""

    first_response: SlaClock = SlaClock()
    resolution: SlaClock = SlaClock()
    calendar_id: Id | None = None


class Rating(msgspec.Struct, frozen=True):
    """The client's answer to "How did we do?" (``good`` or ``bad``)."""

    rating: str
    comment: str | None = ""
    rated_at: datetime | None = None


class Ticket(msgspec.Struct, frozen=True):
    id: Id
    number: str
    title: str
    description: str
    status: str
    priority: str
    category: str | None
    client_id: Id
    assignee_id: Id | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    client_name: str | None = None
    assignee_name: str | None = None
    first_response_breached: bool = False
    resolution_breached: bool = False
    #: The optimistic-concurrency token (staff only).
    version: int | None = None
    team_id: Id | None = None
    #: The staff's labels (clients never get the field).
    tags: list[str] = []
    #: The ticket this one was merged into: it can no longer change.
    merged_into_id: Id | None = None
    closed_at: datetime | None = None
    #: Since when the desk waits on the client (status ``waiting``).
    waiting_since: datetime | None = None
    #: The closed ticket this one follows up (a client wrote on it after it closed).
    follow_up_of_id: Id | None = None
    #: The SLA clocks, in business time (issue 19); absent from older answers.
    sla: Sla | None = None
    #: The client's satisfaction answer (staff and the ticket's client see it).
    rating: Rating | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_final(self) -> bool:
        """Closed: nothing changes it any more (a client's reply opens a follow-up)."""
        return self.status in FINAL_STATUSES

    @property
    def is_paused(self) -> bool:
        return self.status in PAUSED_STATUSES

    @property
    def breached(self) -> bool:
        if self.sla is not None:
            clocks = (self.sla.first_response, self.sla.resolution)
            if any(clock.state == "breached" for clock in clocks):
                return True
        return self.first_response_breached or self.resolution_breached

    @property
    def current_clock(self) -> SlaClock | None:
        """The SLA clock the team works against now: the first response until it is
        met, then resolution (None without ``sla``, or once the ticket is done)."""
        if self.sla is None or not self.is_open:
            return None
        if self.sla.first_response.state == "running":
            return self.sla.first_response
        return self.sla.resolution

    @property
    def next_due(self) -> datetime | None:
        """The target the team is working against now: the first response, then
        resolution; none while the resolution clock is paused."""
        clock = self.current_clock
        if clock is not None:
            return None if clock.state == "paused" else clock.due_at
        if not self.is_open or self.is_paused:
            return None
        if self.first_response_at is None and self.first_response_due is not None:
            return self.first_response_due
        return self.resolution_due

    @property
    def sla_state(self) -> str:
        """``breached``, ``due_soon``, ``paused`` (waiting on the client), ``on_track`` or
        ``closed`` (resolved or closed)."""
        if self.breached:
            return "breached"
        if not self.is_open:
            return "closed"
        clock = self.current_clock
        if self.is_paused or (clock is not None and clock.state == "paused"):
            return "paused"
        if clock is not None and clock.business_seconds_left is not None:
            soon = clock.business_seconds_left < DUE_SOON.total_seconds()
            return "due_soon" if soon else "on_track"
        due = self.next_due
        if due is not None and due - timezone.now() < DUE_SOON:
            return "due_soon"
        return "on_track"

    @property
    def moves(self) -> tuple[str, ...]:
        """Where the shared workflow lets this ticket move (the API is the authority; this
        only decides which buttons to offer). Nobody is offered a final status: only the
        desk itself closes a ticket."""
        if self.merged_into_id or self.is_final:
            return ()
        return tuple(m for m in allowed_moves(self.status) if m not in FINAL_STATUSES)


class Comment(msgspec.Struct, frozen=True):
    id: Id
    author_id: Id
    body: str
    internal: bool
    created_at: datetime
    author_name: str | None = None
    #: A message that came from another ticket merged into this one.
    merged_from_id: Id | None = None
    merged_from_number: str | None = None
    #: The ticket the comment is stored on: another one when a client's reply to a
    #: closed ticket opened a follow-up.
    ticket_id: Id | None = None


#: The only types a browser may be shown inline (a thumbnail): raster images, which tickets
#: sniffs from the content. Never SVG or HTML: those can carry script.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class Attachment(msgspec.Struct, frozen=True):
    """A file of a ticket (``comment_id`` None) or of one of its comments."""

    id: Id
    filename: str
    size: int
    content_type: str
    comment_id: Id | None
    created_at: datetime
    uploaded_by: Id | None = None

    @property
    def is_image(self) -> bool:
        return self.content_type.split(";", maxsplit=1)[0].strip().lower() in INLINE_IMAGE_TYPES


class HistoryEntry(msgspec.Struct, frozen=True):
    """A change: ``from``/``to`` hold a status or priority code, a text or a user id."""

    actor_id: Id | None
    field: str
    old: Id | None = msgspec.field(name="from")
    new: Id | None = msgspec.field(name="to")
    at: datetime


class Category(msgspec.Struct, frozen=True):
    slug: str
    name: str = ""
    description: str = ""
    is_active: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            msgspec.structs.force_setattr(self, "name", self.slug)


class SlaTarget(msgspec.Struct, frozen=True):
    priority: str
    first_response_hours: int
    resolution_hours: int
    is_default: bool = False


class Person(msgspec.Struct, frozen=True):
    """An assignee candidate (``tickets/assignees/``) or a client (``tickets/clients/``)."""

    id: Id
    name: str = ""
    username: str = ""
    role: str = ""
    email: str = ""
    #: Offered by automatic assignment (an assignee turns it off for themselves).
    available: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            msgspec.structs.force_setattr(self, "name", self.username)


class TeamTarget(msgspec.Struct, frozen=True):
    """A team's override of one priority's SLA targets (business hours); a missing value
    keeps the default's."""

    first_response_hours: float | None = None
    resolution_hours: float | None = None


class Escalation(msgspec.Struct, frozen=True):
    """What happens when one of the team's tickets breaches its SLA."""

    raise_priority: bool = False
    reassign_to_lead: bool = False


class Team(msgspec.Struct, frozen=True):
    """A team of technicians (``tickets/teams/``); its categories route tickets to it."""

    id: Id
    name: str
    member_ids: list[Id] = []
    lead_id: Id | None = None
    #: ``manual``, ``round_robin`` or ``least_open``.
    assignment: str = "manual"
    category_slugs: list[str] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: The team's business calendar (None: the default calendar).
    calendar_id: Id | None = None
    #: SLA target overrides per priority, in business hours.
    sla_targets: dict[str, TeamTarget] = {}
    escalation: Escalation = Escalation()


class Holiday(msgspec.Struct, frozen=True):
    date: date
    name: str = ""


#: A calendar's days, as its ``week`` names them.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Calendar(msgspec.Struct, frozen=True):
    """A business calendar (``tickets/calendars/``): the openings of each weekday
    (``[["09:00", "14:00"], …]``; none: closed) and the holidays, in ``time_zone``."""

    id: Id
    name: str
    time_zone: str
    is_default: bool = False
    week: dict[str, list[list[str]]] = {}
    holidays: list[Holiday] = []


class CsatTicket(msgspec.Struct, frozen=True):
    number: str
    title: str


class CsatAnswer(msgspec.Struct, frozen=True):
    """``tickets/csat/<token>/``: the ticket a rating link is for, and its answer so far."""

    ticket: CsatTicket
    rating: str | None = None
    comment: str | None = ""
    rated_at: datetime | None = None
    expires_at: datetime | None = None


class TagCount(msgspec.Struct, frozen=True):
    """A tag suggestion (``tickets/tags/?q=``): most used first."""

    name: str
    ticket_count: int = 0


class MacroActions(msgspec.Struct, frozen=True, omit_defaults=True):
    """What applying a canned response does besides posting its body."""

    status: str | None = None
    priority: str | None = None
    team_id: Id | None = None
    add_tags: list[str] = []
    #: Post the body as an internal note, not a reply.
    internal: bool = False


class Macro(msgspec.Struct, frozen=True):
    """A canned response (``tickets/macros/``): the caller's own, or a shared one."""

    id: Id
    title: str
    body: str
    shared: bool = False
    actions: MacroActions = MacroActions()
    owner_id: Id | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class BulkResult(msgspec.Struct, frozen=True):
    """One ticket's outcome of a bulk action; ``error`` says why it was not applied."""

    id: Id
    ok: bool
    error: str | None = None


class BulkAnswer(msgspec.Struct, frozen=True):
    results: list[BulkResult]


class SavedView(msgspec.Struct, frozen=True):
    """A named set of the queue's filters (``tickets/views/``), with the tickets it
    matches now."""

    id: Id
    name: str
    filters: dict[str, str | list[str]] = {}
    shared: bool = False
    owner_id: Id | None = None
    count: int | None = None
    #: ``count`` is a lower bound: tickets stops counting at 1,000 ("1000+").
    count_capped: bool = False
    created_at: datetime | None = None


#: The keys every ``tickets/status-counts/`` answer has (a status added later comes too).
STATUS_COUNT_KEYS = frozenset({"pending", "in_progress", "resolved", "total"})


class StatusCounts(msgspec.Struct, frozen=True):
    """Tickets per status and in all (``total``); ``capped`` holds the keys whose figure
    is a lower bound (tickets stops counting at 1,000 per status)."""

    counts: dict[str, int]
    capped: frozenset[str] = frozenset()


class Notification(msgspec.Struct, frozen=True):
    id: Id
    event_type: str
    ticket_id: Id | None
    title: str
    body: str
    read: bool
    created_at: datetime


class Profile(msgspec.Struct, frozen=True):
    """``me/`` and, with the admin-only fields, an entry of ``users/``."""

    id: Id
    username: str
    email: str
    full_name: str
    phone: str
    role: str
    language: str
    notify_email: bool
    notify_sms: bool
    #: Notifier mails only a confirmed address and texts only a verified number.
    email_verified: bool = False
    phone_verified: bool = False
    #: A new address waiting for its confirmation link (the change is not made until then).
    pending_email: str = ""
    is_active: bool = True
    date_joined: datetime | None = None
    last_login: datetime | None = None

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


# --- integrations: API keys (accounts) and webhooks (notifier) --------------------------


class ApiKey(msgspec.Struct, frozen=True):
    """An API key (``accounts/api-keys/``); ``key`` only in the answer that creates it."""

    id: Id
    name: str
    role: str
    read_only: bool = False
    prefix: str = ""
    created_at: datetime | None = None
    created_by: Id | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    key: str = ""

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class Webhook(msgspec.Struct, frozen=True):
    """An endpoint (``notifications/webhooks/``); ``secret`` only when it is created or its
    secret rotated. ``events`` lists event types, or is ``["*"]`` (every one)."""

    id: Id
    url: str
    events: list[str]
    active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: Since when every request has failed (None after a success).
    failing_since: datetime | None = None
    #: Switched off by notifier after a day of failures (None when switched off by hand).
    disabled_at: datetime | None = None
    disabled_reason: str = ""
    secret: str = ""


class WebhookDelivery(msgspec.Struct, frozen=True):
    """A row of an endpoint's delivery log; ``status``: ``queued``, ``delivered`` or
    ``failed``. ``id`` names it in the API's paths, ``delivery_id`` (a UUID) is the
    ``X-Servidesk-Delivery`` header the receiver sees."""

    id: Id
    delivery_id: str
    event_type: str
    status: str
    attempts: int = 0
    event_id: str = ""
    last_status_code: int | None = None
    last_duration_ms: int | None = None
    last_error: str = ""
    next_retry_at: datetime | None = None
    redelivery_of: Id | None = None
    created_at: datetime | None = None
    delivered_at: datetime | None = None


# --- small answers ----------------------------------------------------------------------


class Provider(msgspec.Struct, frozen=True):
    """A social login configured at accounts (``auth/social/providers/``)."""

    id: str


class LinkStarted(msgspec.Struct, frozen=True):
    url: str


class LinkConfirmed(msgspec.Struct, frozen=True):
    provider: str


class Message(msgspec.Struct, frozen=True):
    message: str = ""


class Count(msgspec.Struct, frozen=True):
    count: int


class ErrorExtra(msgspec.Struct, frozen=True):
    code: str | None = None
    fields: dict[str, list[str]] = {}


class ErrorBody(msgspec.Struct, frozen=True):
    """The contract's error shape ``{"message", "extra": {"fields": {name: [str]}}}``;
    ``detail`` is DRF's own shape, which a refused upload may still come in."""

    message: str = ""
    extra: ErrorExtra = ErrorExtra()
    detail: str = ""
