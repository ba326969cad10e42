"""Event payloads for tests, valid unless told otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from servidesk_shared.events import schemas

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def ticket(**overrides: Any) -> schemas.TicketSnapshot:
    fields: dict[str, Any] = {
        "id": 1,
        "number": "SD-1001",
        "title": "Printer on fire",
        "description": "It is on fire.",
        "status": "pending",
        "priority": "high",
        "category": "hardware",
        "client_id": 7,
        "assignee_id": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(overrides)
    return schemas.TicketSnapshot(**fields)


def ticket_created(*, actor_id: int = 7, **ticket_fields: Any) -> schemas.TicketCreated:
    return schemas.TicketCreated(ticket=ticket(**ticket_fields), actor_id=actor_id)


def status_changed(
    from_status: str, to_status: str, *, actor_id: int = 9, **ticket_fields: Any
) -> schemas.TicketStatusChanged:
    return schemas.TicketStatusChanged(
        ticket=ticket(status=to_status, **ticket_fields),
        actor_id=actor_id,
        from_status=from_status,  # type: ignore[arg-type]
        to_status=to_status,  # type: ignore[arg-type]
    )


def user_card(cls: type[schemas.UserCard] = schemas.UserRegistered, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "id": 7,
        "username": "ana",
        "full_name": "Ana Pérez",
        "email": "ana@example.com",
        "phone": "+34600111222",
        "role": "client",
        "language": "es",
        "notify_email": True,
        "notify_sms": False,
        "is_active": True,
    }
    fields.update(overrides)
    return cls(**fields)
