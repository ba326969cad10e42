"""The user directory a service keeps from accounts' events, as the directory-auth tests
of every service drive it: one user's card applied as ``consume_events`` applies it."""

from __future__ import annotations

from typing import Any

from servidesk_shared.events.schemas import UserCard
from servidesk_testing import consume

#: What a still-valid token of a deactivated user gets, from any service (401).
DEACTIVATED = {
    "message": "This account has been deactivated. Ask an administrator to reactivate it.",
    "extra": {"code": "user_inactive"},
}


def apply_user_event(
    schema: type[UserCard], sequence: int, *, registry: Any, queue: str, **card: Any
) -> None:
    """A user event from accounts about Alba, an active admin unless ``card`` says
    otherwise (``id`` included), applied to ``registry`` as ``consume_events`` applies a
    message from ``queue``; fails if it was not applied (a copy)."""
    fields: dict[str, Any] = {
        "id": 7,
        "username": "alba",
        "full_name": "Alba Admin",
        "email": "alba@example.com",
        "phone": "",
        "role": "admin",
        "language": "en",
        "notify_email": True,
        "notify_sms": False,
        "is_active": True,
        **card,
    }
    assert consume(schema(**fields), registry=registry, queue=queue, sequence=sequence)
