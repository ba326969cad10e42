"""Which event types an endpoint may subscribe to, and the ``data`` it receives.

The types are those notifier's queue brings and handles (``notifications.handlers``), but
``verification.phone_code``: its data is a one-time code, a secret of the user's.

``data`` is the event's ``data`` as published (re-encoded from its schema: an event
published at an older version carries the newer fields at their defaults), with one
exception: ``ticket.status_changed``'s ``rating_token`` is the client's credential (whoever
holds it can rate the ticket), so it is removed (the key is absent).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from servidesk_shared.events.schemas import EVENT_TYPES, EventData

#: Handled by notifier but never sent to an endpoint.
NEVER: Final = frozenset({"verification.phone_code"})
#: Keys removed from an event type's data: credentials of someone else.
STRIPPED: Final[dict[str, frozenset[str]]] = {
    "ticket.status_changed": frozenset({"rating_token"}),
}
ALL: Final = "*"


def subscribable() -> frozenset[str]:
    """The event types an endpoint may name in ``events``."""
    # The handlers import the recording of deliveries, which imports this module.
    from notifications.handlers import handlers  # noqa: PLC0415

    return frozenset(t for t in EVENT_TYPES if t in handlers and t not in NEVER)


def payload(event_type: str, data: EventData) -> dict[str, Any]:
    """The ``data`` an endpoint receives for an event of ``event_type``."""
    built = msgspec.to_builtins(data)
    if not isinstance(built, dict):
        raise TypeError(f"{event_type}: data is not an object")
    for key in STRIPPED.get(event_type, ()):
        built.pop(key, None)
    return built
