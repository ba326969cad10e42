"""Every event type ``notifier.events`` is bound to has a handler (or is left out on purpose)."""

from __future__ import annotations

from notifications.handlers import handlers

from servidesk_shared.events.schemas import EVENT_TYPES
from servidesk_shared.events.topology import SUBSCRIPTIONS

#: Bound to the queue by ``user.#`` but accounts' to act on: the consumer acks and drops it.
NOT_OURS = {"user.invite_requested"}


def bound(event_type: str, pattern: str) -> bool:
    """Whether a topic binding ``pattern`` routes ``event_type`` (types have two words)."""
    if pattern.endswith(".#"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def test_the_handlers_cover_every_event_the_queue_is_bound_to() -> None:
    wanted = {
        event_type
        for event_type in EVENT_TYPES
        if any(bound(event_type, pattern) for pattern in SUBSCRIPTIONS["notifier.events"])
    }
    assert {
        "ticket.created",
        "ticket.updated",
        "ticket.merged",
        "team.created",
        "team.updated",
        "team.deleted",
        "user.registered",
        "verification.phone_code",
        "mail.bounced",
    } <= wanted
    assert sorted(t for t in wanted - NOT_OURS if t not in handlers) == []
    assert not any(t in handlers for t in NOT_OURS)


def test_no_handler_for_a_type_the_queue_never_gets() -> None:
    routed = {
        event_type
        for event_type in EVENT_TYPES
        if any(bound(event_type, pattern) for pattern in SUBSCRIPTIONS["notifier.events"])
    }
    assert sorted(t for t in EVENT_TYPES - routed if t in handlers) == []
