"""Consuming: the user directory, kept from accounts' ``user.*`` events.

``manage.py consume_events`` reads the ``tickets.users`` queue and calls these inside the
transaction that records the event id (inbox), so each event applies once. User events
carry the whole contact card, so the newest card wins: ``projection.advance`` drops an
event older than one already applied (out-of-order delivery, replays).

A card that makes an address a confirmed, active user's also applies the mail held for
that address (``inbound.services.held_messages_release``), in the same transaction.
"""

from __future__ import annotations

from typing import Any

from inbound.services import held_messages_release

from servidesk_shared.events import projection
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.registry import HandlerRegistry
from servidesk_shared.events.schemas import UserCard
from tickets import services

handlers = HandlerRegistry()


@handlers.on("user.registered", "user.updated", "user.deactivated")
def keep_directory(event: Event[Any]) -> None:
    card: UserCard = event.data
    if not projection.advance(event):
        return
    user = services.directory_user_upsert(
        user_id=str(card.id),
        username=card.username,
        full_name=card.full_name,
        email=card.email,
        email_verified=card.email_verified,
        role=card.role,
        # A deactivation says so in the card too; the type makes it certain.
        is_active=card.is_active and event.type != "user.deactivated",
    )
    held_messages_release(user=user)
