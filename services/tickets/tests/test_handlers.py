"""The user directory, kept from ``user.*`` events through the idempotent consumer."""

from __future__ import annotations

from typing import Any

import pytest
from tickets.handlers import handlers
from tickets.models import DirectoryUser

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.schemas import UserDeactivated, UserRegistered, UserUpdated

pytestmark = pytest.mark.django_db


def card(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": 42,
        "username": "tere",
        "full_name": "Teresa Ruiz",
        "email": "tere@example.com",
        "phone": "+34600111222",
        "role": "technician",
        "language": "es",
        "notify_email": True,
        "notify_sms": False,
        "is_active": True,
    }
    values.update(overrides)
    return values


def deliver(schema: Any, sequence: int, **overrides: Any) -> None:
    """What ``consume_events`` does with one message: parse, validate, run the handler."""
    raw = envelopes.build(schema(**card(**overrides)), producer="accounts", sequence=sequence)
    event = envelopes.decode(envelopes.parse_envelope(raw))
    handler = handlers.get(event.type)
    assert handler is not None
    handler(event)


def test_the_registry_covers_every_user_event() -> None:
    for event_type in ("user.registered", "user.updated", "user.deactivated"):
        assert event_type in handlers
    assert "ticket.created" not in handlers


def test_registration_update_and_deactivation() -> None:
    deliver(UserRegistered, 1)
    user = DirectoryUser.objects.get(pk="42")
    assert (user.username, user.display_name, user.role, user.is_active) == (
        "tere",
        "Teresa Ruiz",
        "technician",
        True,
    )
    deliver(UserUpdated, 2, full_name="Teresa Ruiz Gil", role="admin")
    user.refresh_from_db()
    assert (user.full_name, user.role) == ("Teresa Ruiz Gil", "admin")
    deliver(UserDeactivated, 3, is_active=False)
    user.refresh_from_db()
    assert user.is_active is False


def test_an_older_card_never_overwrites_a_newer_one() -> None:
    deliver(UserUpdated, 5, full_name="Newest")
    deliver(UserUpdated, 4, full_name="Older")
    deliver(UserRegistered, 1, full_name="Oldest")
    assert DirectoryUser.objects.get(pk="42").full_name == "Newest"


def test_a_redelivered_event_changes_nothing() -> None:
    deliver(UserRegistered, 1)
    deliver(UserRegistered, 1, full_name="Replayed")
    assert DirectoryUser.objects.get(pk="42").full_name == "Teresa Ruiz"


def test_string_ids_are_kept_as_they_come() -> None:
    deliver(UserRegistered, 1, id="u-7f3a")
    assert DirectoryUser.objects.filter(pk="u-7f3a").exists()


@pytest.mark.parametrize("settings_name", ["SERVIDESK_EVENT_QUEUE", "SERVIDESK_EVENT_HANDLERS"])
def test_the_consumer_is_configured(settings: Any, settings_name: str) -> None:
    from servidesk_shared.events.registry import load_registry  # noqa: PLC0415

    assert getattr(settings, settings_name)
    assert load_registry(settings.SERVIDESK_EVENT_HANDLERS) is handlers
    assert settings.SERVIDESK_EVENT_QUEUE == "tickets.users"
