"""The user events accounts publishes: all the wiring to the event bus lives here.

Each function writes one event to the outbox (``servidesk_shared.events.publisher``) in
the caller's transaction, so the event commits or rolls back with the change and the
relay delivers it later. The payload of user events is the contact card of
ARCHITECTURE.md "Events" (with ``email_verified`` and ``phone_verified``); a phone
verification code travels only as ``verification.phone_code``, for notifier to text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servidesk_shared.events.publisher import publish
from servidesk_shared.events.schemas import (
    PhoneCodeRequested,
    UserCard,
    UserDeactivated,
    UserRegistered,
    UserUpdated,
)
from users.models import User

#: The fields of a user card, as the event contract defines them.
CARD_FIELDS = UserCard.__struct_fields__


def card(user: User) -> dict[str, Any]:
    """The contact card every user event carries (and what a change is measured on)."""
    return {field: getattr(user, field) for field in CARD_FIELDS}


def user_registered(user: User) -> None:
    publish(UserRegistered(**card(user)))


def user_updated(user: User) -> None:
    publish(UserUpdated(**card(user)))


def user_deactivated(user: User) -> None:
    publish(UserDeactivated(**card(user)))


def user_changed(user: User, *, before: dict[str, Any]) -> None:
    """Publish what a change to ``user`` means for the other services, if anything.

    Deactivation is ``user.deactivated``; any other change to the card (reactivation
    included) is ``user.updated``; a change outside the card publishes nothing.
    """
    after = card(user)
    if after == before:
        return
    if before["is_active"] and not after["is_active"]:
        user_deactivated(user)
    else:
        user_updated(user)


def phone_code_requested(user: User, *, code: str, expires_at: datetime) -> None:
    """The code for ``user.phone``: notifier texts it (the only SMS to an unverified number)."""
    publish(
        PhoneCodeRequested(
            user_id=user.pk,
            phone=user.phone,
            code=code,
            language=user.language,
            expires_at=expires_at,
        )
    )
