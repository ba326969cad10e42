"""The reports projection: what reporting needs, kept from ``ticket.*``, ``user.*`` and
``team.*`` events.

Six tables, all written only by ``reports.services`` (the event handlers):

- ``Person``: the contact card of every user we heard of, trimmed to what a report shows
  (names and role; no email or phone is kept here).
- ``TicketFact``: one row per ticket with its newest snapshot and the figures derived
  from it and from its history (durations, SLA outcomes, reopen count, time per status).
- ``StatusChange``: every status change of a ticket, one row per event, whatever order
  the events arrive in. The derived figures are recomputed from these rows, so a late
  event still counts in the history even though its (older) snapshot is ignored.
- ``OpenSpell``: the periods a ticket was open (created or reopened, until resolved),
  derived from ``StatusChange``; backlog and the created/resolved/reopened series read
  only this table. It copies the ticket's current filter attributes so those queries
  need no join.
- ``TicketTag``: one row per (ticket, tag) of the ticket's newest snapshot, so report
  filters (every tag given must match) and the per-tag counts are plain indexed queries
  on every database. ``TicketFact.tags`` keeps the same list, in order, for the rows of
  the downloads.
- ``Team``: the team directory (name, lead, members). A deleted team keeps its row,
  marked ``deleted``, so the tickets it had still show its name.

Satisfaction (issue 19) lives on ``TicketFact``: when the latest survey went out (a move
to ``resolved`` carrying a rating link, flagged on its ``StatusChange``; the token itself
is never kept) and the client's latest answer, with the assignee it had then.

Ids coming from other services are opaque strings (``Id = int | str`` in the schemas).

``ExportJob`` (issue 22) is not projection: it is a download asked for with ``POST
exports/``, made by ``manage.py run_exports`` and kept, file included, for a day.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import JSONField, Q, Value
from django.utils.translation import pgettext_lazy

from servidesk_shared.vocabulary import Priority as Priority  # noqa: PLC0414 (re-exported)
from servidesk_shared.vocabulary import Status as Status  # noqa: PLC0414 (re-exported)

ID_LENGTH = 100
CATEGORY_LENGTH = 100
#: Tickets caps a tag at 50 characters; reports keeps room to spare and cuts beyond this.
TAG_LENGTH = 100
TEAM_NAME_LENGTH = 200


class Rating(models.TextChoices):
    """A client's answer to "How did we do?" (the events' codes)."""

    GOOD = "good", pgettext_lazy("satisfaction rating", "Good")
    BAD = "bad", pgettext_lazy("satisfaction rating", "Bad")


class Person(models.Model):
    """A user as ``user.*`` events describe them; reports only need the name and role."""

    user_id = models.CharField(max_length=ID_LENGTH, unique=True)
    username = models.CharField(max_length=150)
    full_name = models.CharField(max_length=300, blank=True)
    role = models.CharField(max_length=20)
    is_active = models.BooleanField(default=True)
    #: The per-aggregate sequence of the snapshot stored here (never goes back).
    sequence = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


class TicketFact(models.Model):
    """The newest known snapshot of one ticket plus what reports derive from it."""

    ticket_id = models.CharField(max_length=ID_LENGTH, unique=True)
    number = models.CharField(max_length=50)
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=Status.choices)
    priority = models.CharField(max_length=16, choices=Priority.choices)
    category = models.CharField(max_length=CATEGORY_LENGTH, blank=True)
    client_id = models.CharField(max_length=ID_LENGTH)
    assignee_id = models.CharField(max_length=ID_LENGTH, null=True, blank=True)  # noqa: DJ001 (null: unassigned, as in the events)
    team_id = models.CharField(max_length=ID_LENGTH, null=True, blank=True)  # noqa: DJ001 (null: no team, as in the events)
    #: Staff-only labels, as the snapshot lists them (normalised by tickets). The
    #: database default too, for rows loaded in bulk (``bench/reports_bench.py``).
    tags = models.JSONField(default=list, db_default=Value([], JSONField()), blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    # From version 2 snapshots (issue 19); empty for tickets only version 1 described.
    closed_at = models.DateTimeField(null=True, blank=True)
    #: Set while the ticket waits on the client: the resolution clock is paused since then.
    waiting_since = models.DateTimeField(null=True, blank=True)
    follow_up_of_id = models.CharField(max_length=ID_LENGTH, null=True, blank=True)  # noqa: DJ001 (null: not a follow-up)

    # Satisfaction. The latest answer (the ``ticket.rated`` with the highest sequence).
    rating = models.CharField(max_length=8, choices=Rating.choices, null=True, blank=True)  # noqa: DJ001 (null: not answered)
    rated_at = models.DateTimeField(null=True, blank=True)
    #: The ticket's assignee in that event: whom the answer is about.
    rated_assignee_id = models.CharField(max_length=ID_LENGTH, null=True, blank=True)  # noqa: DJ001 (null: unassigned when rated)
    #: The sequence of the ``ticket.rated`` stored above (never goes back).
    rating_sequence = models.PositiveBigIntegerField(default=0, db_default=0)

    # Derived when the row is written, so reports aggregate plain columns.
    first_response_seconds = models.FloatField(null=True, blank=True)
    #: From creation to the current resolution; empty while the ticket is open.
    resolution_seconds = models.FloatField(null=True, blank=True)
    #: The SLA outcome once it is decided (a response or resolution exists and a due time).
    #: Undecided ones are judged at report time: unanswered past the due time is a breach.
    first_response_met = models.BooleanField(null=True, blank=True)
    resolution_met = models.BooleanField(null=True, blank=True)
    first_resolved_at = models.DateTimeField(null=True, blank=True)
    times_resolved = models.PositiveIntegerField(default=0)
    reopen_count = models.PositiveIntegerField(default=0)
    #: Time spent in each status over the finished intervals (the current one is open).
    pending_seconds = models.FloatField(default=0)
    in_progress_seconds = models.FloatField(default=0)
    waiting_seconds = models.FloatField(default=0, db_default=0.0)
    #: The latest move to ``resolved`` that sent the client a survey (a rating link).
    surveyed_at = models.DateTimeField(null=True, blank=True)

    #: The per-aggregate sequence of the snapshot stored here (never goes back).
    sequence = models.PositiveBigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="reports_fact_created"),
            models.Index(fields=["assignee_id"], name="reports_fact_assignee"),
            models.Index(fields=["category"], name="reports_fact_category"),
            models.Index(fields=["team_id"], name="reports_fact_team"),
            # Satisfaction counts by the date of the answer and of the survey.
            models.Index(fields=["rated_at"], name="reports_fact_rated"),
            models.Index(fields=["surveyed_at"], name="reports_fact_surveyed"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.status})"


class StatusChange(models.Model):
    """One ``ticket.status_changed`` (or ``ticket.closed``) event: the raw history the
    derived figures come from."""

    ticket = models.ForeignKey(TicketFact, on_delete=models.CASCADE, related_name="changes")
    sequence = models.PositiveBigIntegerField()
    changed_at = models.DateTimeField()
    from_status = models.CharField(max_length=16, choices=Status.choices)
    to_status = models.CharField(max_length=16, choices=Status.choices)
    actor_id = models.CharField(max_length=ID_LENGTH, null=True, blank=True)  # noqa: DJ001 (null: the system)
    #: A move to ``resolved`` that carried a rating link: the client was surveyed.
    surveyed = models.BooleanField(default=False, db_default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "sequence"], name="reports_change_unique")
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}#{self.sequence}: {self.from_status} -> {self.to_status}"


class OpenSpell(models.Model):
    """A period a ticket was open: from creation or a reopen until its resolution."""

    ticket = models.ForeignKey(TicketFact, on_delete=models.CASCADE, related_name="spells")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    #: False for the spell that starts at creation, True for one that starts at a reopen.
    reopened = models.BooleanField(default=False)
    # Copies of the ticket's current attributes, so report filters need no join.
    status = models.CharField(max_length=16, choices=Status.choices)
    priority = models.CharField(max_length=16, choices=Priority.choices)
    category = models.CharField(max_length=CATEGORY_LENGTH, blank=True)
    assignee_id = models.CharField(max_length=ID_LENGTH, null=True, blank=True)  # noqa: DJ001 (null: unassigned, as in the events)
    team_id = models.CharField(max_length=ID_LENGTH, null=True, blank=True)  # noqa: DJ001 (null: no team, as in the events)

    class Meta:
        # Two columns each, so the timeline and the opening backlog (open spells and
        # those ending after the start, that began before it) read the index alone.
        indexes = [
            models.Index(fields=["started_at", "reopened"], name="reports_spell_start"),
            models.Index(fields=["ended_at", "started_at"], name="reports_spell_end"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.started_at} - {self.ended_at or '…'}"


class TicketTag(models.Model):
    """One tag of a ticket's newest snapshot (rewritten with the snapshot)."""

    ticket = models.ForeignKey(TicketFact, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=TAG_LENGTH)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "tag"], name="reports_tag_unique")]
        # The tag first: "tickets with tag x" and the per-tag counts read the index.
        indexes = [models.Index(fields=["tag", "ticket"], name="reports_tag_ticket")]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.tag}"


class Team(models.Model):
    """A team as ``team.*`` events describe it: what reports show of it."""

    team_id = models.CharField(max_length=ID_LENGTH, unique=True)
    name = models.CharField(max_length=TEAM_NAME_LENGTH)
    lead_id = models.CharField(max_length=ID_LENGTH, null=True, blank=True)  # noqa: DJ001 (null: no lead, as in the events)
    #: The members' user ids, as strings, in the event's order.
    member_ids = models.JSONField(default=list, blank=True)
    #: Set by ``team.deleted``: the row stays so old tickets still show the name.
    deleted = models.BooleanField(default=False)
    #: The per-aggregate sequence of the card stored here (never goes back).
    sequence = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class ExportFormat(models.TextChoices):
    """The downloads a job can make: those of the synchronous ``export.*``."""

    PDF = "pdf", "PDF"
    XLSX = "xlsx", "Excel"
    CSV = "csv", "CSV"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("export job", "Queued")
    RUNNING = "running", pgettext_lazy("export job", "Running")
    DONE = "done", pgettext_lazy("export job", "Done")
    FAILED = "failed", pgettext_lazy("export job", "Failed")


class ExportJob(models.Model):
    """A report export made in the background for ``owner_id`` (``reports.exports.jobs``).

    The file is kept in the row (``content``, ``bytea``) so whichever replica answers the
    download has it; the row and its file go when ``expires_at`` passes (pruned by the
    worker). A worker holds a running job until ``lease_until``, renewed with each step of
    progress; one whose worker died is taken again once that passes (``attempts`` counts
    the takes), under a new ``lease_token``, so the old worker's writes are refused.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    #: The caller's user id (``apikey:<id>`` for an API key): only they may read the job.
    owner_id = models.CharField(max_length=ID_LENGTH)
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    #: The validated query (``from``, ``to``, filters, ``interval``), as the API takes it.
    filters = models.JSONField(default=dict)
    #: The language the file is written in.
    language = models.CharField(max_length=10)
    status = models.CharField(
        max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_token = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    content = models.BinaryField(null=True, blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [
            # The workers' claim: the few jobs not finished yet, oldest first.
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["queued", "running"]),
                name="reports_export_waiting",
            ),
            models.Index(fields=["expires_at"], name="reports_export_expiry"),
            models.Index(fields=["owner_id", "-created_at"], name="reports_export_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.format} export {self.pk} ({self.status})"
