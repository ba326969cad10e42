"""The event bus wiring: which projection function applies which event type.

``consume_events`` (servidesk_shared) reads the queue named in ``SERVIDESK_EVENT_QUEUE``
(``reports.events``), records each event id in the inbox and calls the handler below in
the same transaction. Everything specific to reports lives in ``reports.services``; this
module is the only one that knows the consumer's API.

After each commit that applied an event, the cached reports are made stale
(``report_cache.bump_generation``): the dashboard caches a computed report for a minute.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from reports import report_cache, services
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.registry import HandlerRegistry

TICKET_EVENTS = (
    "ticket.created",
    "ticket.status_changed",
    "ticket.assigned",
    "ticket.commented",
    "ticket.updated",
    "ticket.merged",
    # Issue 19: each carries the ticket's snapshot; see ``services.ticket_apply_event``.
    "ticket.sla_warning",
    "ticket.sla_breached",
    "ticket.rated",
    "ticket.closed",
)
USER_EVENTS = ("user.registered", "user.updated", "user.deactivated")
TEAM_EVENTS = ("team.created", "team.updated", "team.deleted")


def _stale_reports_at_commit() -> None:
    # After the commit: a report computed between a bump and the commit would be cached
    # under the new generation with the old data.
    transaction.on_commit(report_cache.bump_generation, robust=True)


def apply_ticket_event(event: Event[Any]) -> None:
    services.ticket_apply_event(event=event)
    _stale_reports_at_commit()


def apply_user_event(event: Event[Any]) -> None:
    services.person_apply_event(event=event)
    _stale_reports_at_commit()


def apply_team_event(event: Event[Any]) -> None:
    services.team_apply_event(event=event)
    _stale_reports_at_commit()


handlers = HandlerRegistry(
    {
        **dict.fromkeys(TICKET_EVENTS, apply_ticket_event),
        **dict.fromkeys(USER_EVENTS, apply_user_event),
        **dict.fromkeys(TEAM_EVENTS, apply_team_event),
    }
)
