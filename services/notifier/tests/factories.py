"""factory_boy factories: the notifier's rows, and the event payloads other services send."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from itertools import count
from typing import Any

import factory
from notifications.models import Contact, Delivery, Notification

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import (
    AttachmentSnapshot,
    CommentSnapshot,
    EventData,
    TicketSnapshot,
    UserCard,
    UserRegistered,
)

_sequence = count(1)


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    user_id = factory.Sequence(lambda n: str(1000 + n))
    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Faker("name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    phone = factory.Sequence(lambda n: f"+3460000{n:04d}")
    role = "client"
    language = "es"
    notify_email = True
    notify_sms = True
    is_active = True
    # The people of the tests proved their address and number; tests of the unproven
    # ones say so.
    email_verified = True
    phone_verified = True
    sequence = 1


class NotificationFactory(factory.django.DjangoModelFactory[Notification]):
    class Meta:
        model = Notification

    recipient_id = "1"
    event_id = factory.LazyFunction(uuid.uuid4)
    event_type = "ticket.status_changed"
    ticket_id = factory.Sequence(str)
    title = factory.Sequence(lambda n: f"SD-{n} is now Resolved")
    body = "The status changed."


class DeliveryFactory(factory.django.DjangoModelFactory[Delivery]):
    class Meta:
        model = Delivery

    event_id = factory.LazyFunction(uuid.uuid4)
    event_type = "ticket.status_changed"
    channel = "email"
    recipient_id = "1"
    kind = "status_changed"
    ticket_id = "7"
    context = factory.LazyAttribute(
        lambda o: {
            "kind": o.kind,
            "ticket": {
                "id": o.ticket_id,
                "number": "SD-1007",
                "title": "Printer out of toner",
                "status": "resolved",
                "priority": "medium",
            },
            "from_status": "in_progress",
            "to_status": "resolved",
        }
    )


class TicketSnapshotFactory(factory.Factory[TicketSnapshot]):
    class Meta:
        model = TicketSnapshot

    id = factory.Sequence(lambda n: 500 + n)
    number = factory.LazyAttribute(lambda o: f"SD-{1000 + o.id}")
    title = "Printer out of toner"
    description = "The second floor printer says toner is empty."
    status = "pending"
    priority = "medium"
    category = "hardware"
    client_id = 1
    assignee_id = None
    created_at = factory.LazyFunction(lambda: datetime.now(tz=UTC))
    updated_at = factory.LazyFunction(lambda: datetime.now(tz=UTC))


class CommentSnapshotFactory(factory.Factory[CommentSnapshot]):
    class Meta:
        model = CommentSnapshot

    id = factory.Sequence(lambda n: 900 + n)
    author_id = 1
    body = "Any news on this? We need it for the report."
    internal = False
    created_at = factory.LazyFunction(lambda: datetime.now(tz=UTC))


class AttachmentSnapshotFactory(factory.Factory[AttachmentSnapshot]):
    class Meta:
        model = AttachmentSnapshot

    id = factory.Sequence(lambda n: 300 + n)
    filename = factory.Sequence(lambda n: f"captura-{n}.png")
    size = 48_213
    content_type = "image/png"
    comment_id = None
    download_path = factory.LazyAttribute(lambda o: f"/api/tickets/42/attachments/{o.id}/download/")


def user_card(user_id: int, *, cls: type[UserCard] = UserRegistered, **overrides: Any) -> UserCard:
    values: dict[str, Any] = {
        "id": user_id,
        "username": f"user{user_id}",
        "full_name": f"User {user_id}",
        "email": f"user{user_id}@example.com",
        "phone": f"+3460000{user_id:04d}",
        "role": "client",
        "language": "es",
        "notify_email": True,
        "notify_sms": True,
        "is_active": True,
        "email_verified": True,
        "phone_verified": True,
    }
    values.update(overrides)
    return cls(**values)


def producer_of(data: EventData) -> str:
    """The one service that may publish ``data`` (the consumer refuses it from another)."""
    return data.producer


def as_event(data: EventData, *, sequence: int | None = None) -> Event[Any]:
    """``data`` the way the consumer hands it over: built, sent as JSON, parsed, decoded."""
    producer = producer_of(data)
    built = envelopes.build(data, producer=producer, sequence=sequence or next(_sequence))
    return envelopes.decode(envelopes.parse_envelope(built))


def envelope_of(data: EventData, *, sequence: int | None = None) -> dict[str, Any]:
    producer = producer_of(data)
    return envelopes.build(data, producer=producer, sequence=sequence or next(_sequence))
