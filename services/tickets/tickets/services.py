"""Every write of the tickets domain (HackSoft style: keyword-only, typed, one per action).

Each function owns its transaction (``@transaction.atomic``; a savepoint when a caller
already holds one): a refused or failed write leaves nothing behind, whatever it wrote
before the refusal. Functions that change a ticket take its id and lock its row first,
inside that transaction (``locked``): the lock is what keeps two technicians from losing
each other's update, and what orders the ticket's events. Each one then checks the domain
rules against that fresh state, writes the change and its history entries, bumps
``version`` and sends its signal (``tickets.signals`` lists every receiver: today the
outbox one, which queues the event in the same transaction).

Writes that take files (``files=`` of ``ticket_create`` and ``comment_create``, and
``attachment_add``) check them before anything else (``tickets.attachments.check``) and
write their bytes to storage last, so a refusal stores nothing and a storage failure
rolls the whole write back. If a caller's own transaction around one of them rolls back
later, the stored bytes stay behind unreferenced (random keys, no row names them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status as http

from servidesk_shared.errors import ApplicationError, ConflictError
from servidesk_shared.vocabulary import CLIENT_REPLY_MOVES, STATUS_LABELS
from tickets import (
    attachments,
    calendars,
    csat,
    numbers,
    search,
    selectors,
    signals,
    sla,
    sql,
    teams,
    workflow,
)
from tickets import tags as tagging
from tickets.actors import Actor
from tickets.models import (
    DEFAULT_SLA_HOURS,
    TITLE_MAX_LENGTH,
    Attachment,
    Category,
    Comment,
    DirectoryUser,
    HistoryEntry,
    Priority,
    Role,
    SlaTarget,
    Status,
    Team,
    Ticket,
)
from tickets.sla import Targets

#: Fields a PATCH may change, and how each is written into a history entry.
EDITABLE_FIELDS: Final = ("title", "description", "priority", "category", "team", "tags")
#: Of those, the ones only staff may change (clients never see tags; teams are routing).
STAFF_FIELDS: Final = frozenset({"team", "tags"})


class ForbiddenError(ApplicationError):
    """The caller may see the ticket but their role may not do this to it."""

    status_code = http.HTTP_403_FORBIDDEN


def forbidden(message: str) -> ApplicationError:
    return ForbiddenError(message, extra={"code": "permission_denied"})


def field_error(field: str, message: str) -> ApplicationError:
    """A 400 in the same shape as a serializer's validation error."""
    return ApplicationError(_("The data sent is not valid."), extra={"fields": {field: [message]}})


def check_version(ticket: Ticket, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != ticket.version:
        raise ConflictError(
            _(
                "The ticket changed since you read it (your version %(expected)s, "
                "current %(current)s). Reload it and try again."
            )
            % {"expected": expected_version, "current": ticket.version},
            extra={"code": "stale_version", "version": ticket.version},
        )


def _history(
    ticket: Ticket, actor: Actor | None, *, field: str, old: Any, new: Any, at: datetime
) -> HistoryEntry:
    return HistoryEntry(
        ticket=ticket,
        actor_id=actor.id if actor else None,
        field=field,
        from_value=None if old is None else str(old),
        to_value=None if new is None else str(new),
        at=at,
    )


def locked(
    *, actor: Actor, ticket_id: int, merged_ok: bool = False, closed_ok: bool = False
) -> Ticket:
    """The ticket ``actor`` may see (else ``Http404``), its row locked until the caller's
    transaction ends; with its names, so the API can answer with it.

    A merged ticket can no longer change (409 naming where it went), unless
    ``merged_ok`` (reads of it for a merge's own bookkeeping); nor can a closed one
    (409 ``closed``), unless ``closed_ok`` (a client's reply: it opens a follow-up).
    """
    ticket = selectors.ticket_get(actor=actor, ticket_id=ticket_id, for_update=True)
    if ticket.merged_into_id is not None and not merged_ok:
        raise merged_error(ticket)
    if ticket.status == Status.CLOSED and not (closed_ok or merged_ok):
        raise closed_error()
    return ticket


def closed_error() -> ApplicationError:
    return ConflictError(
        _("This ticket is closed and can no longer change; a client's reply opens a new one."),
        extra={"code": "closed"},
    )


def merged_error(ticket: Ticket) -> ApplicationError:
    return ConflictError(
        _("This ticket was merged into another one; continue there."),
        extra={"code": "merged", "merged_into_id": ticket.merged_into_id},
    )


# --- tickets --------------------------------------------------------------------------


def _active_user(user_id: str, roles: tuple[str, ...]) -> DirectoryUser | None:
    return DirectoryUser.objects.filter(pk=user_id, role__in=roles, is_active=True).first()


@dataclass(frozen=True)
class Opening:
    number: int
    targets: Targets
    #: The client's display name in the directory; None when the directory has no entry.
    client_name: str | None
    #: The directory knows the client as an active client.
    client_is_active_client: bool


def _read_opening(*, priority: int, team_id: int | None, client_id: str) -> Opening:
    """Take the next number and read the SLA targets and the client, in one statement
    (``tickets.sql.opening_row``) instead of three: creating tickets is the hottest write
    of the service, and each round trip costs more in Django and psycopg than in the
    database."""
    row = sql.opening_row(
        number=numbers.number_expression(),
        priority=priority,
        team_id=team_id,
        client_id=client_id,
    )
    if row.sla_hours is None:
        first, resolution = DEFAULT_SLA_HOURS[priority]
        targets = Targets(priority, first, resolution, is_default=True)
    else:
        targets = Targets(priority, *row.sla_hours, is_default=False)
    client = None if row.client is None else DirectoryUser(pk=client_id, **row.client._asdict())
    return Opening(
        number=row.number,
        targets=targets,
        client_name=client.display_name if client else None,
        client_is_active_client=bool(client and client.is_active and client.role == Role.CLIENT),
    )


@transaction.atomic
def ticket_create(
    *,
    actor: Actor,
    title: str,
    description: str,
    priority: int | None = None,
    category: Category | None = None,
    client_id: str | None = None,
    team: Team | None = None,
    tags: Sequence[str] = (),
    files: Sequence[File] = (),  # type: ignore[type-arg]
    follow_up_of: Ticket | None = None,
) -> Ticket:
    """Open a ticket: a client for themselves, staff on behalf of an active client.

    ``follow_up_of``: the closed ticket a client's reply continues (``comment_create``);
    the new ticket keeps its team.

    The ticket joins its category's team (``tickets.teams``), or the team staff name
    (``team``), whose assignment rule may then assign it (a ``ticket.assigned`` event
    after ``ticket.created``, with no actor). Staff may tag it (``tags``: names).

    ``files`` (any ``django.core.files.File`` with a ``name``: uploads, or
    ``ContentFile(data, name=...)`` from mail) are attached to the ticket in the same
    transaction and listed in its ``ticket.created`` event; ``tickets.attachments``
    holds their limits (400/413 before anything is written).
    """
    uploads = attachments.check(files)
    if actor.is_client:
        if client_id is not None and client_id != actor.id:
            raise field_error("client_id", _("Clients can only open tickets for themselves."))
        client_id = actor.id
    elif actor.is_staff:
        if not client_id:
            raise field_error("client_id", _("Say which client this ticket is for (client_id)."))
    else:
        raise forbidden(_("Your role cannot open tickets."))
    if category is not None and not category.is_active:
        raise field_error("category", _("This category is no longer in use."))
    if (team is not None or tags) and not actor.is_staff:
        raise forbidden(_("Only technicians and admins can set a ticket's team or tags."))
    if team is None and follow_up_of is not None:
        team = follow_up_of.team
    if team is None:
        team = teams.team_for_category(category)
    clean_tags = _clean_tags(tags)

    priority = priority or Priority.MEDIUM
    # The number is taken before the client check: a refused request rolls back and
    # leaves a gap, as any rolled-back creation does (tickets.numbers).
    opening = _read_opening(
        priority=priority, team_id=team.pk if team else None, client_id=client_id
    )
    if actor.is_staff and not opening.client_is_active_client:
        raise field_error("client_id", _("There is no active client with this id."))
    now = timezone.now()
    number = opening.number
    ticket = Ticket(
        number=number,
        title=title,
        description=description,
        status=Status.PENDING,
        priority=priority,
        category=category,
        client_id=client_id,
        team=team,
        created_at=now,
        updated_at=now,
        follow_up_of=follow_up_of,
    )
    calendar_id, calendar = calendars.calendar_of_team(ticket.team_id)
    sla.refresh(ticket, sla.Plan(calendar_id, calendar, opening.targets), recompute_due=True)
    # The search document goes in the INSERT itself: no comments yet, no second query.
    ticket.search_vector = search.new_ticket_document(
        number=number, title=title, description=description
    )
    ticket.save(force_insert=True)
    ticket.search_vector = None
    # What the API shows with a ticket (selectors.with_names), known without a query.
    ticket.client_name = opening.client_name  # type: ignore[attr-defined]
    ticket.assignee_name = None  # type: ignore[attr-defined]
    ticket.tag_names = []  # type: ignore[attr-defined]
    if clean_tags:
        tagging.set_tags(ticket, clean_tags)
    _history(ticket, actor, field="status", old=None, new=Status.PENDING, at=now).save()
    added = _attachment_rows(ticket=ticket, comment=None, actor=actor, uploads=uploads, at=now)
    # Assigned by the team's rule before ``ticket.created`` goes out, so the event already
    # names the assignee (nobody is told "unassigned in your team's queue" for a ticket
    # that has its owner); ``ticket.assigned`` follows it, to tell that owner.
    assigned = _assign_by_rule(ticket, at=now)
    signals.ticket_created.send(sender=Ticket, ticket=ticket, actor=actor, attachments=added)
    if assigned:
        _announce_rule_assignment(ticket)
    _store(added, uploads)
    return ticket


def _clean_tags(names: Sequence[str]) -> list[str]:
    try:
        return tagging.clean(names)
    except tagging.TagError as exc:
        raise field_error("tags", str(exc)) from None


def _assign_by_rule(ticket: Ticket, *, at: datetime) -> bool:
    """Assign an unassigned ticket by its team's rule (``teams.choose_assignee``) and say
    whether it did; the system is the actor: the history entry has none. The caller
    announces it (``_announce_rule_assignment``) once its own event is out."""
    if ticket.team_id is None or ticket.assignee_id is not None:
        return False
    assignee_id = teams.choose_assignee(team_id=ticket.team_id)
    if assignee_id is None:
        return False
    ticket.assignee_id = assignee_id
    ticket.version += 1
    ticket.save(update_fields=["assignee_id", "version"])
    _history(ticket, None, field="assignee_id", old=None, new=assignee_id, at=at).save()
    selectors.ticket_refresh_names(ticket=ticket)
    return True


def _announce_rule_assignment(ticket: Ticket) -> None:
    signals.ticket_assigned.send(
        sender=Ticket,
        ticket=ticket,
        actor=None,
        from_assignee=None,
        to_assignee=ticket.assignee_id,
    )


@transaction.atomic
def ticket_update(
    *,
    ticket_id: int,
    actor: Actor,
    changes: dict[str, Any],
    expected_version: int | None = None,
) -> Ticket:
    """Change title, description, priority, category, team (``team``: a ``Team`` or
    None) or tags (``tags``: names); each change becomes a history entry and the edit one
    ``ticket.updated`` event naming what changed.

    Staff may edit any ticket; a client only their own, only while it is pending (once
    someone works on it, the conversation is the place for more detail), and never its
    team or tags. A new priority or team moves the SLA due times (``tickets.sla``: other
    targets, another calendar). A new category brings its team (unless the same edit
    names a team).
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    ticket = locked(actor=actor, ticket_id=ticket_id)
    check_version(ticket, expected_version)
    _check_may_edit(actor, ticket, changes)

    category = changes.get("category")
    if category is not None and not category.is_active and category.pk != ticket.category_id:
        raise field_error("category", _("This category is no longer in use."))
    changes = dict(changes)
    if "tags" in changes:
        changes["tags"] = _clean_tags(changes["tags"])
    if "category" in changes and "team" not in changes and category is not None:
        routed = teams.team_for_category(category)
        if routed is not None and category.pk != ticket.category_id:
            changes["team"] = routed

    now = timezone.now()
    entries: list[HistoryEntry] = []
    updated: list[str] = []
    changed: dict[str, tuple[Any, Any]] = {}
    for field in EDITABLE_FIELDS:
        if field in changes:
            updated += _apply_edit(
                ticket, field, changes[field], entries, changed, actor=actor, at=now
            )
    if not changed:
        return ticket
    if {"priority", "team_id"} & set(changed):
        # Other targets or another calendar: the due times move (tickets.sla).
        sla.refresh(ticket, recompute_due=True)
        updated += sla.SLA_FIELDS
    ticket.updated_at = now
    ticket.version += 1
    ticket.save(update_fields=list(dict.fromkeys([*updated, "updated_at", "version"])))
    HistoryEntry.objects.bulk_create(entries)
    if {"title", "description"} & set(updated):
        search.refresh_search_vector(ticket.pk)
    signals.ticket_updated.send(sender=Ticket, ticket=ticket, actor=actor, changes=changed)
    return ticket


#: ``record(field, before, after, history=(from text, to text))``: note one change.
Record = Callable[..., None]


def _check_may_edit(actor: Actor, ticket: Ticket, changes: dict[str, Any]) -> None:
    if actor.is_staff:
        return
    if not actor.is_client:
        raise forbidden(_("Your role cannot edit tickets."))
    if STAFF_FIELDS & set(changes):
        raise forbidden(_("Only technicians and admins can set a ticket's team or tags."))
    if ticket.status != Status.PENDING:
        raise ConflictError(
            _("You can only edit a ticket while it is pending; add a comment instead."),
            extra={"code": "not_editable"},
        )


def _apply_edit(
    ticket: Ticket,
    field: str,
    new: Any,
    entries: list[HistoryEntry],
    changed: dict[str, tuple[Any, Any]],
    *,
    actor: Actor,
    at: datetime,
) -> list[str]:
    """Set one editable field if it changes, recording it in ``entries`` and ``changed``
    (under the API's name, with the API's values); returns the model fields written."""

    def record(name: str, old: Any, value: Any, *, history: tuple[Any, Any] | None = None) -> None:
        old_text, new_text = history or (old, value)
        entries.append(_history(ticket, actor, field=name, old=old_text, new=new_text, at=at))
        changed[name] = (old, value)

    editor = _EDITORS.get(field, _edit_text)
    return editor(ticket, field, new, record)


def _edit_category(ticket: Ticket, field: str, new: Category | None, record: Record) -> list[str]:
    old_slug, new_slug = ticket.category_slug, (new.slug if new is not None else None)
    if old_slug == new_slug:
        return []
    record("category", old_slug, new_slug)
    ticket.category = new
    return ["category"]


def _edit_team(ticket: Ticket, field: str, new: Team | None, record: Record) -> list[str]:
    new_id = new.pk if new is not None else None
    if new_id == ticket.team_id:
        return []
    record("team_id", ticket.team_id, new_id)
    ticket.team = new
    return ["team"]


def _edit_tags(ticket: Ticket, field: str, new: list[str], record: Record) -> list[str]:
    old_tags = tagging.tag_names(ticket)
    if sorted(new) == old_tags:
        return []
    tagging.set_tags(ticket, new)
    new_tags = tagging.tag_names(ticket)
    record("tags", old_tags, new_tags, history=(", ".join(old_tags), ", ".join(new_tags)))
    return []  # a relation, not a column: written by set_tags


def _edit_priority(ticket: Ticket, field: str, new: int, record: Record) -> list[str]:
    if new == ticket.priority:
        return []
    record("priority", Priority(ticket.priority).key, Priority(new).key)
    ticket.priority = new
    return ["priority"]


def _edit_text(ticket: Ticket, field: str, new: str, record: Record) -> list[str]:
    old = getattr(ticket, field)
    if new == old:
        return []
    record(field, old, new)
    setattr(ticket, field, new)
    return [field]


_EDITORS: Final[dict[str, Callable[[Ticket, str, Any, Record], list[str]]]] = {
    "category": _edit_category,
    "team": _edit_team,
    "tags": _edit_tags,
    "priority": _edit_priority,
}


@transaction.atomic
def ticket_change_status(
    *,
    ticket_id: int,
    actor: Actor,
    status: str,
    expected_version: int | None = None,
) -> Ticket:
    """Move the ticket along the workflow (``tickets.workflow``).

    409 for a move the workflow refuses, naming the moves allowed from here; 403 for a
    move the workflow allows but the caller's role does not (a client may only reopen).
    Nobody closes by hand (400): the desk does (``tickets.sla_watch``, ``tickets.merge``).
    The clocks follow the move (``_move_status``).
    """
    if status == Status.CLOSED:
        raise field_error(
            "status",
            _(
                "Nobody closes a ticket by hand: a resolved ticket closes by itself after "
                "%(days)s days without a reply from the client."
            )
            % {"days": settings.AUTO_CLOSE_DAYS},
        )
    ticket = locked(actor=actor, ticket_id=ticket_id)
    check_version(ticket, expected_version)
    from_status = ticket.status
    if not workflow.is_allowed(from_status, status):
        allowed = [
            move
            for move in workflow.allowed_moves(from_status)
            if workflow.may_move(actor, from_status, move)
        ]
        # People read the statuses' names in their language; programs read ``extra``.
        names = {"from": STATUS_LABELS[from_status], "to": STATUS_LABELS.get(status, status)}
        if allowed:
            message = _(
                "A ticket cannot go from %(from)s to %(to)s. Allowed from %(from)s: %(allowed)s."
            ) % {**names, "allowed": ", ".join(str(STATUS_LABELS[move]) for move in allowed)}
        else:
            message = (
                _(
                    "A ticket cannot go from %(from)s to %(to)s, and there is no move you can "
                    "make from %(from)s."
                )
                % names
            )
        raise ConflictError(
            message,
            extra={"code": "invalid_transition", "status": from_status, "allowed": allowed},
        )
    if not workflow.may_move(actor, from_status, status):
        raise forbidden(_("Clients can only reopen their own resolved tickets."))
    _move_status(ticket, actor, status, at=timezone.now())
    return ticket


def _move_status(
    ticket: Ticket,
    actor: Actor,
    to_status: str,
    *,
    at: datetime,
    reply: Comment | None = None,
) -> None:
    """Write one checked move of the workflow with what it does to the clocks, its
    history entry and its signal.

    Waiting pauses the resolution clock and leaving it resumes it; resolving stops it
    (``resolved_at``) and mints the client's rating link; reopening starts a new cycle.
    A reopened ticket nobody holds goes back in turn (the team's rule). ``reply``: the
    client's comment that made the move (its event follows this one).
    """
    from_status = ticket.status
    plan = sla.plan_for(ticket)
    if from_status == Status.WAITING:
        sla.resume(ticket, at, plan)
    if to_status == Status.WAITING:
        sla.pause(ticket, at)
    if to_status == Status.RESOLVED:
        ticket.resolved_at = at
    elif from_status == Status.RESOLVED:
        ticket.resolved_at = None
        sla.new_cycle(ticket, at)
    ticket.status = to_status
    ticket.updated_at = at
    ticket.version += 1
    sla.refresh(ticket, plan, recompute_due=True)
    ticket.save(update_fields=["status", "resolved_at", "updated_at", "version", *sla.SLA_FIELDS])
    _history(ticket, actor, field="status", old=from_status, new=to_status, at=at).save()
    signals.ticket_status_changed.send(
        sender=Ticket,
        ticket=ticket,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        rating_token=csat.token_for(ticket, now=at) if to_status == Status.RESOLVED else None,
        reply_comment_id=reply.pk if reply is not None else None,
    )
    if from_status == Status.RESOLVED and _assign_by_rule(ticket, at=at):
        _announce_rule_assignment(ticket)


@transaction.atomic
def ticket_assign(
    *,
    ticket_id: int,
    actor: Actor,
    assignee_id: str | None,
    expected_version: int | None = None,
) -> Ticket:
    """Assign to an active technician or admin, or unassign with ``None``.

    A technician may take a ticket (assign it to themselves) or give up their own; an
    admin may assign to any active technician or admin, or unassign anyone. Assignees
    other than the caller are checked against the user directory (kept from accounts'
    events): the caller's own token already proves their role.
    """
    ticket = locked(actor=actor, ticket_id=ticket_id)
    check_version(ticket, expected_version)
    if not actor.is_staff:
        raise forbidden(_("Only technicians and admins can assign tickets."))
    from_assignee = ticket.assignee_id
    if actor.is_technician:
        if assignee_id is not None and assignee_id != actor.id:
            raise forbidden(_("Technicians can only assign tickets to themselves."))
        if assignee_id is None and from_assignee not in (None, actor.id):
            raise forbidden(_("Only an admin can unassign a ticket assigned to someone else."))
    if (
        assignee_id is not None
        and assignee_id != actor.id
        and _active_user(assignee_id, (Role.TECHNICIAN, Role.ADMIN)) is None
    ):
        raise field_error("assignee_id", _("There is no active technician with this id."))
    if assignee_id == from_assignee:
        return ticket

    now = timezone.now()
    ticket.assignee_id = assignee_id
    ticket.updated_at = now
    ticket.version += 1
    ticket.save(update_fields=["assignee_id", "updated_at", "version"])
    _history(ticket, actor, field="assignee_id", old=from_assignee, new=assignee_id, at=now).save()
    signals.ticket_assigned.send(
        sender=Ticket,
        ticket=ticket,
        actor=actor,
        from_assignee=from_assignee,
        to_assignee=assignee_id,
    )
    return ticket


# --- comments -------------------------------------------------------------------------


@transaction.atomic
def comment_create(
    *,
    ticket_id: int,
    actor: Actor,
    body: str,
    internal: bool = False,
    files: Sequence[File] = (),  # type: ignore[type-arg]
) -> Comment:
    """Add to the conversation. Internal notes are for staff and never reach clients.

    The first public reply by staff sets ``first_response_at`` (the first response clock
    stops). A public comment moves ``updated_at`` and joins the search document; an
    internal one changes neither, so nothing a client can see moves because of a note
    they cannot read.

    The client's reply moves a waiting or resolved ticket back to ``in_progress``
    (``CLIENT_REPLY_MOVES``), before the comment in the same transaction. On their closed
    ticket it opens a follow-up ticket instead, where the comment is stored (its
    ``ticket`` is the new one); staff cannot comment on a closed ticket (409).

    ``files`` are attached to the comment (staff-only with an internal note), in the same
    transaction, and listed in its ``ticket.commented`` event (as ``ticket_create``).
    """
    uploads = attachments.check(files)
    ticket = locked(actor=actor, ticket_id=ticket_id, closed_ok=actor.is_client)
    if internal and not actor.is_staff:
        raise forbidden(_("Only technicians and admins can write internal notes."))
    if not (actor.is_staff or actor.is_client):
        raise forbidden(_("Your role cannot comment."))
    now = timezone.now()
    if ticket.status == Status.CLOSED:
        ticket = _follow_up(ticket, actor=actor)
    comment = Comment.objects.create(
        ticket=ticket, author_id=actor.id, body=body, internal=internal, created_at=now
    )
    if actor.is_client and ticket.status in CLIENT_REPLY_MOVES:
        _move_status(ticket, actor, CLIENT_REPLY_MOVES[ticket.status], at=now, reply=comment)
    if not internal:
        fields = ["updated_at", "version"]
        if actor.is_staff and ticket.first_response_at is None:
            ticket.first_response_at = now
            sla.refresh(ticket)
            fields += ["first_response_at", "next_check_at"]
        ticket.updated_at = now
        ticket.version += 1
        ticket.save(update_fields=fields)
        search.append_comment(ticket.pk, body)
    added = _attachment_rows(ticket=ticket, comment=comment, actor=actor, uploads=uploads, at=now)
    signals.ticket_commented.send(
        sender=Ticket, ticket=ticket, actor=actor, comment=comment, attachments=added
    )
    _store(added, uploads)
    # With its authors' names, read before the commit: nothing after the commit can fail,
    # so a reply answered with an error was never stored.
    return selectors.comment_with_names(comment=comment)


def _follow_up(closed: Ticket, *, actor: Actor) -> Ticket:
    """The ticket a client's reply to their closed ticket opens: same category and team,
    titled after the closed one, which it links to (``follow_up_of``)."""
    prefix = _("Follow-up of %(number)s: ") % {"number": closed.reference}
    return ticket_create(
        actor=actor,
        title=(prefix + closed.title)[:TITLE_MAX_LENGTH],
        description=_("Follow-up of %(number)s, closed on %(date)s.")
        % {
            "number": closed.reference,
            "date": timezone.localtime(closed.closed_at or closed.updated_at).date().isoformat(),
        },
        priority=closed.priority,
        category=closed.category
        if closed.category is not None and closed.category.is_active
        else None,
        follow_up_of=closed,
    )


# --- attachments ----------------------------------------------------------------------


def _attachment_rows(
    *,
    ticket: Ticket,
    comment: Comment | None,
    actor: Actor,
    uploads: Sequence[attachments.Upload],
    at: datetime,
) -> list[Attachment]:
    """The rows of checked files (ids included: the event names them); the bytes are
    written by ``_store``, last, once every other part of the write has succeeded."""
    if not uploads:
        return []
    rows = [
        Attachment(
            ticket=ticket,
            comment=comment,
            filename=upload.filename,
            size=upload.size,
            content_type=upload.content_type,
            storage_key=attachments.new_storage_key(ticket.pk),
            uploaded_by=actor.id,
            created_at=at,
        )
        for upload in uploads
    ]
    return Attachment.objects.bulk_create(rows)


def _store(rows: Sequence[Attachment], uploads: Sequence[attachments.Upload]) -> None:
    if not rows:
        return
    attachments.store(
        [(row.storage_key, upload.file) for row, upload in zip(rows, uploads, strict=True)]
    )


#: History fields of files added on their own: public, or to an internal note (staff only).
ATTACHMENT_FIELD: Final = "attachment"
NOTE_ATTACHMENT_FIELD: Final = "note_attachment"


@transaction.atomic
def attachment_add(
    *,
    ticket_id: int,
    actor: Actor,
    file: File,  # type: ignore[type-arg]
    comment_id: int | None = None,
) -> Attachment:
    """Attach a file to a ticket, or to one of its comments, after the fact.

    A client attaches to their own ticket or their own comments; staff to any comment,
    internal notes included. ``comment_id`` must be a comment of this ticket that the
    caller can see (a client never learns an internal note's id exists: 400 as for any
    other id). It is a write on the ticket with a history entry (``attachment``, the
    file name), and no event: the contract has no type for it, and the next event
    carries the ticket. A file added to an internal note moves nothing a client sees:
    its entry is ``note_attachment`` (staff-only) and ``updated_at`` stays.
    """
    (upload,) = attachments.check([file])
    ticket = locked(actor=actor, ticket_id=ticket_id)
    if not (actor.is_staff or actor.is_client):
        raise forbidden(_("Your role cannot attach files."))
    comment = None
    if comment_id is not None:
        comments = Comment.objects.filter(ticket=ticket)
        if not actor.is_staff:
            comments = comments.filter(internal=False)
        comment = comments.filter(pk=comment_id).first()
        if comment is None:
            raise field_error("comment_id", _("This ticket has no comment with this id."))
        if actor.is_client and comment.author_id != actor.id:
            raise forbidden(_("You can only attach files to your own comments."))
    internal = comment is not None and comment.internal
    now = timezone.now()
    (attachment,) = _attachment_rows(
        ticket=ticket, comment=comment, actor=actor, uploads=[upload], at=now
    )
    field = NOTE_ATTACHMENT_FIELD if internal else ATTACHMENT_FIELD
    _history(ticket, actor, field=field, old=None, new=upload.filename, at=now).save()
    if not internal:
        ticket.updated_at = now
        ticket.version += 1
        ticket.save(update_fields=["updated_at", "version"])
    _store([attachment], [upload])
    return attachment


# --- categories and SLA targets (admins) ----------------------------------------------


@transaction.atomic
def category_create(
    *, slug: str, name: str, description: str = "", is_active: bool = True
) -> Category:
    if Category.objects.filter(slug=slug).exists():
        raise field_error("slug", _("A category with this slug already exists."))
    return Category.objects.create(
        slug=slug, name=name, description=description, is_active=is_active
    )


@transaction.atomic
def category_update(*, category: Category, changes: dict[str, Any]) -> Category:
    allowed = {"name", "description", "is_active"}
    fields = [field for field in changes if field in allowed]
    for field in fields:
        setattr(category, field, changes[field])
    if fields:
        category.save(update_fields=fields)
    return category


@transaction.atomic
def category_delete(*, category: Category) -> None:
    """Delete an unused category; one in use can only be deactivated (history names it)."""
    try:
        category.delete()
    except ProtectedError as exc:
        raise ConflictError(
            _("This category is used by tickets; deactivate it instead of deleting it."),
            extra={"code": "category_in_use"},
        ) from exc


@transaction.atomic
def sla_target_set(*, priority: int, first_response_hours: int, resolution_hours: int) -> SlaTarget:
    """Set one priority's desk targets (business hours); the open tickets that count in
    them (no team target of their own for it) get new due times."""
    if resolution_hours < first_response_hours:
        raise field_error(
            "resolution_hours",
            _("Resolution cannot be due before the first response."),
        )
    target, _created = SlaTarget.objects.update_or_create(
        priority=priority,
        team=None,
        defaults={
            "first_response_hours": first_response_hours,
            "resolution_hours": resolution_hours,
        },
    )
    overridden = SlaTarget.objects.filter(team__isnull=False, priority=priority).values("team")
    sla.recompute_open(Ticket.objects.filter(priority=priority).exclude(team__in=overridden))
    return target


# --- the user directory ---------------------------------------------------------------


@transaction.atomic
def directory_user_upsert(
    *,
    user_id: str,
    username: str,
    full_name: str,
    email: str,
    role: str,
    is_active: bool,
    email_verified: bool = False,
) -> DirectoryUser:
    """Record what accounts says of a user (called by the ``user.*`` event handlers)."""
    user, _created = DirectoryUser.objects.update_or_create(
        pk=user_id,
        defaults={
            "username": username,
            "full_name": full_name,
            "email": email,
            "email_verified": email_verified,
            "role": role,
            "is_active": is_active,
        },
    )
    return user


# --- availability ---------------------------------------------------------------------


@transaction.atomic
def assignee_set_available(*, actor: Actor, available: bool) -> DirectoryUser:
    """A technician or admin turns their automatic assignment on or off."""
    if not actor.is_staff:
        raise forbidden(_("Only technicians and admins take assigned tickets."))
    user = DirectoryUser.objects.select_for_update().filter(pk=actor.id).first()
    if user is None:
        raise ConflictError(
            _("Your account is not in the directory yet; try again in a moment."),
            extra={"code": "not_in_directory"},
        )
    if user.available != available:
        user.available = available
        user.save(update_fields=["available", "updated_at"])
    return user
