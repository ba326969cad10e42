"""What one event leaves in the database: feed entries and deliveries, queued or skipped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone
from notifications import rules, services
from notifications.channels.email import message_id as email_message_id
from notifications.models import Contact, Delivery, Notification
from notifications.wakeup import NOTIFY_CHANNEL
from pytest_django.fixtures import Settings

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.schemas import (
    TicketCommented,
    TicketCreated,
    TicketStatusChanged,
    UserDeactivated,
    UserUpdated,
)
from tests.factories import (
    CommentSnapshotFactory,
    ContactFactory,
    TicketSnapshotFactory,
    as_event,
    envelope_of,
    user_card,
)

pytestmark = pytest.mark.django_db


def status_changed(actor: int = 2, **ticket: Any) -> TicketStatusChanged:
    return TicketStatusChanged(
        ticket=TicketSnapshotFactory(client_id=1, assignee_id=2, status="in_progress", **ticket),
        actor_id=actor,
        from_status="pending",
        to_status="in_progress",
    )


def rows(**filters: Any) -> list[tuple[str, str, str, str]]:
    return sorted(
        Delivery.objects.filter(**filters).values_list(
            "recipient_id", "channel", "status", "last_error"
        )
    )


def test_a_status_change_queues_email_and_sms_for_the_client(
    people: dict[str, Contact], deliver: Callable[..., Any], settings: Settings
) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    event = deliver(status_changed())
    assert rows() == [("1", "email", "queued", ""), ("1", "sms", "queued", "")]
    notification = Notification.objects.get()
    assert notification.recipient_id == "1"
    assert notification.event_id == event.id
    assert notification.title == f"{event.data.ticket.number} ahora está En progreso"
    assert notification.event_type == "ticket.status_changed"
    assert notification.ticket_id == str(event.data.ticket.id)


def test_without_twilio_credentials_sms_are_skipped_with_the_reason(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    deliver(status_changed())
    (sms,) = Delivery.objects.filter(channel="sms")
    assert sms.status == "skipped"
    assert "Twilio is not configured" in sms.last_error
    assert "TWILIO_ACCOUNT_SID" in sms.last_error


@pytest.mark.parametrize(
    ("contact", "email_reason", "sms_reason"),
    [
        ({"notify_email": False}, "turned email notifications off", None),
        ({"notify_sms": False}, None, "turned SMS notifications off"),
        ({"phone": ""}, None, "no phone number"),
        ({"email": ""}, "no email address", None),
        ({"is_active": False}, "inactive", "inactive"),
        ({"email_verified": False}, "recipient's email address is not confirmed", None),
        ({"phone_verified": False}, None, "recipient's phone number is not verified"),
        ({"phone": "+14155550100"}, None, "SMS to US (+1) are not allowed"),
        ({"phone": "+447700900123"}, None, "the phone number is not a valid one"),
    ],
)
def test_preferences_and_missing_addresses_skip_a_channel(
    contact: dict[str, Any],
    email_reason: str | None,
    sms_reason: str | None,
    deliver: Callable[..., Any],
    settings: Settings,
) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    ContactFactory(user_id="1", **contact)
    deliver(status_changed())
    for channel, reason in (("email", email_reason), ("sms", sms_reason)):
        delivery = Delivery.objects.get(channel=channel)
        if reason is None:
            assert (delivery.status, delivery.last_error) == ("queued", "")
        else:
            assert delivery.status == "skipped"
            assert reason in delivery.last_error


def test_inactive_users_get_no_feed_entry(deliver: Callable[..., Any]) -> None:
    ContactFactory(user_id="1", is_active=False)
    deliver(status_changed())
    assert not Notification.objects.exists()


def test_an_unknown_recipient_is_queued_to_wait_for_the_contact_card(
    deliver: Callable[..., Any],
) -> None:
    deliver(status_changed())
    assert rows() == [("1", "email", "queued", ""), ("1", "sms", "queued", "")]
    # Written in the default language (Spanish) since nothing else is known.
    assert "ahora está" in Notification.objects.get().title


def test_recording_twice_adds_nothing(people: dict[str, Contact]) -> None:
    event = as_event(status_changed(actor=4))
    for _ in range(2):
        services.notifications_record(event_id=event.id, event_type=event.type, data=event.data)
    assert Delivery.objects.count() == 4
    assert Notification.objects.count() == 2


def test_recording_writes_every_column_as_the_model_defines_it(
    people: dict[str, Contact],
) -> None:
    """The hand-written INSERT leaves each column as ``bulk_create`` would (no column
    defaults in the tables: a forgotten one would be NULL or refused)."""
    event = as_event(status_changed(actor=3))
    occurred = event.occurred_at
    recorded = services.notifications_record(
        event_id=event.id, event_type=event.type, data=event.data, occurred_at=occurred
    )
    assert recorded == services.Recorded(notifications=2, queued=2, skipped=2)
    email = Delivery.objects.get(channel="email", recipient_id="2")
    expected_context = rules.context_for(event.data, "status_changed")
    # The first mail about the ticket to them: it starts their thread (mail_thread.py).
    expected_context["thread_root"] = email_message_id(email)
    assert (email.event_id, email.event_type, email.kind, email.ticket_id) == (
        event.id,
        "ticket.status_changed",
        "status_changed",
        str(event.data.ticket.id),
    )
    assert email.context == expected_context
    assert (email.status, email.attempts, email.last_error) == ("queued", 0, "")
    assert (email.address, email.provider_id, email.provider_status) == ("", "", "")
    assert email.sent_at is None
    assert email.next_attempt_at == email.created_at == email.updated_at
    feed = Notification.objects.get(recipient_id="2")
    assert (feed.event_id, feed.ticket_id, feed.read_at) == (
        event.id,
        str(event.data.ticket.id),
        None,
    )
    assert feed.created_at == occurred
    # In the technician's language (English), the client's in Spanish.
    assert feed.title == f"{event.data.ticket.number} is now In progress"
    assert "ahora está" in Notification.objects.get(recipient_id="1").title


def test_recording_an_event_is_five_statements_six_for_a_new_thread(
    people: dict[str, Contact], django_assert_num_queries: Any
) -> None:
    """The contact cards, the recipients' mail threads, one INSERT per table and the
    senders' NOTIFY (delivered at commit), whatever the recipients; the first event about
    a ticket also begins its mail threads (one INSERT). Announcing the new feed entries
    (``notification.created``) reads the unread counts once and takes two statements per
    entry (the recipient's event sequence, the outbox row): five for the two here."""
    first = as_event(status_changed(actor=3, id=77))
    with django_assert_num_queries(6 + 5):
        services.notifications_record(event_id=first.id, event_type=first.type, data=first.data)
    later = as_event(status_changed(actor=3, id=77))
    with django_assert_num_queries(5 + 5):
        services.notifications_record(event_id=later.id, event_type=later.type, data=later.data)


def test_a_redelivered_event_changes_no_row(people: dict[str, Contact]) -> None:
    """Recording again, after the rows moved on (sent, read), neither adds nor resets."""
    event = as_event(status_changed(actor=3))
    services.notifications_record(event_id=event.id, event_type=event.type, data=event.data)
    Delivery.objects.filter(channel="email").update(status="sent", attempts=1)
    Notification.objects.update(read_at=timezone.now())
    before = sorted(Delivery.objects.values_list("id", "status", "attempts", "updated_at"))
    services.notifications_record(event_id=event.id, event_type=event.type, data=event.data)
    assert sorted(Delivery.objects.values_list("id", "status", "attempts", "updated_at")) == before
    assert Notification.objects.filter(read_at__isnull=True).count() == 0
    assert Notification.objects.count() == 2


def test_the_actor_is_never_told(people: dict[str, Contact], deliver: Callable[..., Any]) -> None:
    deliver(status_changed(actor=1))  # the client reopened it themselves
    assert {r[0] for r in rows()} == {"2"}


def test_internal_notes_never_reach_a_client_even_if_assigned_one(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    # A broken snapshot naming a client as assignee: the directory knows better.
    ContactFactory(user_id="9", role="client")
    deliver(
        TicketCommented(
            ticket=TicketSnapshotFactory(client_id=1, assignee_id=9),
            actor_id=2,
            comment=CommentSnapshotFactory(author_id=2, internal=True, body="secreto"),
        )
    )
    assert not Delivery.objects.exists()
    assert not Notification.objects.exists()


def test_ticket_created_confirms_to_the_client_and_alerts_the_assignee(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    deliver(TicketCreated(ticket=TicketSnapshotFactory(client_id=1, assignee_id=2), actor_id=3))
    kinds = dict(Delivery.objects.filter(channel="email").values_list("recipient_id", "kind"))
    assert kinds == {"1": "created_receipt", "2": "created_alert"}


# --- the contact directory --------------------------------------------------------------


def test_user_events_keep_the_newest_card(deliver: Callable[..., Any]) -> None:
    deliver(None, event=as_event(user_card(5, email="old@example.com"), sequence=1))
    deliver(
        None, event=as_event(user_card(5, email="new@example.com", cls=UserUpdated), sequence=3)
    )
    # An older update arriving late does not win.
    deliver(
        None, event=as_event(user_card(5, email="stale@example.com", cls=UserUpdated), sequence=2)
    )
    contact = Contact.objects.get(pk="5")
    assert (contact.email, contact.sequence) == ("new@example.com", 3)

    deliver(None, event=as_event(user_card(5, is_active=True, cls=UserDeactivated), sequence=4))
    assert not Contact.objects.get(pk="5").is_active


def test_a_contact_card_carries_every_preference(deliver: Callable[..., Any]) -> None:
    deliver(
        None,
        event=as_event(
            user_card(
                6,
                full_name="Tom Baker",
                phone="+14155550100",
                role="technician",
                language="en",
                notify_email=False,
                notify_sms=True,
            ),
            sequence=1,
        ),
    )
    contact = Contact.objects.get(pk="6")
    assert (contact.display_name, contact.phone, contact.role, contact.language) == (
        "Tom Baker",
        "+14155550100",
        "technician",
        "en",
    )
    assert (contact.notify_email, contact.notify_sms, contact.is_active) == (False, True, True)


def test_a_contact_card_carries_whether_its_address_and_number_are_proven(
    deliver: Callable[..., Any],
) -> None:
    deliver(None, event=as_event(user_card(8, email_verified=True, phone_verified=False)))
    contact = Contact.objects.get(pk="8")
    assert (contact.email_verified, contact.phone_verified) == (True, False)
    deliver(None, event=as_event(user_card(8, phone_verified=True, cls=UserUpdated)))
    assert Contact.objects.get(pk="8").phone_verified is True


def test_a_card_from_before_the_verified_flags_counts_as_unproven(
    deliver: Callable[..., Any],
) -> None:
    envelope = envelope_of(user_card(9))
    del envelope["data"]["email_verified"], envelope["data"]["phone_verified"]
    deliver(None, event=envelopes.decode(envelopes.parse_envelope(envelope)))
    contact = Contact.objects.get(pk="9")
    assert (contact.email_verified, contact.phone_verified) == (False, False)


@pytest.mark.django_db(transaction=True)
def test_one_wake_up_per_transaction_however_many_events(people: dict[str, Contact]) -> None:
    """A consumer's batch of events wakes each listening sender once, at commit."""
    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
        autocommit=True,
    ) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        with transaction.atomic():
            for actor in (3, 4, 5):
                event = as_event(status_changed(actor=actor))
                services.notifications_record(
                    event_id=event.id, event_type=event.type, data=event.data
                )
            assert list(listener.notifies(timeout=0.2)) == []  # nothing before the commit
        received = list(listener.notifies(timeout=1.0, stop_after=2))
    assert [n.channel for n in received] == [NOTIFY_CHANNEL]
