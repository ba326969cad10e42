"""The phone verification code (``verification.phone_code``): texted to a number nobody has
verified yet, in the event's language, within the allow-list and the caps, and kept out of
the logs, the feed and (once final) the delivery log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from notifications import phone_code, services
from notifications.models import Contact, Delivery, Notification, RecipientAllowance
from pytest_django.fixtures import Settings

from servidesk_shared.events.schemas import PhoneCodeRequested, TicketStatusChanged
from tests.conftest import drain
from tests.factories import ContactFactory, TicketSnapshotFactory, as_event
from tests.fakes import TwilioFake

pytestmark = pytest.mark.django_db

LUCIA = "+34600111222"
CODE = "428193"


def code_event(
    phone: str = LUCIA, *, language: str = "es", minutes: float = 10, user_id: int = 1
) -> PhoneCodeRequested:
    return PhoneCodeRequested(
        user_id=user_id,
        phone=phone,
        code=CODE,
        language=language,
        expires_at=datetime.now(tz=UTC) + timedelta(minutes=minutes),
    )


def unverified_lucia(**overrides: Any) -> Contact:
    """A new client: she set her number but has not proved it, and wants no SMS yet."""
    values: dict[str, Any] = {
        "user_id": "1",
        "phone": LUCIA,
        "phone_verified": False,
        "notify_sms": False,
        "language": "es",
    }
    values.update(overrides)
    return ContactFactory(**values)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", f"Servidesk: tu código es {CODE}. Caduca en 10 minutos."),
        ("en", f"Servidesk: your code is {CODE}. It expires in 10 minutes."),
        ("fr", f"Servidesk: tu código es {CODE}. Caduca en 10 minutos."),  # default: Spanish
    ],
)
def test_the_code_is_texted_to_the_unverified_number_in_the_events_language(
    language: str,
    expected: str,
    twilio: TwilioFake,
    deliver: Callable[..., Any],
) -> None:
    unverified_lucia(language="en" if language == "es" else "es")  # the event's wins
    deliver(code_event(language=language))
    drain("sms")
    (sms,) = twilio.wait_for(1)
    assert (sms.to, sms.body) == (LUCIA, expected)
    delivery = Delivery.objects.get()
    assert (delivery.channel, delivery.kind, delivery.status, delivery.address) == (
        "sms",
        "phone_code",
        "sent",
        LUCIA,
    )
    assert delivery.event_type == "verification.phone_code"
    assert delivery.ticket_id == ""


def test_ticket_sms_still_wait_for_the_number_to_be_verified(
    twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    """The exception is the code alone: the same unverified number gets no ticket SMS."""
    unverified_lucia(notify_sms=True)
    deliver(code_event())
    deliver(
        TicketStatusChanged(
            ticket=TicketSnapshotFactory(client_id=1, assignee_id=None),
            actor_id=2,
            from_status="pending",
            to_status="in_progress",
        )
    )
    drain("sms")
    (sms,) = twilio.wait_for(1)
    assert CODE in sms.body
    ticket_sms = Delivery.objects.get(channel="sms", kind="status_changed")
    assert (ticket_sms.status, ticket_sms.last_error) == (
        "skipped",
        "recipient's phone number is not verified",
    )


def test_the_code_goes_before_the_contact_card_arrives(
    twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    """The event carries the number and the language: no card to wait for."""
    deliver(code_event(user_id=77))
    drain("sms")
    (sms,) = twilio.wait_for(1)
    assert sms.to == LUCIA
    assert Delivery.objects.get().status == "sent"


def test_the_code_is_in_no_log_no_feed_and_gone_from_the_delivery_once_sent(
    twilio: TwilioFake, deliver: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    unverified_lucia()
    with caplog.at_level(logging.DEBUG):
        deliver(code_event())
        queued = Delivery.objects.get()
        assert queued.context["code"] == CODE  # kept while it waits for a sender
        drain("sms")
        twilio.wait_for(1)
    assert CODE not in caplog.text
    assert not Notification.objects.exists()
    sent = Delivery.objects.get()
    assert sent.status == "sent"
    assert "code" not in sent.context
    assert sent.context["phone"] == LUCIA
    assert CODE not in str(Delivery.objects.values_list().get())


def test_a_code_for_a_number_outside_the_allow_list_is_skipped_without_the_code(
    twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    deliver(code_event("+14155550100"))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_error) == (
        "skipped",
        "SMS to US (+1) are not allowed (SMS_ALLOWED_COUNTRIES)",
    )
    assert "code" not in delivery.context
    drain("sms")
    assert twilio.request_count == 0


def test_a_code_for_an_inactive_user_is_skipped(
    twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    unverified_lucia(is_active=False)
    deliver(code_event())
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("skipped", "recipient is inactive")


def test_a_code_that_expired_before_it_could_go_is_skipped(
    twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    unverified_lucia()
    deliver(code_event(minutes=-1))
    drain("sms")
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_error) == (
        "skipped",
        "the verification code expired before it could be sent",
    )
    assert "code" not in delivery.context
    assert twilio.request_count == 0
    assert not RecipientAllowance.objects.exists()  # it took no slot of the cap


def test_codes_count_toward_the_daily_cap(
    twilio: TwilioFake, deliver: Callable[..., Any], settings: Settings
) -> None:
    """Asking for code after code cannot text a number more than the cap allows."""
    settings.SMS_MAX_PER_RECIPIENT_PER_DAY = 2
    unverified_lucia()
    for _ in range(3):
        deliver(code_event())
    drain("sms")
    assert len(twilio.wait_for(2)) == 2
    assert sorted(Delivery.objects.values_list("status", "last_error")) == [
        ("sent", ""),
        ("sent", ""),
        (
            "skipped",
            "over the daily cap of 2 SMS to this number (SMS_MAX_PER_RECIPIENT_PER_DAY)",
        ),
    ]
    assert twilio.request_count == 2


def test_a_redelivered_code_event_is_recorded_once(twilio: TwilioFake) -> None:
    unverified_lucia()
    event = as_event(code_event())
    assert services.phone_code_record(event_id=event.id, data=event.data) is True
    assert services.phone_code_record(event_id=event.id, data=event.data) is False
    assert Delivery.objects.count() == 1


def test_the_text_rounds_the_minutes_left_up_and_says_one_minute_in_the_singular() -> None:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    context = phone_code.context_for(
        phone=LUCIA, code=CODE, language="en", expires_at=now + timedelta(seconds=50)
    )
    assert phone_code.sms_text(context, now=now) == (
        f"Servidesk: your code is {CODE}. It expires in 1 minute."
    )
    context["language"] = "es"
    assert phone_code.sms_text(context, now=now) == (
        f"Servidesk: tu código es {CODE}. Caduca en 1 minuto."
    )
