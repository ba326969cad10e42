"""Publishing: the outbox receivers of the workflow's signals (``tickets.signals``).

Each receiver writes one event to the outbox (``servidesk_shared.events.publisher``) in
the transaction of the change, so the event exists if and only if the change committed.
The aggregate is the ticket (``aggregate_id`` = ticket id) and the outbox gives each of
its events the next per-ticket ``sequence``; the ticket row is locked by the change
first, so sequences follow commit order.

Payloads carry the ticket as the API shows it to staff, the change and ``actor_id``.
Internal notes are published too (``comment.internal = true``) so staff can be told
about them; every consumer must keep them from clients (notifier and reports do).
``ticket.created`` and ``ticket.commented`` list the files sent with them: metadata and
the API path to download each (which needs the reader's sign-in), never the content.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.urls import reverse

from servidesk_shared.events import schemas
from servidesk_shared.events.publisher import publish
from tickets import tags
from tickets.actors import Actor
from tickets.models import Attachment, Comment, Team, Ticket
from tickets.user_ids import render_user_id


def _id(value: str | None) -> int | str | None:
    return render_user_id(value)


def ticket_snapshot(ticket: Ticket) -> schemas.TicketSnapshot:
    return schemas.TicketSnapshot(
        id=ticket.pk,
        number=ticket.reference,
        title=ticket.title,
        description=ticket.description,
        status=ticket.status,  # type: ignore[arg-type]
        priority=ticket.priority_key,  # type: ignore[arg-type]
        # The schema's category is a string: "" is "no category".
        category=ticket.category_slug or "",
        client_id=_id(ticket.client_id),  # type: ignore[arg-type]
        assignee_id=_id(ticket.assignee_id),
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        first_response_due=ticket.first_response_due,
        resolution_due=ticket.resolution_due,
        team_id=ticket.team_id,
        tags=tuple(tags.tag_names(ticket)),
        closed_at=ticket.closed_at,
        merged_into_id=ticket.merged_into_id,
        waiting_since=ticket.waiting_since,
        follow_up_of_id=ticket.follow_up_of_id,
        rating=ticket.rating,  # type: ignore[arg-type]
    )


def comment_snapshot(comment: Comment) -> schemas.CommentSnapshot:
    return schemas.CommentSnapshot(
        id=comment.pk,
        author_id=_id(comment.author_id),  # type: ignore[arg-type]
        body=comment.body,
        internal=comment.internal,
        created_at=comment.created_at,
    )


def attachment_snapshot(attachment: Attachment) -> schemas.AttachmentSnapshot:
    return schemas.AttachmentSnapshot(
        id=attachment.pk,
        filename=attachment.filename,
        size=attachment.size,
        content_type=attachment.content_type,
        comment_id=attachment.comment_id,
        download_path=download_path(attachment),
    )


def download_path(attachment: Attachment) -> str:
    """``/api/tickets/<id>/attachments/<attachment id>/download/``, from the routes."""
    return reverse(
        "attachment-download",
        kwargs={"pk": attachment.ticket_id, "attachment_id": attachment.pk},
    )


def on_created(
    sender: Any,
    *,
    ticket: Ticket,
    actor: Actor,
    attachments: Sequence[Attachment] = (),
    **kwargs: Any,
) -> None:
    publish(
        schemas.TicketCreated(
            ticket=ticket_snapshot(ticket),
            actor_id=_id(actor.id),
            attachments=tuple(attachment_snapshot(item) for item in attachments),
        ),
        occurred_at=ticket.created_at,
    )


def on_status_changed(
    sender: Any,
    *,
    ticket: Ticket,
    actor: Actor,
    from_status: str,
    to_status: str,
    rating_token: str | None = None,
    reply_comment_id: int | None = None,
    **kwargs: Any,
) -> None:
    publish(
        schemas.TicketStatusChanged(
            ticket=ticket_snapshot(ticket),
            actor_id=_id(actor.id),
            from_status=from_status,  # type: ignore[arg-type]
            to_status=to_status,  # type: ignore[arg-type]
            rating_token=rating_token,
            reply_comment_id=reply_comment_id,
        ),
        occurred_at=ticket.updated_at,
    )


def on_sla_alert(
    sender: Any,
    *,
    ticket: Ticket,
    kind: str,
    clock: str,
    due_at: datetime,
    cycle: int,
    escalation: tuple[str, ...] = (),
    **kwargs: Any,
) -> None:
    snapshot = ticket_snapshot(ticket)
    data: schemas.TicketEvent
    if kind == "warning":
        data = schemas.TicketSlaWarning(
            ticket=snapshot,
            actor_id=None,
            clock=clock,  # type: ignore[arg-type]
            due_at=due_at,
            cycle=cycle,
        )
    else:
        data = schemas.TicketSlaBreached(
            ticket=snapshot,
            actor_id=None,
            clock=clock,  # type: ignore[arg-type]
            due_at=due_at,
            cycle=cycle,
            escalation=escalation,
        )
    publish(data)


def on_closed(sender: Any, *, ticket: Ticket, from_status: str, **kwargs: Any) -> None:
    publish(
        schemas.TicketClosed(
            ticket=ticket_snapshot(ticket),
            actor_id=None,
            from_status=from_status,  # type: ignore[arg-type]
        ),
        occurred_at=ticket.closed_at,
    )


def on_rated(
    sender: Any,
    *,
    ticket: Ticket,
    actor: Actor | None,
    previous_rating: str | None,
    **kwargs: Any,
) -> None:
    if ticket.rating is None or ticket.rated_at is None:
        raise ValueError("ticket_rated sent for a ticket without a rating")
    publish(
        schemas.TicketRated(
            ticket=ticket_snapshot(ticket),
            # The link needs no sign-in: whoever holds it answers for the client.
            actor_id=_id(actor.id) if actor else _id(ticket.client_id),
            rating=ticket.rating,  # type: ignore[arg-type]
            comment=ticket.rating_comment,
            previous_rating=previous_rating,  # type: ignore[arg-type]
            rated_at=ticket.rated_at,
        ),
        occurred_at=ticket.rated_at,
    )


def on_assigned(
    sender: Any,
    *,
    ticket: Ticket,
    actor: Actor | None,
    from_assignee: str | None,
    to_assignee: str | None,
    **kwargs: Any,
) -> None:
    publish(
        schemas.TicketAssigned(
            ticket=ticket_snapshot(ticket),
            # None: the team's assignment rule chose (tickets.teams.choose_assignee).
            actor_id=_id(actor.id) if actor else None,
            from_assignee=_id(from_assignee),
            to_assignee=_id(to_assignee),
        ),
        occurred_at=ticket.updated_at,
    )


def on_commented(
    sender: Any,
    *,
    ticket: Ticket,
    actor: Actor,
    comment: Comment,
    attachments: Sequence[Attachment] = (),
    **kwargs: Any,
) -> None:
    publish(
        schemas.TicketCommented(
            ticket=ticket_snapshot(ticket),
            actor_id=_id(actor.id),
            comment=comment_snapshot(comment),
            attachments=tuple(attachment_snapshot(item) for item in attachments),
        ),
        occurred_at=comment.created_at,
    )


def on_updated(
    sender: Any,
    *,
    ticket: Ticket,
    actor: Actor | None,
    changes: dict[str, tuple[Any, Any]],
    **kwargs: Any,
) -> None:
    publish(
        schemas.TicketUpdated(
            ticket=ticket_snapshot(ticket),
            # None: the SLA's escalation rule (tickets.sla_watch).
            actor_id=_id(actor.id) if actor else None,
            changes={
                field: schemas.FieldChange(before=before, after=after)
                for field, (before, after) in changes.items()
            },
        ),
        occurred_at=ticket.updated_at,
    )


def on_merged(sender: Any, *, ticket: Ticket, actor: Actor, into: Ticket, **kwargs: Any) -> None:
    publish(
        schemas.TicketMerged(
            ticket=ticket_snapshot(ticket), actor_id=_id(actor.id), into=ticket_snapshot(into)
        ),
        occurred_at=ticket.updated_at,
    )


TEAM_EVENTS: dict[str, type[schemas.TeamCard]] = {
    "created": schemas.TeamCreated,
    "updated": schemas.TeamUpdated,
    "deleted": schemas.TeamDeleted,
}


def on_team_changed(sender: Any, *, team: Team, change: str, **kwargs: Any) -> None:
    from tickets import teams  # noqa: PLC0415 (teams sends the signal this receives)

    publish(
        TEAM_EVENTS[change](
            id=team.pk,
            name=team.name,
            member_ids=tuple(_id(user_id) for user_id in teams.member_ids(team)),  # type: ignore[misc]
            lead_id=_id(team.lead_id),
            assignment=team.assignment,  # type: ignore[arg-type]
            category_slugs=tuple(teams.category_slugs(team)),
        ),
        # A deletion happens now; the publisher's clock says when.
        occurred_at=None if change == "deleted" else team.updated_at,
    )


def connect() -> None:
    """Called once from ``TicketsConfig.ready``."""
    from tickets import signals  # noqa: PLC0415

    signals.ticket_created.connect(on_created, sender=Ticket, dispatch_uid="outbox-created")
    signals.ticket_status_changed.connect(
        on_status_changed, sender=Ticket, dispatch_uid="outbox-status"
    )
    signals.ticket_assigned.connect(on_assigned, sender=Ticket, dispatch_uid="outbox-assigned")
    signals.ticket_commented.connect(on_commented, sender=Ticket, dispatch_uid="outbox-commented")
    signals.ticket_updated.connect(on_updated, sender=Ticket, dispatch_uid="outbox-updated")
    signals.ticket_merged.connect(on_merged, sender=Ticket, dispatch_uid="outbox-merged")
    signals.ticket_sla_alert.connect(on_sla_alert, sender=Ticket, dispatch_uid="outbox-sla")
    signals.ticket_closed.connect(on_closed, sender=Ticket, dispatch_uid="outbox-closed")
    signals.ticket_rated.connect(on_rated, sender=Ticket, dispatch_uid="outbox-rated")
    signals.team_changed.connect(on_team_changed, sender=Team, dispatch_uid="outbox-team")
