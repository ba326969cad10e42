"""``notification.created``: one event per new feed entry, in the outbox, in the same
transaction as the entry (web's live stream moves the recipient's bell from it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from notifications import services
from notifications.models import Contact, Notification

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.schemas import NotificationCreated, TicketCommented
from servidesk_shared.outbox.models import OutboxMessage
from tests.factories import CommentSnapshotFactory, TicketSnapshotFactory

pytestmark = pytest.mark.django_db


def client_reply(title: str = "La impresora no imprime") -> TicketCommented:
    ticket = TicketSnapshotFactory(client_id=1, assignee_id=2, status="in_progress", title=title)
    return TicketCommented(
        ticket=ticket,
        actor_id=1,
        comment=CommentSnapshotFactory(author_id=1, body="¿Alguna novedad?", internal=False),
    )


def announced() -> list[NotificationCreated]:
    messages = OutboxMessage.objects.filter(event_type="notification.created").order_by("id")
    found = []
    for message in messages:
        event = envelopes.decode(envelopes.parse_envelope(message.envelope))
        assert event.producer == "notifier"
        assert isinstance(event.data, NotificationCreated)
        assert message.aggregate_id == str(event.data.user_id)
        found.append(event.data)
    return found


def test_each_new_feed_entry_is_announced_with_the_unread_count(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    Notification.objects.create(
        recipient_id="2",
        event_id="00000000-0000-0000-0000-000000000001",
        event_type="ticket.created",
        ticket_id="9",
        title="older",
        body="",
    )
    event = deliver(client_reply())
    entry = Notification.objects.get(event_id=event.id)
    (created,) = announced()
    assert created.user_id == "2" == entry.recipient_id
    assert created.notification_id == entry.pk
    assert created.ticket_id == str(event.data.ticket.id)
    assert created.event_type == "ticket.commented"
    assert created.title == entry.title
    assert created.created_at == entry.created_at
    assert created.unread_count == 2  # the older unread entry and this one


def test_a_redelivered_event_announces_nothing_again(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    event = deliver(client_reply())
    deliver(event.data, event=event)
    assert len(announced()) == 1
    assert Notification.objects.count() == 1


class AbortedError(Exception):
    pass


def test_the_announcement_rolls_back_with_the_entry(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    def reply_then_fail() -> None:
        with transaction.atomic():
            deliver(client_reply())
            assert len(announced()) == 1
            raise AbortedError

    with pytest.raises(AbortedError):
        reply_then_fail()
    assert announced() == []
    assert Notification.objects.count() == 0


def test_the_title_is_the_entry_s_in_the_recipient_s_language(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    event = deliver(client_reply())
    (created,) = announced()
    assert created.title == f"New reply on {event.data.ticket.number}"  # Tom reads English


def test_a_single_feed_entry_is_announced_once(people: dict[str, Contact]) -> None:
    when = timezone.now()
    entry = {
        "recipient_id": "1",
        "event_id": uuid.uuid4(),
        "event_type": "report.export_ready",
        "ticket_id": "",
        "title": "Tu informe está listo",
        "body": "",
        "created_at": when,
    }
    with transaction.atomic():
        assert services.feed_entry_add(**entry) is True
        assert services.feed_entry_add(**entry) is False
    (created,) = announced()
    assert (created.user_id, created.ticket_id, created.unread_count) == ("1", None, 1)
    assert created.created_at == when
