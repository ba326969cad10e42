"""Consuming (``SERVIDESK_EVENT_HANDLERS``): the invitations tickets asks for.

``manage.py consume_events`` reads the ``accounts.invites`` queue and calls these inside
the transaction that records the event id (inbox), so each event applies once; the
invitation mail goes out after that transaction commits.
"""

from __future__ import annotations

from servidesk_shared.events.envelope import Event
from servidesk_shared.events.registry import HandlerRegistry
from servidesk_shared.events.schemas import UserInviteRequested
from users import services

handlers = HandlerRegistry()


@handlers.on("user.invite_requested")
def invite_unknown_sender(event: Event[UserInviteRequested]) -> None:
    services.user_invite(email=event.data.email, name=event.data.name, language=event.data.language)
