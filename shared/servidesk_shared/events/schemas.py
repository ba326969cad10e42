"""The typed, versioned payloads (``data``) of every event type in the contract.

Each event is a frozen ``msgspec.Struct`` carrying its ``type`` and ``version`` as class
variables. Decoding ignores fields a schema does not know (a newer producer may add
some) and refuses missing or mistyped ones. Changing a payload incompatibly means a new
class with ``version = 2`` registered next to the old one, never an edit of version 1.

User events carry the contact card flat in ``data``; ticket events carry the full ticket
snapshot under ``ticket`` plus the change and the ``actor_id``.

Ticket events are at version 2 since the SLA issue: statuses grew by ``waiting`` and
``closed``, which a version 1 reader would refuse. Tickets publishes version 2 only; every
consumer reads both (the ``...V1`` classes narrow the statuses back and are the same
Python types to handlers, so a handler needs no branch). Deploy order for such a bump:
consumers first, then the producer (docs/deployment.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

# Ids are opaque to consumers: accounts uses integers today, nothing may rely on that.
Id = int | str
UtcDateTime = Annotated[datetime, msgspec.Meta(tz=True)]
Role = Literal["client", "technician", "admin"]
#: The contract's statuses (``servidesk_shared.vocabulary.Status``).
Status = Literal["pending", "in_progress", "waiting", "resolved", "closed"]
#: The statuses of version 1 ticket events, before ``waiting`` and ``closed``.
StatusV1 = Literal["pending", "in_progress", "resolved"]
#: A client's answer to "How did we do?".
Rating = Literal["good", "bad"]
#: The two clocks of a ticket's SLA.
SlaClock = Literal["first_response", "resolution"]
Priority = Literal["low", "medium", "high", "urgent"]
Assignment = Literal["manual", "round_robin", "least_open"]


class Schema(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every payload struct (also the nested ones)."""


class EventData(Schema, frozen=True, kw_only=True):
    """A payload that is an event on its own: it knows its type, version and aggregate,
    and which service alone may produce it (consumers dead-letter it from anyone else)."""

    type: ClassVar[str]
    version: ClassVar[int]
    producer: ClassVar[str]

    @property
    def aggregate_type(self) -> str:
        """The kind of thing the event is about: the first word of the type."""
        return self.type.split(".", 1)[0]

    @property
    def aggregate_id(self) -> str:
        raise NotImplementedError


# --- accounts -------------------------------------------------------------------------


class UserCard(EventData, frozen=True, kw_only=True):
    """The contact card every user event carries."""

    producer: ClassVar[str] = "accounts"

    id: Id
    username: str
    full_name: str
    email: str
    phone: str
    role: Role
    language: str
    notify_email: bool
    notify_sms: bool
    is_active: bool
    #: The owner proved the address (a confirmation link) / the number (an SMS code).
    #: Notifier mails only confirmed addresses and texts only verified numbers. Defaults
    #: keep cards published before these fields existed readable.
    email_verified: bool = False
    phone_verified: bool = False

    @property
    def aggregate_id(self) -> str:
        return str(self.id)


class UserRegistered(UserCard, frozen=True, kw_only=True):
    type: ClassVar[str] = "user.registered"
    version: ClassVar[int] = 1


class UserUpdated(UserCard, frozen=True, kw_only=True):
    type: ClassVar[str] = "user.updated"
    version: ClassVar[int] = 1


class UserDeactivated(UserCard, frozen=True, kw_only=True):
    type: ClassVar[str] = "user.deactivated"
    version: ClassVar[int] = 1


class PhoneCodeRequested(EventData, frozen=True, kw_only=True):
    """A verification code for ``phone``: notifier texts it, whether or not the number is
    verified yet (it is how it gets verified), within the per-recipient caps.

    Routed only to notifier (``verification.#``): no other service needs the code.
    """

    type: ClassVar[str] = "verification.phone_code"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "accounts"

    user_id: Id
    phone: str
    code: str
    language: str
    expires_at: UtcDateTime

    @property
    def aggregate_id(self) -> str:
        return str(self.user_id)


# --- tickets --------------------------------------------------------------------------


class TicketSnapshot(Schema, frozen=True, kw_only=True):
    """The ticket as it is after the change, as the API shows it."""

    id: Id
    number: str
    title: str
    description: str
    status: Status
    priority: Priority
    category: str
    client_id: Id
    assignee_id: Id | None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    first_response_at: UtcDateTime | None = None
    resolved_at: UtcDateTime | None = None
    first_response_due: UtcDateTime | None = None
    resolution_due: UtcDateTime | None = None
    # Added by the agent workspace (issue 18), optional so version 1 still reads.
    team_id: Id | None = None
    #: Staff-only: consumers must keep tags from clients, as they keep internal notes.
    tags: tuple[str, ...] = ()
    closed_at: UtcDateTime | None = None
    #: Set on a ticket merged into another one (it is closed and can no longer change).
    merged_into_id: Id | None = None
    # Added by the SLA issue (version 2).
    #: Since when the desk waits on the client (status ``waiting``): the resolution
    #: clock is paused, ``resolution_due`` is what it was when the pause began.
    waiting_since: UtcDateTime | None = None
    #: The closed ticket a client's reply reopened as this new one.
    follow_up_of_id: Id | None = None
    #: The client's latest answer to "How did we do?" (``ticket.rated`` tells changes).
    rating: Rating | None = None


class CommentSnapshot(Schema, frozen=True, kw_only=True):
    id: Id
    author_id: Id
    body: str
    internal: bool
    created_at: UtcDateTime


class AttachmentSnapshot(Schema, frozen=True, kw_only=True):
    """A file's metadata, never its content: consumers link to ``download_path`` (under
    the gateway, it needs the reader's sign-in) and must keep files of internal notes
    from clients, as they keep the notes."""

    id: Id
    filename: str
    size: int
    content_type: str
    comment_id: Id | None
    #: Path of the API download route, e.g. ``/api/tickets/7/attachments/3/download/``.
    download_path: str


class TicketEvent(EventData, frozen=True, kw_only=True):
    producer: ClassVar[str] = "tickets"

    ticket: TicketSnapshot
    actor_id: Id | None

    @property
    def aggregate_id(self) -> str:
        return str(self.ticket.id)


class TicketCreated(TicketEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "ticket.created"
    version: ClassVar[int] = 2

    #: Files sent with the ticket (an added optional field: version 1 still reads).
    attachments: tuple[AttachmentSnapshot, ...] = ()


class TicketStatusChanged(TicketEvent, frozen=True, kw_only=True):
    """A move of the workflow by a person (``actor_id``), or by a client's reply moving a
    waiting or resolved ticket back to ``in_progress`` (the reply's author is the actor;
    ``ticket.commented`` follows). Closing is ``ticket.closed``."""

    type: ClassVar[str] = "ticket.status_changed"
    version: ClassVar[int] = 2

    from_status: Status
    to_status: Status
    #: The client's reply that made this move by itself (``ticket.commented`` with that
    #: comment follows and tells the people concerned); None for a move by hand.
    reply_comment_id: Id | None = None
    #: On a move to ``resolved`` only: the token of the client's rating link (web's
    #: ``/csat/<token>/``, signed, valid 14 days). It lets anyone holding it rate the
    #: ticket: notifier puts it in the client's mail and nowhere else.
    rating_token: str | None = None


class TicketAssigned(TicketEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "ticket.assigned"
    version: ClassVar[int] = 2

    from_assignee: Id | None
    to_assignee: Id | None


class TicketCommented(TicketEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "ticket.commented"
    version: ClassVar[int] = 2

    comment: CommentSnapshot
    #: Files sent with the comment (internal when the comment is).
    attachments: tuple[AttachmentSnapshot, ...] = ()


class FieldChange(Schema, frozen=True, kw_only=True):
    """One edited field: its value before and after, as the API shows them (a category
    slug, a priority word, a team id, a list of tags; ``None`` for "nothing")."""

    before: Any
    after: Any


class TicketUpdated(TicketEvent, frozen=True, kw_only=True):
    """Title, description, priority, category, team or tags changed (one edit, one event).

    ``changes`` names each field that changed: ``title``, ``description``, ``priority``,
    ``category``, ``team_id``, ``tags``. Tags are staff-only.
    """

    type: ClassVar[str] = "ticket.updated"
    version: ClassVar[int] = 2

    changes: dict[str, FieldChange]


class TicketMerged(TicketEvent, frozen=True, kw_only=True):
    """``ticket`` (now closed, ``merged_into_id`` set) was merged into ``into``: its
    conversation continues there. The client is told once, by this event alone (no
    resolution mail for the merged ticket, no ``ticket.closed``)."""

    type: ClassVar[str] = "ticket.merged"
    version: ClassVar[int] = 2

    into: TicketSnapshot


class TicketSlaWarning(TicketEvent, frozen=True, kw_only=True):
    """80 % of a clock's target (business time) has gone by; published once per ticket,
    clock and ``cycle`` (a reopen starts a new resolution cycle) by ``watch_sla``."""

    type: ClassVar[str] = "ticket.sla_warning"
    version: ClassVar[int] = 2

    clock: SlaClock
    due_at: UtcDateTime
    cycle: int


class TicketSlaBreached(TicketEvent, frozen=True, kw_only=True):
    """A clock's due time passed without the thing it waits for; once per ticket, clock
    and cycle. ``escalation`` says what the team's rule did about it, in the same
    transaction: ``raised_priority``, ``reassigned_to_lead`` (the ticket snapshot is
    after it; ``ticket.updated``/``ticket.assigned`` with no actor follow)."""

    type: ClassVar[str] = "ticket.sla_breached"
    version: ClassVar[int] = 2

    clock: SlaClock
    due_at: UtcDateTime
    cycle: int
    escalation: tuple[str, ...] = ()


class TicketRated(TicketEvent, frozen=True, kw_only=True):
    """The client answered "How did we do?" (or changed the answer within the link's
    14 days). ``actor_id`` is the client."""

    type: ClassVar[str] = "ticket.rated"
    version: ClassVar[int] = 2

    rating: Rating
    comment: str
    previous_rating: Rating | None
    rated_at: UtcDateTime


class TicketClosed(TicketEvent, frozen=True, kw_only=True):
    """A resolved ticket closed after ``AUTO_CLOSE_DAYS`` without client activity
    (``actor_id`` None): final, a client's reply now opens a follow-up ticket. A merged
    ticket is closed by its ``ticket.merged``."""

    type: ClassVar[str] = "ticket.closed"
    version: ClassVar[int] = 2

    from_status: Status


# --- ticket events, version 1 (read, never written) ------------------------------------
# The same types with the statuses narrowed back to version 1's: a subclass, so handlers
# written for version 2 take them unchanged.


class TicketSnapshotV1(TicketSnapshot, frozen=True, kw_only=True):
    status: StatusV1


class TicketCreatedV1(TicketCreated, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    ticket: TicketSnapshotV1


class TicketStatusChangedV1(TicketStatusChanged, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    ticket: TicketSnapshotV1
    from_status: StatusV1
    to_status: StatusV1


class TicketAssignedV1(TicketAssigned, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    ticket: TicketSnapshotV1


class TicketCommentedV1(TicketCommented, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    ticket: TicketSnapshotV1


class TicketUpdatedV1(TicketUpdated, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    ticket: TicketSnapshotV1


class TicketMergedV1(TicketMerged, frozen=True, kw_only=True):
    version: ClassVar[int] = 1
    ticket: TicketSnapshotV1
    into: TicketSnapshotV1


# --- teams (tickets) ------------------------------------------------------------------


class TeamCard(EventData, frozen=True, kw_only=True):
    """A team as it is after the change (``team.deleted``: as it was)."""

    producer: ClassVar[str] = "tickets"

    id: Id
    name: str
    member_ids: tuple[Id, ...]
    lead_id: Id | None
    assignment: Assignment
    category_slugs: tuple[str, ...] = ()

    @property
    def aggregate_id(self) -> str:
        return str(self.id)


class TeamCreated(TeamCard, frozen=True, kw_only=True):
    type: ClassVar[str] = "team.created"
    version: ClassVar[int] = 1


class TeamUpdated(TeamCard, frozen=True, kw_only=True):
    type: ClassVar[str] = "team.updated"
    version: ClassVar[int] = 1


class TeamDeleted(TeamCard, frozen=True, kw_only=True):
    type: ClassVar[str] = "team.deleted"
    version: ClassVar[int] = 1


# --- mail (tickets' inbound channel) ---------------------------------------------------


class UserInviteRequested(EventData, frozen=True, kw_only=True):
    """Someone unknown wrote to the support address: accounts makes them a client (once
    per address), mails them once to confirm it and set a password, and announces them
    with ``user.registered``; tickets then opens the messages it held for ``email``.

    Routed to accounts (``accounts.invites``); the ``user.#`` queues get it too and
    have no handler for it.
    """

    type: ClassVar[str] = "user.invite_requested"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "tickets"

    email: str
    name: str
    #: The language to write the invitation in (from the mail's, else the default).
    language: str = "es"

    @property
    def aggregate_id(self) -> str:
        return self.email.lower()


class MailBounced(EventData, frozen=True, kw_only=True):
    """A delivery-status report came back to the support mailbox for a mail Servidesk
    sent: notifier marks that delivery failed in its log."""

    type: ClassVar[str] = "mail.bounced"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "tickets"

    #: The bounced mail's Message-ID, with its angle brackets (``<sd.7.…@host>``).
    message_id: str
    recipient: str
    #: The report's status and diagnostic, as plain text (``5.1.1 user unknown``).
    reason: str

    @property
    def aggregate_id(self) -> str:
        return self.message_id


# --- reports --------------------------------------------------------------------------


#: The formats of a report export (the synchronous ``export.*`` downloads' too).
ExportFormat = Literal["pdf", "xlsx", "csv"]


class ReportExportReady(EventData, frozen=True, kw_only=True):
    """An export job of ``user_id`` finished: notifier tells them in the feed where to fetch
    the file (``download_path``, a path of web, the browser UI) until ``expires_at``.

    Routed to notifier (``notifier.events`` binds ``report.export_ready``).
    """

    type: ClassVar[str] = "report.export_ready"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "reports"

    user_id: Id
    export_id: str
    format: ExportFormat
    download_path: str
    expires_at: UtcDateTime

    @property
    def aggregate_id(self) -> str:
        return self.export_id


# --- notifier -------------------------------------------------------------------------


class NotificationCreated(EventData, frozen=True, kw_only=True):
    """An entry was added to ``user_id``'s in-app feed (published in the transaction that
    writes it, once per entry): web's live stream moves the bell and tells the page.

    ``title`` is the entry's title in the recipient's language, and may quote what users
    typed (a ticket's title): a reader shows it as text. ``unread_count`` is the
    recipient's unread entries once this one is added. The aggregate is the recipient, so
    a reader keeps the count of the highest ``sequence``.
    """

    type: ClassVar[str] = "notification.created"
    version: ClassVar[int] = 1
    producer: ClassVar[str] = "notifier"

    user_id: Id
    notification_id: Id
    ticket_id: Id | None
    event_type: str
    title: str
    created_at: UtcDateTime
    unread_count: int

    @property
    def aggregate_id(self) -> str:
        return str(self.user_id)


#: Every (type, version) a Servidesk process can read; producers write the latest.
SCHEMAS: dict[tuple[str, int], type[EventData]] = {
    (cls.type, cls.version): cls
    for cls in (
        UserRegistered,
        UserUpdated,
        UserDeactivated,
        PhoneCodeRequested,
        TicketCreated,
        TicketStatusChanged,
        TicketAssigned,
        TicketCommented,
        TicketUpdated,
        TicketMerged,
        TicketSlaWarning,
        TicketSlaBreached,
        TicketRated,
        TicketClosed,
        TicketCreatedV1,
        TicketStatusChangedV1,
        TicketAssignedV1,
        TicketCommentedV1,
        TicketUpdatedV1,
        TicketMergedV1,
        TeamCreated,
        TeamUpdated,
        TeamDeleted,
        UserInviteRequested,
        MailBounced,
        NotificationCreated,
        ReportExportReady,
    )
}

EVENT_TYPES: frozenset[str] = frozenset(event_type for event_type, _ in SCHEMAS)

#: The version each type is written at today.
LATEST_VERSIONS: dict[str, int] = {
    event_type: max(version for known, version in SCHEMAS if known == event_type)
    for event_type in EVENT_TYPES
}

#: The one service that may produce each event type (the envelope's ``producer``).
OWNERS: dict[str, str] = {cls.type: cls.producer for cls in SCHEMAS.values()}
