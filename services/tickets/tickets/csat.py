"""Satisfaction: the client's one-click answer to "How did we do?" after a resolution.

A move to ``resolved`` mints a link token (``token_for``) that ``ticket.status_changed``
carries to notifier, which mails it to the client. The token is Django's signer over the
ticket id, the clock cycle and an expiry ``CSAT_LINK_DAYS`` on (salt ``SALT``): it needs
no sign-in, cannot be forged or moved to another ticket, and answers may change until
it expires. The ticket keeps the latest answer (``rating``, ``rating_comment``,
``rated_at``); ``ticket.rated`` tells each change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status as http

from servidesk_shared.errors import ApplicationError
from tickets import signals
from tickets.actors import Actor
from tickets.models import HistoryEntry, Rating, Ticket

SALT: Final = "servidesk.csat"
COMMENT_MAX_LENGTH: Final = 2_000


class LinkNotFoundError(ApplicationError):
    status_code = http.HTTP_404_NOT_FOUND


class LinkExpiredError(ApplicationError):
    status_code = http.HTTP_410_GONE


@dataclass(frozen=True)
class Link:
    ticket_id: int
    cycle: int
    expires_at: datetime


def token_for(ticket: Ticket, *, now: datetime | None = None) -> str:
    """A new rating link for ``ticket``'s current cycle, valid ``CSAT_LINK_DAYS``."""
    expires = (now or timezone.now()) + timedelta(days=settings.CSAT_LINK_DAYS)
    payload = {"t": ticket.pk, "c": ticket.sla_cycle, "x": int(expires.timestamp())}
    return signing.Signer(salt=SALT).sign_object(payload)


def read(token: str, *, now: datetime | None = None) -> Link:
    """The link ``token`` stands for: 404 when forged or unknown, 410 once expired."""
    try:
        payload: Any = signing.Signer(salt=SALT).unsign_object(token)
        link = Link(
            ticket_id=int(payload["t"]),
            cycle=int(payload["c"]),
            expires_at=datetime.fromtimestamp(int(payload["x"]), tz=UTC),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError, OSError):
        raise LinkNotFoundError(
            _("This rating link is not valid. Use the link of the mail as it came."),
            extra={"code": "invalid_link"},
        ) from None
    if (now or timezone.now()) >= link.expires_at:
        raise LinkExpiredError(
            _("This rating link expired: answers are taken for %(days)s days.")
            % {"days": settings.CSAT_LINK_DAYS},
            extra={"code": "expired"},
        )
    return link


def ticket_of(link: Link, *, for_update: bool = False) -> Ticket:
    queryset = Ticket.objects.select_for_update() if for_update else Ticket.objects
    ticket = queryset.filter(pk=link.ticket_id).first()
    if ticket is None:
        raise LinkNotFoundError(
            _("This rating link is not valid. Use the link of the mail as it came."),
            extra={"code": "invalid_link"},
        )
    return ticket


@transaction.atomic
def rate(*, token: str, rating: str, comment: str = "", actor: Actor | None = None) -> Ticket:
    """Record the client's answer through the link; ``ticket.rated`` when it changed.

    ``actor`` is who is signed in, if anyone: only the ticket's client counts as such;
    the link stands for the client either way.
    """
    link = read(token)
    if rating not in Rating.values:
        raise ApplicationError(
            _("The data sent is not valid."),
            extra={"fields": {"rating": [_("Answer good or bad.")]}},
        )
    ticket = ticket_of(link, for_update=True)
    if rating == ticket.rating and comment == ticket.rating_comment:
        return ticket
    previous = ticket.rating
    now = timezone.now()
    ticket.rating, ticket.rating_comment, ticket.rated_at = rating, comment, now
    ticket.version += 1
    ticket.save(update_fields=["rating", "rating_comment", "rated_at", "version"])
    client = actor if actor is not None and actor.id == ticket.client_id else None
    HistoryEntry.objects.create(
        ticket=ticket,
        actor_id=ticket.client_id,
        field="rating",
        from_value=previous,
        to_value=rating,
        at=now,
    )
    signals.ticket_rated.send(sender=Ticket, ticket=ticket, actor=client, previous_rating=previous)
    return ticket
