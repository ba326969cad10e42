"""The wiring between the event bus and the notifier (``SERVIDESK_EVENT_HANDLERS``).

``manage.py consume_events`` reads ``notifier.events`` and runs these inside the
transaction that records the event id in the inbox; they only write this database.

The queue's bindings (``user.#``, ``mail.#``) also bring types with no handler here, such
as ``user.invite_requested`` (accounts' to act on): the consumer acks and drops those.
Every other type the queue is bound to has one (``tests/test_handlers.py`` checks it):
``team.*`` only keep the team directory; ``ticket.updated`` and ``ticket.merged`` are
notifications like the other ticket events (``rules`` says who hears of what), and so are
issue 19's ``ticket.sla_warning``, ``ticket.sla_breached``, ``ticket.rated`` and
``ticket.closed`` (which tells nobody: handled, acknowledged, recorded in the inbox).
Each handler also records the event's webhook deliveries (``with_webhooks``).

Ticket events come at version 2, and at version 1 from before it: the registry is by
type, and a version 1 payload decodes into a subclass of the version 2 one (the new
fields at their defaults), so each handler takes both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from notifications import messages, selectors, services, sql
from notifications.webhooks import services as webhooks
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.registry import HandlerRegistry


def keep_contact(event: Event[Any]) -> None:
    services.contact_apply(card=event.data, sequence=event.sequence)


def keep_team(event: Event[Any]) -> None:
    services.team_apply(card=event.data, sequence=event.sequence)


def record_phone_code(event: Event[Any]) -> None:
    services.phone_code_record(event_id=event.id, data=event.data)


def mark_bounced(event: Event[Any]) -> None:
    services.delivery_mark_bounced(
        message_id=event.data.message_id,
        recipient=event.data.recipient,
        reason=event.data.reason,
    )


def record_notifications(event: Event[Any]) -> None:
    services.notifications_record(
        event_id=event.id,
        event_type=event.type,
        data=event.data,
        occurred_at=event.occurred_at,
    )


def tell_report_ready(event: Event[Any]) -> None:
    """``report.export_ready``: one entry in the requester's feed, in their language, with
    the link to web's page of the export (no mail or SMS: they asked for it a moment ago).

    Idempotent: the feed keeps one entry per (event, recipient); a new entry is announced
    (``notification.created``) as every other one is."""
    data = event.data
    user_id = str(data.user_id)
    contact = selectors.contacts_by_id([user_id]).get(user_id)
    if contact is not None and not contact.is_active:
        return
    text = messages.report_ready(
        export_format=data.format,
        download_path=data.download_path,
        expires_at=data.expires_at,
        language=contact.language if contact else None,
    )
    feed = [
        (
            user_id,
            event.id,
            event.type,
            "",  # about no ticket
            text.title[:300],
            text.body,
            event.occurred_at,
        )
    ]
    # The feed's own insert (a redelivered event adds nothing) and notification.created.
    services.notifications_announce(
        feed, sql.NOTIFICATIONS.execute_returning(feed, ("id", "recipient_id"))
    )


def with_webhooks(handler: Callable[[Event[Any]], None]) -> Callable[[Event[Any]], None]:
    """``handler``, then the event's webhook deliveries, in the same transaction."""

    def handle(event: Event[Any]) -> None:
        handler(event)
        webhooks.deliveries_record(event=event)

    handle.__name__ = handler.__name__
    handle.__doc__ = handler.__doc__
    return handle


_handlers: dict[str, Callable[[Event[Any]], None]] = {
    "user.registered": keep_contact,
    "user.updated": keep_contact,
    "user.deactivated": keep_contact,
    "ticket.created": record_notifications,
    "ticket.status_changed": record_notifications,
    "ticket.assigned": record_notifications,
    "ticket.commented": record_notifications,
    "ticket.updated": record_notifications,
    "ticket.merged": record_notifications,
    "ticket.sla_warning": record_notifications,
    "ticket.sla_breached": record_notifications,
    "ticket.rated": record_notifications,
    "ticket.closed": record_notifications,
    "team.created": keep_team,
    "team.updated": keep_team,
    "team.deleted": keep_team,
    "verification.phone_code": record_phone_code,
    "mail.bounced": mark_bounced,
    "report.export_ready": tell_report_ready,
}

#: Every type but ``verification.phone_code`` (a secret code) also goes to the webhooks
#: that subscribed to it (``notifications.webhooks``).
handlers = HandlerRegistry(
    {
        event_type: handler if event_type == "verification.phone_code" else with_webhooks(handler)
        for event_type, handler in _handlers.items()
    }
)
