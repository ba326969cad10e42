"""Reads of the live feed: which rows a signed-in person may be sent.

One rule, in two forms that must agree (``tests/test_live_feed.py`` checks both against
the same table): ``visible`` for a row in memory (the stream's live path) and
``visible_rows`` for the database (the replay after ``Last-Event-ID``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from portal.live.services import typing_seconds
from portal.models import LiveEvent, LiveKind

#: Most rows one replay sends; a browser further behind reloads the page.
REPLAY_LIMIT = 500


@dataclass(frozen=True)
class Audience:
    """Who a stream is for, and what it follows: notifications always; one ticket's
    changes (and who is replying to it) when the page shows that ticket."""

    user_id: str
    staff: bool
    ticket_id: str = ""


def visible(row: LiveEvent, audience: Audience) -> bool:
    if row.kind == LiveKind.NOTIFICATION:
        return row.recipient_id == audience.user_id
    if not audience.ticket_id or row.ticket_id != audience.ticket_id:
        return False
    if row.kind == LiveKind.TYPING:
        return audience.staff and row.data.get("user_id") != audience.user_id
    if audience.staff:
        return True
    return row.client_id == audience.user_id and not row.internal


def visible_rows(audience: Audience, *, after: int, up_to: int | None = None) -> list[LiveEvent]:
    """The rows after id ``after`` (and up to ``up_to``) that ``audience`` may see, in
    order; typing rows only while they are fresh."""
    mine = Q(kind=LiveKind.NOTIFICATION, recipient_id=audience.user_id)
    if audience.ticket_id:
        on_ticket = Q(ticket_id=audience.ticket_id)
        if audience.staff:
            fresh = timezone.now() - timedelta(seconds=typing_seconds())
            mine |= on_ticket & Q(kind=LiveKind.TICKET)
            mine |= (
                on_ticket
                & Q(kind=LiveKind.TYPING, created_at__gte=fresh)
                & ~Q(data__user_id=audience.user_id)
            )
        else:
            mine |= on_ticket & Q(kind=LiveKind.TICKET, client_id=audience.user_id, internal=False)
    rows: QuerySet[LiveEvent] = LiveEvent.objects.filter(mine, id__gt=after)
    if up_to is not None:
        rows = rows.filter(id__lte=up_to)
    return list(rows.order_by("id")[:REPLAY_LIMIT])


def newest_id() -> int:
    """The id a page rendered now starts its stream after (0 when there is none)."""
    return int(LiveEvent.objects.aggregate(newest=Max("id"))["newest"] or 0)


def live_since() -> int:
    """``newest_id``, or 0 when web's database cannot say (the page still renders; its
    stream then starts from the hub's position)."""
    try:
        return newest_id()
    except DatabaseError:
        return 0


def rows_after(after: int, *, limit: int = 1000) -> list[LiveEvent]:
    """Every row after ``after``, in order (the stream hub's read, for every audience)."""
    return list(LiveEvent.objects.filter(id__gt=after).order_by("id")[:limit])
