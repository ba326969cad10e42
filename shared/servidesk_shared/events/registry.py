"""Which function handles which event type in a service.

A service builds one registry and names it in ``SERVIDESK_EVENT_HANDLERS``:

    # notifications/handlers.py
    from servidesk_shared.events.registry import HandlerRegistry

    handlers = HandlerRegistry()

    @handlers.on("ticket.created", "ticket.commented")
    def notify(event: Event[TicketEvent]) -> None: ...

    # core/settings/base.py
    SERVIDESK_EVENT_QUEUE = "notifier.events"
    SERVIDESK_EVENT_HANDLERS = "notifications.handlers.handlers"

A handler runs inside the transaction that records the event id, so it must only touch
the database of its service (or defer other work with ``transaction.on_commit``). Raising
rolls the whole attempt back; it is retried, then dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.utils.module_loading import import_string

from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import EVENT_TYPES

Handler = Callable[[Event[Any]], None]


class HandlerRegistry:
    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self._handlers: dict[str, Handler] = {}
        for event_type, handler in (handlers or {}).items():
            self.register(event_type, handler)

    def register(self, event_type: str, handler: Handler) -> None:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}; known: {sorted(EVENT_TYPES)}")
        if event_type in self._handlers:
            raise ValueError(f"{event_type} already has a handler")
        self._handlers[event_type] = handler

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        """Decorator: ``@handlers.on("user.registered", "user.updated")``."""

        def decorate(handler: Handler) -> Handler:
            for event_type in event_types:
                self.register(event_type, handler)
            return handler

        return decorate

    def get(self, event_type: str) -> Handler | None:
        return self._handlers.get(event_type)

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._handlers

    def __len__(self) -> int:
        return len(self._handlers)


def load_registry(dotted_path: str) -> HandlerRegistry:
    """The registry at ``dotted_path`` (a ``HandlerRegistry`` or a ``{type: handler}``)."""
    if not dotted_path:
        raise ValueError("SERVIDESK_EVENT_HANDLERS is not set")
    found = import_string(dotted_path)
    if isinstance(found, HandlerRegistry):
        return found
    if isinstance(found, Mapping):
        return HandlerRegistry(found)
    raise TypeError(f"{dotted_path} is neither a HandlerRegistry nor a mapping")
