"""The tickets domain: tickets, their conversation and history, categories, SLA targets,
and the local directory of users kept from accounts' ``user.*`` events.

User ids (``client_id``, ``assignee_id``, ``author_id``, ``actor_id``) are opaque
references to accounts' users and are stored as text: the contract says nothing may rely
on them being integers. ``api.fields.OpaqueIdField`` renders them back as JSON numbers
when they are canonical integers, so they compare equal to the ids accounts hands out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servidesk_shared import vocabulary
from servidesk_shared.vocabulary import Role as Role  # noqa: PLC0414 (re-exported)
from servidesk_shared.vocabulary import Status as Status  # noqa: PLC0414 (re-exported)

USER_ID_LENGTH: Final = 64
TITLE_MAX_LENGTH: Final = 200
#: Long enough for a pasted log excerpt, short enough that one request cannot bloat a row.
BODY_MAX_LENGTH: Final = 20_000
NUMBER_PREFIX: Final = "SD-"


class Priority(models.IntegerChoices):
    """Stored as a rank so ``ordering=-priority`` is indexable and means "urgent first".

    The API speaks the contract's words (``vocabulary.Priority``: ``low`` … ``urgent``), with
    the shared labels; see ``key``/``from_key``.
    """

    LOW = 1, vocabulary.Priority.LOW.label
    MEDIUM = 2, vocabulary.Priority.MEDIUM.label
    HIGH = 3, vocabulary.Priority.HIGH.label
    URGENT = 4, vocabulary.Priority.URGENT.label

    @property
    def key(self) -> str:
        return self.name.lower()

    @classmethod
    def from_key(cls, key: str) -> Priority:
        return cls[key.upper()]

    @classmethod
    def api_keys(cls) -> list[str]:
        return [member.key for member in cls]


class Assignment(models.TextChoices):
    """How a team hands out its new (and reopened, unassigned) tickets."""

    MANUAL = "manual", _("By hand")
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_OPEN = "least_open", _("Fewest open tickets")


class Rating(models.TextChoices):
    """A client's answer to "How did we do?" (the events' ``Rating``)."""

    GOOD = "good", _("Good")
    BAD = "bad", _("Bad")


TEAM_NAME_MAX_LENGTH: Final = 100
CALENDAR_NAME_MAX_LENGTH: Final = 100

#: The keys of ``BusinessCalendar.week``, Monday first (``date.weekday()`` order).
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class BusinessCalendar(models.Model):
    """When the desk works: a time zone, weekly openings and holidays (``tickets.calendars``
    turns a row into a ``business_time.Calendar``). SLA targets count this time only.

    ``week`` maps each of ``WEEKDAYS`` to a list of ``["HH:MM", "HH:MM"]`` openings
    (``[]``: closed that day); ``holidays`` is a list of ``{"date": "YYYY-MM-DD", "name"}``.
    Both are checked by ``tickets.calendars.clean_*`` before they are stored. One calendar
    is the default (a partial unique index); a team may name its own.
    """

    name = models.CharField(_("name"), max_length=CALENDAR_NAME_MAX_LENGTH, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Madrid")
    is_default = models.BooleanField(_("default"), default=False)
    week = models.JSONField(_("opening hours"))
    holidays = models.JSONField(_("holidays"), default=list)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_calendar"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    """A group of technicians sharing a queue; categories route their tickets to it."""

    name = models.CharField(_("name"), max_length=TEAM_NAME_MAX_LENGTH, unique=True)
    # Opaque user ids, as everywhere in tickets; NULL is "no lead".
    lead_id = models.CharField(  # noqa: DJ001
        _("lead"), max_length=USER_ID_LENGTH, null=True, blank=True
    )
    assignment = models.CharField(
        _("assignment"), max_length=16, choices=Assignment.choices, default=Assignment.MANUAL
    )
    #: Round robin's turn: the member who got the last ticket ("" before the first).
    last_assignee_id = models.CharField(max_length=USER_ID_LENGTH, blank=True, default="")
    #: The team's business hours; NULL: the default calendar's.
    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("calendar"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="teams",
    )
    #: The escalation rule, applied by ``watch_sla`` when one of the team's tickets
    #: breaches a target: raise its priority by one, give it to the team's lead.
    escalate_raise_priority = models.BooleanField(_("raise priority on breach"), default=False)
    escalate_to_lead = models.BooleanField(_("reassign to the lead on breach"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(assignment__in=Assignment.values), name="team_assignment_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user_id = models.CharField(_("member"), max_length=USER_ID_LENGTH)

    class Meta:
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        constraints = [
            models.UniqueConstraint(fields=["team", "user_id"], name="team_member_once"),
        ]
        # "My teams": the teams of one user.
        indexes = [models.Index(fields=["user_id"], name="team_member_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in team {self.team_id}"


class Category(models.Model):
    """An admin-managed list; tickets point at it by ``slug`` in the API."""

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=500, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    #: The routing table: a ticket of this category goes to this team's queue.
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="categories",
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SlaTarget(models.Model):
    """Hours to first response and to resolution for one priority (admin-editable).

    Rows without a team are the desk's targets; a priority without one uses
    ``DEFAULT_SLA_HOURS``, and the API always lists all four. A team's rows override the
    desk's for its tickets. Hours are business hours of the ticket's calendar.
    """

    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_targets",
    )
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices)
    first_response_hours = models.PositiveIntegerField(_("first response within (hours)"))
    resolution_hours = models.PositiveIntegerField(_("resolution within (hours)"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SLA target")
        verbose_name_plural = _("SLA targets")
        ordering = ["-priority"]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_response_hours__gte=1)
                & Q(resolution_hours__gte=F("first_response_hours")),
                name="sla_target_hours_sane",
            ),
            models.UniqueConstraint(
                fields=["priority"], condition=Q(team__isnull=True), name="sla_target_desk_once"
            ),
            models.UniqueConstraint(
                fields=["team", "priority"],
                condition=Q(team__isnull=False),
                name="sla_target_team_once",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{Priority(self.priority).key}: {self.first_response_hours}h/{self.resolution_hours}h"
        )


#: (first response hours, resolution hours) when an admin has not set a target.
DEFAULT_SLA_HOURS: Final[dict[int, tuple[int, int]]] = {
    Priority.URGENT: (1, 4),
    Priority.HIGH: (4, 24),
    Priority.MEDIUM: (8, 72),
    Priority.LOW: (24, 120),
}


TAG_MAX_LENGTH: Final = 50


class Tag(models.Model):
    """A free-form label staff put on tickets; ``name`` is normalised (``tickets.tags``)."""

    name = models.CharField(_("name"), max_length=TAG_MAX_LENGTH, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TicketQuerySet(models.QuerySet["Ticket"]):
    def breached(self, *, now: datetime | None = None) -> TicketQuerySet:
        return self.filter(breached_q(now or timezone.now()))

    def not_breached(self, *, now: datetime | None = None) -> TicketQuerySet:
        return self.exclude(breached_q(now or timezone.now()))


def breached_q(now: datetime) -> Q:
    """A ticket breached its SLA: a due time passed without, or before, the thing it waits for."""
    first_response = Q(first_response_at__isnull=True, first_response_due__lt=now) | Q(
        first_response_at__gt=F("first_response_due")
    )
    # While waiting on the client the clock is paused: late only if it was when it paused.
    resolution = (
        Q(resolved_at__isnull=True, waiting_since__isnull=True, resolution_due__lt=now)
        | Q(waiting_since__isnull=False, resolution_due__lt=F("waiting_since"))
        | Q(resolved_at__gt=F("resolution_due"))
    )
    return first_response | resolution


class Ticket(models.Model):
    id = models.BigAutoField(primary_key=True)
    #: The ``n`` of ``SD-<n>``: from a PostgreSQL sequence (a locked counter row elsewhere).
    number = models.PositiveBigIntegerField(_("number"), unique=True, editable=False)
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    description = models.TextField(_("description"), max_length=BODY_MAX_LENGTH)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.MEDIUM
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
    )
    client_id = models.CharField(_("client"), max_length=USER_ID_LENGTH)
    # NULL, not "", is "unassigned": the API and the events say null.
    assignee_id = models.CharField(  # noqa: DJ001
        _("assignee"), max_length=USER_ID_LENGTH, null=True, blank=True
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    #: Staff-only labels; clients never see them.
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="tickets")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    #: When the ticket reached the final ``closed`` status (the SLA issue brings it).
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    #: A merged ticket points at the ticket its conversation continues in; it is resolved
    #: and can no longer change (``tickets.merge``).
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_from",
    )
    first_response_due = models.DateTimeField(_("first response due"))
    resolution_due = models.DateTimeField(_("resolution due"))
    # --- the SLA's clocks (tickets.sla) ---
    #: Since when the desk waits on the client (status ``waiting``): the resolution clock
    #: is paused, and ``resolution_due`` keeps the value it had when the pause began.
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    #: The resolution clock's cycle: 1, then one more at each reopen (a new clock).
    sla_cycle = models.PositiveSmallIntegerField(_("SLA cycle"), default=1, db_default=1)
    #: When this cycle's resolution clock started; NULL: at creation (``created_at``).
    resolution_started_at = models.DateTimeField(
        _("resolution clock started at"), null=True, blank=True
    )
    #: Business time spent waiting on the client in this cycle: the clock's due time is
    #: its start plus the target plus this.
    resolution_paused = models.DurationField(
        _("paused"), default=timedelta(0), db_default=timedelta(0)
    )
    # (Database defaults too: bulk loads in raw SQL, bench and seed_tickets, omit them.)
    #: How far each clock's alerts went in this cycle: 0 none, 1 warned, 2 breached.
    first_response_stage = models.PositiveSmallIntegerField(default=0, db_default=0)
    resolution_stage = models.PositiveSmallIntegerField(default=0, db_default=0)
    #: The next moment ``watch_sla`` has something to do with this ticket (a warning, a
    #: breach, the auto-close); NULL when nothing is pending. Partially indexed: the
    #: watcher's one query.
    next_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: The closed ticket a client's reply reopened as this one.
    follow_up_of = models.ForeignKey(
        "self",
        verbose_name=_("follow-up of"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="follow_ups",
    )
    #: The client's latest answer to "How did we do?" (``tickets.csat``).
    rating = models.CharField(  # noqa: DJ001 (NULL: not answered, unlike a blank comment)
        _("rating"), max_length=8, choices=Rating.choices, null=True, blank=True
    )
    rating_comment = models.TextField(_("rating comment"), blank=True, default="", db_default="")
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    #: Bumped by every write to the row: the optimistic-concurrency token staff may send.
    #: (Event ordering uses the outbox's own per-aggregate sequence, which counts events.)
    version = models.PositiveIntegerField(_("version"), default=1)
    #: Number, title (weight A), description (B) and public comments (C); PostgreSQL only.
    search_vector = SearchVectorField(null=True, editable=False)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        # Every list ordering is (field, id): these serve the keyset pagination.
        indexes = [
            models.Index(fields=["created_at", "id"], name="ticket_created"),
            models.Index(fields=["updated_at", "id"], name="ticket_updated"),
            models.Index(fields=["priority", "id"], name="ticket_priority"),
            models.Index(fields=["resolution_due", "id"], name="ticket_resolution_due"),
            models.Index(fields=["first_response_due", "id"], name="ticket_first_response_due"),
            models.Index(fields=["client_id", "created_at", "id"], name="ticket_client"),
            models.Index(fields=["assignee_id", "created_at", "id"], name="ticket_assignee"),
            models.Index(fields=["status", "created_at", "id"], name="ticket_status"),
            models.Index(fields=["team", "created_at", "id"], name="ticket_team"),
            # The status tabs of a team's queue (and "my teams"): counted from the index
            # alone (``selectors.status_counts``).
            models.Index(fields=["team", "status"], name="ticket_team_status"),
            # watch_sla's pass: only tickets with something pending are in it.
            models.Index(
                fields=["next_check_at"],
                name="ticket_next_check",
                condition=Q(next_check_at__isnull=False),
            ),
            # The GIN index on search_vector is created by migration 0002 on PostgreSQL only.
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values), name="ticket_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__in=Rating.values),
                name="ticket_rating_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def reference(self) -> str:
        """The human number of the contract, ``SD-<n>``."""
        return f"{NUMBER_PREFIX}{self.number}"

    @property
    def priority_key(self) -> str:
        return Priority(self.priority).key

    @property
    def category_slug(self) -> str | None:
        # From the per-process map, not ``self.category``: ticket reads do not join it.
        from tickets.categories import slug_of  # noqa: PLC0415 (categories imports models)

        return slug_of(self.category_id)

    def first_response_breached(self, now: datetime | None = None) -> bool:
        if self.first_response_at is not None:
            return self.first_response_at > self.first_response_due
        return (now or timezone.now()) > self.first_response_due

    def resolution_breached(self, now: datetime | None = None) -> bool:
        if self.resolved_at is not None:
            return self.resolved_at > self.resolution_due
        if self.waiting_since is not None:
            return self.waiting_since > self.resolution_due
        return (now or timezone.now()) > self.resolution_due

    @property
    def resolution_clock_started_at(self) -> datetime:
        return self.resolution_started_at or self.created_at


class TicketNumberCounter(models.Model):
    """The last ticket number handed out, for databases without sequences (SQLite).

    One row, locked for the rest of the creating transaction. PostgreSQL uses the
    ``tickets_ticket_number_seq`` sequence instead and never touches this table.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_number = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.last_number)


class Comment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author_id = models.CharField(_("author"), max_length=USER_ID_LENGTH)
    body = models.TextField(_("body"), max_length=BODY_MAX_LENGTH)
    #: A technician's or admin's note: never shown to clients, anywhere.
    internal = models.BooleanField(_("internal"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    #: The ticket this comment came from when that ticket was merged into this one
    #: (``tickets.merge``); its description arrives as such a comment too.
    merged_from = models.ForeignKey(
        Ticket,
        verbose_name=_("merged from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="comment_ticket")]

    def __str__(self) -> str:
        return f"comment {self.pk} on ticket {self.ticket_id}"


class HistoryEntry(models.Model):
    """One change to a ticket: who, when, which field, from what, to what."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="history")
    #: ``None`` for changes made by the system (none today; kept for imports and jobs).
    actor_id = models.CharField(  # noqa: DJ001
        _("actor"), max_length=USER_ID_LENGTH, null=True, blank=True
    )
    field = models.CharField(_("field"), max_length=32)
    # NULL means "nothing" (no assignee, no category, before creation), unlike "".
    from_value = models.TextField(_("from"), null=True, blank=True)  # noqa: DJ001
    to_value = models.TextField(_("to"), null=True, blank=True)  # noqa: DJ001
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("history entry")
        verbose_name_plural = _("history entries")
        indexes = [models.Index(fields=["ticket", "at", "id"], name="history_ticket")]

    def __str__(self) -> str:
        return f"{self.field}: {self.from_value} -> {self.to_value}"


class SlaAlert(models.Model):
    """One warning or breach ``watch_sla`` published: at most one per ticket, clock, kind
    and cycle (the unique constraint), written in the transaction of its event."""

    class Clock(models.TextChoices):
        FIRST_RESPONSE = "first_response", _("First response")
        RESOLUTION = "resolution", _("Resolution")

    class Kind(models.TextChoices):
        WARNING = "warning", _("Warning")
        BREACHED = "breached", _("Breached")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_alerts")
    clock = models.CharField(max_length=16, choices=Clock.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    cycle = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("SLA alert")
        verbose_name_plural = _("SLA alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "clock", "kind", "cycle"], name="sla_alert_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.clock} {self.kind} #{self.cycle}"


class DirectoryUser(models.Model):
    """What tickets knows of a user, kept from accounts' ``user.*`` events only.

    Used to check assignees and clients and to show names; tickets never calls accounts.
    """

    id = models.CharField(primary_key=True, max_length=USER_ID_LENGTH)
    username = models.CharField(_("username"), max_length=150)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    email = models.EmailField(_("email"), blank=True)
    #: The owner proved the address: inbound mail from it acts as this user.
    email_verified = models.BooleanField(_("email verified"), default=False)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    is_active = models.BooleanField(_("active"), default=True)
    #: A technician takes automatically assigned tickets (their own switch, on by
    #: default; tickets' own setting, never overwritten by accounts' events).
    available = models.BooleanField(_("available"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("directory user")
        verbose_name_plural = _("directory users")
        indexes = [
            models.Index(fields=["role", "is_active"], name="directory_role"),
            # Inbound mail finds its sender by address, whatever its case.
            models.Index(Upper("email"), name="directory_email_upper"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.TECHNICIAN, Role.ADMIN)


#: Long enough for any file name a mail program or browser sends, after sanitising.
FILENAME_MAX_LENGTH: Final = 255


class Attachment(models.Model):
    """A file sent with a ticket, a comment, or on its own to a ticket (``comment`` null).

    Visibility follows the comment: a file of an internal note is staff-only, like the
    note. The bytes live in the ``attachments`` storage under ``storage_key``, a random
    name never derived from what the uploader called the file (``tickets.attachments``).
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        Comment, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    #: The sanitised name the uploader gave it: shown and offered on download, nothing more.
    filename = models.CharField(_("file name"), max_length=FILENAME_MAX_LENGTH)
    size = models.PositiveBigIntegerField(_("size"))
    #: Sniffed from the content, never taken from the client.
    content_type = models.CharField(_("content type"), max_length=100)
    storage_key = models.CharField(max_length=255, unique=True, editable=False)
    uploaded_by = models.CharField(_("uploaded by"), max_length=USER_ID_LENGTH)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="attachment_ticket"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="attachment_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} on ticket {self.ticket_id}"


class Macro(models.Model):
    """A canned response: text with placeholders, and actions applied with it.

    ``owner_id`` is who made it; a ``shared`` one (only admins make those) is offered to
    all staff, any other only to its owner. ``actions`` holds any of ``status``,
    ``priority``, ``team_id``, ``add_tags`` and ``internal`` (``tickets.macros``).
    """

    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    body = models.TextField(_("body"), max_length=BODY_MAX_LENGTH)
    owner_id = models.CharField(_("owner"), max_length=USER_ID_LENGTH)
    shared = models.BooleanField(_("shared"), default=False)
    actions = models.JSONField(_("actions"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        indexes = [models.Index(fields=["owner_id", "title"], name="macro_owner")]

    def __str__(self) -> str:
        return self.title


VIEW_NAME_MAX_LENGTH: Final = 100


class SavedView(models.Model):
    """A named set of the queue's filters and ordering; ``shared`` (admins) for everyone."""

    name = models.CharField(_("name"), max_length=VIEW_NAME_MAX_LENGTH)
    owner_id = models.CharField(_("owner"), max_length=USER_ID_LENGTH)
    shared = models.BooleanField(_("shared"), default=False)
    #: The list endpoint's query parameters: name -> a string or a list of strings.
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        indexes = [models.Index(fields=["owner_id", "name"], name="saved_view_owner")]

    def __str__(self) -> str:
        return self.name
