"""Writes to the projection: applying ``ticket.*``, ``user.*`` and ``team.*`` events.

Each function owns its transaction (``@transaction.atomic``): inside the consumer's, the
one that records the event id in the inbox, it is a savepoint, so the effect and the id
commit together. Each takes a row lock on the aggregate first, so two consumers applying
events of one ticket serialize.

Ordering: every event carries its aggregate's ``sequence``. A snapshot is copied only
when its sequence is higher than the stored one, so an older event arriving after a
newer one never rolls the state back. A status change is history, not state: it is
recorded whatever its order, and the derived figures are recomputed from all of them.
Every ticket event carries the full snapshot (``ticket.updated`` and ``ticket.merged``
included), so team and tags follow the same rule as every other attribute; the ``into``
snapshot of ``ticket.merged`` belongs to another aggregate, whose sequence the event does
not carry, so that ticket is kept by its own events only. Teams follow the users' rule:
the card with the highest sequence wins, and ``team.deleted`` marks the row deleted
rather than removing it.

Version 1 and version 2 ticket events arrive as the same Python types (the ``...V1``
schemas are subclasses), so nothing here branches on the version; fields a version 1
snapshot lacks are at their defaults (no ``waiting_since``, no rating). Of issue 19's
events, ``ticket.closed`` is history like a status change (``resolved`` to ``closed``),
``ticket.rated`` keeps the client's latest answer (highest sequence wins, as for
snapshots), and ``ticket.sla_warning``/``ticket.sla_breached`` bring their snapshot
only (an escalation's new priority or assignee): reports judge SLAs from the due times.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from reports import history, wakeup
from reports.exports.jobs import Rendered
from reports.models import (
    ID_LENGTH,
    TAG_LENGTH,
    TEAM_NAME_LENGTH,
    ExportJob,
    ExportStatus,
    OpenSpell,
    Person,
    StatusChange,
    Team,
    TicketFact,
    TicketTag,
)
from servidesk_shared.errors import ApplicationError
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.publisher import publish
from servidesk_shared.events.schemas import (
    ReportExportReady,
    TeamCard,
    TicketClosed,
    TicketEvent,
    TicketRated,
    TicketSnapshot,
    TicketStatusChanged,
    UserCard,
)


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _tags(tags: tuple[str, ...]) -> list[str]:
    """The snapshot's tags, each cut to fit, without repeats, in their order."""
    return list(dict.fromkeys(tag[:TAG_LENGTH] for tag in tags))


def _snapshot_values(ticket: TicketSnapshot) -> dict[str, Any]:
    return {
        "number": ticket.number[:50],
        "title": ticket.title[:300],
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category[:100],
        "client_id": str(ticket.client_id),
        "assignee_id": _id(ticket.assignee_id),
        "team_id": _id(ticket.team_id),
        "tags": _tags(ticket.tags),
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "first_response_at": ticket.first_response_at,
        "resolved_at": ticket.resolved_at,
        "first_response_due": ticket.first_response_due,
        "resolution_due": ticket.resolution_due,
        "closed_at": ticket.closed_at,
        "waiting_since": ticket.waiting_since,
        "follow_up_of_id": _id(ticket.follow_up_of_id),
    }


@transaction.atomic
def person_apply_event(*, event: Event[UserCard]) -> bool:
    """Keep a user's name and role; ``False`` when the event is older than what we have."""
    card = event.data
    user_id = str(card.id)
    Person.objects.bulk_create(
        [Person(user_id=user_id, username=card.username, role=card.role, sequence=0)],
        ignore_conflicts=True,
    )
    person = Person.objects.select_for_update().get(user_id=user_id)
    if event.sequence <= person.sequence:
        return False
    person.username = card.username[:150]
    person.full_name = card.full_name[:300]
    person.role = card.role
    # A deactivation is one whatever its card says, as in tickets and notifier.
    person.is_active = card.is_active and event.type != "user.deactivated"
    person.sequence = event.sequence
    person.save()
    return True


@transaction.atomic
def team_apply_event(*, event: Event[TeamCard]) -> bool:
    """Keep a team's name, lead and members; ``False`` when the card is older than ours.

    ``team.deleted`` keeps the row (marked deleted, with the name it had), so tickets of
    the team still show its name.
    """
    card = event.data
    team_id = str(card.id)[:ID_LENGTH]
    Team.objects.bulk_create(
        [Team(team_id=team_id, name=card.name[:TEAM_NAME_LENGTH], sequence=0)],
        ignore_conflicts=True,
    )
    team = Team.objects.select_for_update().get(team_id=team_id)
    if event.sequence <= team.sequence:
        return False
    team.name = card.name[:TEAM_NAME_LENGTH]
    team.lead_id = _id(card.lead_id)
    team.member_ids = [str(member) for member in card.member_ids]
    team.deleted = event.type == "team.deleted"
    team.sequence = event.sequence
    team.save()
    return True


@transaction.atomic
def ticket_apply_event(*, event: Event[TicketEvent]) -> bool:
    """Apply one ticket event; ``False`` when its snapshot was older than the stored one.

    A status change (or a close) is recorded and counted in the history in either case,
    and a rating is kept if it is the latest answer.
    """
    snapshot = event.data.ticket
    ticket_id = str(snapshot.id)
    values = _snapshot_values(snapshot)
    TicketFact.objects.bulk_create(
        [TicketFact(ticket_id=ticket_id, sequence=0, **values)], ignore_conflicts=True
    )
    fact = TicketFact.objects.select_for_update().get(ticket_id=ticket_id)
    newer = event.sequence > fact.sequence
    if newer:
        _replace_tags(fact=fact, tags=values["tags"])
        for name, value in values.items():
            setattr(fact, name, value)
        fact.sequence = event.sequence

    data = event.data
    history_changed = _record_change(fact=fact, data=data, sequence=event.sequence)
    rated = isinstance(data, TicketRated) and _record_rating(
        fact=fact, data=data, sequence=event.sequence
    )
    if not (newer or history_changed or rated):
        return False  # an old snapshot and nothing else in it: nothing to do

    _refresh_derived(fact=fact)
    return bool(newer)


def _record_change(*, fact: TicketFact, data: TicketEvent, sequence: int) -> bool:
    """Store the status move ``data`` makes, if any (a step of ``ticket_apply_event``).

    ``ticket.status_changed`` and ``ticket.closed`` (from wherever the ticket was to
    ``closed``) are history. Only whether a move to ``resolved`` carried a rating link
    is kept, never the token: it lets whoever holds it rate the ticket.
    """
    from_status: str
    to_status: str
    if isinstance(data, TicketStatusChanged):
        from_status, to_status = data.from_status, data.to_status
        surveyed = to_status == history.RESOLVED and data.rating_token is not None
    elif isinstance(data, TicketClosed):
        from_status, to_status, surveyed = data.from_status, history.CLOSED, False
    else:
        return False
    StatusChange.objects.bulk_create(
        [
            StatusChange(
                ticket=fact,
                sequence=sequence,
                changed_at=_change_time(data.ticket, to_status),
                from_status=from_status,
                to_status=to_status,
                actor_id=_id(data.actor_id),
                surveyed=surveyed,
            )
        ],
        ignore_conflicts=True,
    )
    return True


def _record_rating(*, fact: TicketFact, data: TicketRated, sequence: int) -> bool:
    """Keep the client's answer if it is the latest we know of (a step of
    ``ticket_apply_event``); the assignee it is about is the snapshot's."""
    if sequence <= fact.rating_sequence:
        return False
    fact.rating = data.rating
    fact.rated_at = data.rated_at
    fact.rated_assignee_id = _id(data.ticket.assignee_id)
    fact.rating_sequence = sequence
    return True


def _replace_tags(*, fact: TicketFact, tags: list[str]) -> None:
    """Make ``fact``'s tag rows ``tags`` (a step of ``ticket_apply_event``).

    A new fact's row was just inserted with the snapshot's tags and has no tag rows yet,
    hence the sequence check rather than a comparison with ``fact.tags``.
    """
    if fact.sequence and fact.tags == tags:
        return
    TicketTag.objects.filter(ticket=fact).exclude(tag__in=tags).delete()
    TicketTag.objects.bulk_create(
        [TicketTag(ticket=fact, tag=tag) for tag in tags], ignore_conflicts=True
    )


def _change_time(ticket: TicketSnapshot, to_status: str) -> datetime:
    when: datetime = ticket.updated_at
    if to_status == history.RESOLVED and ticket.resolved_at is not None:
        when = ticket.resolved_at
    elif to_status == history.CLOSED and ticket.closed_at is not None:
        when = ticket.closed_at
    return when


def _refresh_derived(*, fact: TicketFact) -> None:
    """Recompute the derived columns and open spells of ``fact`` and save both (a step of
    ``ticket_apply_event``, in its transaction)."""
    changes = [
        history.Change(*row)
        for row in StatusChange.objects.filter(ticket=fact).values_list(
            "sequence", "changed_at", "from_status", "to_status", "surveyed"
        )
    ]
    derived = history.derive(
        history.Snapshot(
            sequence=fact.sequence,
            status=fact.status,
            created_at=fact.created_at,
            updated_at=fact.updated_at,
            resolved_at=fact.resolved_at,
            closed_at=fact.closed_at,
        ),
        changes,
    )
    # Done: resolved, or closed (a merged ticket may be closed without a resolution).
    done_at = (fact.resolved_at or fact.closed_at) if fact.status in history.DONE else None
    fact.first_response_seconds = _seconds(fact.created_at, fact.first_response_at)
    fact.resolution_seconds = _seconds(fact.created_at, done_at)
    fact.first_response_met = _met(fact.first_response_at, fact.first_response_due)
    fact.resolution_met = _met(done_at, fact.resolution_due)
    fact.first_resolved_at = derived.first_resolved_at
    fact.times_resolved = derived.times_resolved
    fact.reopen_count = derived.reopen_count
    fact.pending_seconds = derived.pending_seconds
    fact.in_progress_seconds = derived.in_progress_seconds
    fact.waiting_seconds = derived.waiting_seconds
    fact.surveyed_at = derived.surveyed_at
    fact.save()

    OpenSpell.objects.filter(ticket=fact).delete()
    OpenSpell.objects.bulk_create(
        OpenSpell(
            ticket=fact,
            started_at=spell.started_at,
            ended_at=spell.ended_at,
            reopened=spell.reopened,
            status=fact.status,
            priority=fact.priority,
            category=fact.category,
            assignee_id=fact.assignee_id,
            team_id=fact.team_id,
        )
        for spell in derived.spells
    )


def _seconds(start: datetime, end: datetime | None) -> float | None:
    if end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _met(done_at: datetime | None, due: datetime | None) -> bool | None:
    if done_at is None or due is None:
        return None
    return done_at <= due


# --- export jobs (issue 22) ----------------------------------------------------------------
#
# A job is queued by the API (``export_create``), claimed by a worker (``export_claim``:
# ``SELECT ... FOR UPDATE SKIP LOCKED``, so workers on any replica share the queue), moved
# along by its progress (``export_progress``, which renews the lease) and finished
# (``export_finish``: the file, and ``report.export_ready`` in the same transaction) or
# failed (``export_fail``). Every write after the claim names the claim's ``lease_token``:
# a worker whose lease ran out (and whose job another worker took) changes nothing.


@dataclass(frozen=True)
class ExportSettings:
    #: How long a job and its file are kept.
    ttl: timedelta
    #: How long a worker holds a job without a sign of life (a step of progress).
    lease: timedelta
    #: Takes of one job (workers that died holding it) before it is failed.
    max_attempts: int
    #: Jobs one user may have queued or running at once.
    max_pending: int
    #: Seconds between the worker's looks for work when nothing wakes it.
    poll_interval: float


def export_settings() -> ExportSettings:
    def get(name: str, default: float) -> float:
        return float(getattr(settings, name, default))

    return ExportSettings(
        ttl=timedelta(hours=get("REPORTS_EXPORT_TTL_HOURS", 24)),
        lease=timedelta(seconds=get("REPORTS_EXPORT_LEASE_SECONDS", 120)),
        max_attempts=int(get("REPORTS_EXPORT_MAX_ATTEMPTS", 3)),
        max_pending=int(get("REPORTS_EXPORT_MAX_PENDING", 5)),
        poll_interval=get("REPORTS_EXPORT_POLL_SECONDS", 5.0),
    )


UNFINISHED = (ExportStatus.QUEUED, ExportStatus.RUNNING)


def web_download_path(job_id: uuid.UUID | str) -> str:
    """Web's page of the job (the browser UI signs the user in and fetches the file)."""
    return f"/reports/exports/{job_id}/"


@transaction.atomic
def export_create(
    *, owner_id: str, export_format: str, filters: dict[str, Any], language: str
) -> ExportJob:
    """Queue an export of the validated ``filters`` for ``owner_id``; wake the workers.

    429 when the owner already has ``max_pending`` jobs queued or running.
    """
    conf = export_settings()
    now = timezone.now()
    pending = ExportJob.objects.filter(
        owner_id=owner_id, status__in=UNFINISHED, expires_at__gt=now
    ).count()
    if pending >= conf.max_pending:
        raise ApplicationError(
            _("You have %(count)d exports in progress: wait for one to finish.")
            % {"count": pending},
            status_code=429,
        )
    job = ExportJob.objects.create(
        owner_id=owner_id,
        format=export_format,
        filters=filters,
        language=language,
        created_at=now,
        expires_at=now + conf.ttl,
    )
    wakeup.notify_at_commit()
    return job


def _claimable(now: datetime) -> Q:
    """Queued, or running under a lease that ran out (its worker died)."""
    return Q(status=ExportStatus.QUEUED) | Q(status=ExportStatus.RUNNING, lease_until__lt=now)


@transaction.atomic
def export_claim(*, conf: ExportSettings | None = None) -> ExportJob | None:
    """Take the oldest claimable job (``SKIP LOCKED``: a job another worker is taking is
    passed over), under a new lease; ``None`` when there is none.

    A job taken ``max_attempts`` times already (its workers kept dying) is failed instead.
    """
    conf = conf or export_settings()
    now = timezone.now()
    while True:
        job = (
            ExportJob.objects.select_for_update(skip_locked=True)
            .filter(_claimable(now), expires_at__gt=now)
            .defer("content")
            .order_by("created_at")
            .first()
        )
        if job is None:
            return None
        if job.attempts >= conf.max_attempts:
            ExportJob.objects.filter(pk=job.pk).update(
                status=ExportStatus.FAILED,
                error=_("The export was interrupted %(count)d times.") % {"count": job.attempts},
                lease_token=None,
                lease_until=None,
                finished_at=now,
            )
            continue
        job.status = ExportStatus.RUNNING
        job.attempts += 1
        job.progress = 0
        job.lease_token = uuid.uuid4()
        job.lease_until = now + conf.lease
        job.started_at = now
        job.save(
            update_fields=[
                "status",
                "attempts",
                "progress",
                "lease_token",
                "lease_until",
                "started_at",
            ]
        )
        return job


def _held(job: ExportJob) -> Q:
    return Q(pk=job.pk, status=ExportStatus.RUNNING, lease_token=job.lease_token)


def export_progress(*, job: ExportJob, progress: int, conf: ExportSettings | None = None) -> bool:
    """Record ``progress`` (percent) and renew the lease; ``False`` if the lease was lost."""
    conf = conf or export_settings()
    return bool(
        ExportJob.objects.filter(_held(job)).update(
            progress=max(0, min(99, progress)),
            lease_until=timezone.now() + conf.lease,
        )
    )


@transaction.atomic
def export_finish(*, job: ExportJob, rendered: Rendered) -> bool:
    """Store the file, mark the job done and publish ``report.export_ready``, together;
    ``False`` (and nothing written) if the lease was lost."""
    now = timezone.now()
    done = ExportJob.objects.filter(_held(job)).update(
        status=ExportStatus.DONE,
        progress=100,
        content=rendered.content,
        size=len(rendered.content),
        file_name=rendered.file_name,
        content_type=rendered.content_type,
        finished_at=now,
        lease_token=None,
        lease_until=None,
        error="",
    )
    if not done:
        return False
    publish(
        ReportExportReady(
            user_id=job.owner_id,
            export_id=str(job.pk),
            format=job.format,  # type: ignore[arg-type]  # one of ExportFormat's values
            download_path=web_download_path(job.pk),
            expires_at=job.expires_at,
        )
    )
    return True


def export_fail(*, job: ExportJob, error: str) -> bool:
    """Mark the job failed with ``error`` (shown to its owner); ``False`` if the lease was
    lost."""
    return bool(
        ExportJob.objects.filter(_held(job)).update(
            status=ExportStatus.FAILED,
            error=error[:2000],
            finished_at=timezone.now(),
            lease_token=None,
            lease_until=None,
        )
    )


def export_prune(*, now: datetime | None = None) -> int:
    """Delete the jobs (and files) whose day is over; how many."""
    deleted, _by_model = ExportJob.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
