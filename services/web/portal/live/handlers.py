"""The wiring between the event bus and the live feed (``SERVIDESK_EVENT_HANDLERS``).

``manage.py consume_events`` (the web-live process) reads ``web.live`` (``ticket.#``,
``notification.#``) and runs these inside the transaction that records the event id in
web's inbox, so a redelivered event adds no second row.
"""

from __future__ import annotations

from typing import Any

from portal.live import services
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.registry import HandlerRegistry
from servidesk_shared.events.schemas import EVENT_TYPES


def record(event: Event[Any]) -> None:
    services.event_record(event_type=event.type, data=event.data)


handlers = HandlerRegistry(
    {
        event_type: record
        for event_type in sorted(EVENT_TYPES)
        if event_type.startswith("ticket.") or event_type == "notification.created"
    }
)
