"""SMS through the official twilio client against the Twilio fake on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from notifications import sms_text
from notifications.channels import sms as sms_channel
from notifications.channels.sms import BaseUrlHttpClient, twilio_client
from notifications.models import Contact, Delivery
from pytest_django.fixtures import Settings

from servidesk_shared.events.schemas import (
    TicketAssigned,
    TicketCommented,
    TicketCreated,
    TicketStatusChanged,
)
from tests.conftest import FROM_NUMBER, drain, until_due
from tests.factories import CommentSnapshotFactory, TicketSnapshotFactory
from tests.fakes import SmtpServer, TwilioFake

pytestmark = pytest.mark.django_db

LUCIA, TOM = "+34600111222", "+353851234567"


def ticket(**overrides: Any) -> Any:
    values = {
        "id": 42,
        "number": "SD-1042",
        "title": "Impresora sin toner",
        "client_id": 1,
        "assignee_id": 2,
        "status": "in_progress",
    }
    values.update(overrides)
    return TicketSnapshotFactory(**values)


def changed(**overrides: Any) -> TicketStatusChanged:
    return TicketStatusChanged(
        ticket=ticket(**overrides), actor_id=3, from_status="pending", to_status="in_progress"
    )


def test_the_official_client_talks_to_the_base_url(twilio: TwilioFake) -> None:
    client = twilio_client()
    assert isinstance(client.http_client, BaseUrlHttpClient)
    message = client.messages.create(to=LUCIA, from_=FROM_NUMBER, body="hola")
    assert message.sid.startswith("SM")
    (sms,) = twilio.messages
    assert sms.headers["User-Agent"].startswith("twilio-python/")
    assert sms.form["To"] == [LUCIA]


def test_status_change_sms_in_each_recipients_language(
    people: dict[str, Contact], twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    deliver(changed())
    drain("sms")
    twilio.wait_for(2)
    (spanish,) = twilio.messages_to(LUCIA)
    (english,) = twilio.messages_to(TOM)
    assert spanish.body == (
        'Servidesk: ticket SD-1042 "Impresora sin toner", nuevo estado: En progreso. '
        "http://testserver/tickets/42/"
    )
    assert english.body == (
        'Servidesk: ticket SD-1042 "Impresora sin toner" is now In progress. '
        "http://testserver/tickets/42/"
    )
    assert spanish.from_ == FROM_NUMBER
    assert spanish.status_callback == "http://testserver/api/notifications/twilio/status/"
    assert all(sms_text.segments(s.body) == 1 for s in (spanish, english))
    sent = Delivery.objects.get(channel="sms", recipient_id="1")
    assert (sent.status, sent.attempts, sent.address) == ("sent", 1, LUCIA)
    assert sent.provider_id == spanish.sid
    assert sent.provider_status == "queued"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            TicketCreated(ticket=ticket(status="pending"), actor_id=1),
            {
                LUCIA: (
                    "Servidesk: recibimos tu ticket SD-1042 "
                    '"Impresora sin toner". Estado: Pendiente.'
                ),
                TOM: (
                    'Servidesk: new ticket SD-1042 "Impresora '
                    'sin toner" assigned to you. Status: Pending.'
                ),
            },
        ),
        (
            TicketAssigned(ticket=ticket(), actor_id=3, from_assignee=None, to_assignee=2),
            {
                TOM: (
                    'Servidesk: ticket SD-1042 "Impresora sin '
                    'toner" was assigned to you. Status: In progress.'
                ),
            },
        ),
        (
            TicketCommented(
                ticket=ticket(), actor_id=2, comment=CommentSnapshotFactory(author_id=2)
            ),
            {
                LUCIA: (
                    "Servidesk: nueva respuesta en el ticket "
                    'SD-1042 "Impresora sin toner". Estado: En progreso.'
                ),
            },
        ),
        (
            TicketCommented(
                ticket=ticket(),
                actor_id=3,
                comment=CommentSnapshotFactory(author_id=3, internal=True),
            ),
            {
                TOM: (
                    "Servidesk: new internal note on ticket "
                    'SD-1042 "Impresora sin toner". Status: In progress.'
                ),
            },
        ),
    ],
    ids=["created", "assigned", "commented", "internal-note"],
)
def test_each_event_type_texts_the_right_people(
    data: Any,
    expected: dict[str, str],
    people: dict[str, Contact],
    twilio: TwilioFake,
    deliver: Callable[..., Any],
) -> None:
    deliver(data)
    drain("sms")
    twilio.wait_for(len(expected))
    got = {sms.to: sms.body for sms in twilio.messages}
    assert got == {to: f"{text} http://testserver/tickets/42/" for to, text in expected.items()}


def test_a_messaging_service_replaces_the_from_number(
    people: dict[str, Contact], twilio: TwilioFake, deliver: Callable[..., Any], settings: Settings
) -> None:
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32
    settings.TWILIO_STATUS_CALLBACK_URL = "off"
    deliver(changed(assignee_id=None))
    drain("sms")
    (sms,) = twilio.wait_for(1)
    assert (sms.messaging_service_sid, sms.from_, sms.status_callback) == ("MG" + "1" * 32, "", "")
    assert Delivery.objects.get(channel="sms").provider_status == "accepted"


def test_twilio_500_then_201_sends_one_sms(
    people: dict[str, Contact],
    twilio: TwilioFake,
    deliver: Callable[..., Any],
    slow_retries: Callable[[], None],
) -> None:
    twilio.fail_next(500)
    deliver(changed(assignee_id=None))
    drain("sms")
    delivery = Delivery.objects.get(channel="sms")
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert delivery.last_error.startswith("Twilio 500")
    assert twilio.messages == []

    slow_retries()
    drain("sms")
    drain("sms")
    assert len(twilio.messages) == 1
    assert twilio.request_count == 2
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")


def test_twilio_429_is_retried(
    people: dict[str, Contact],
    twilio: TwilioFake,
    deliver: Callable[..., Any],
    slow_retries: Callable[[], None],
) -> None:
    twilio.fail_next(429, code=20429, message="Too Many Requests")
    deliver(changed(assignee_id=None))
    drain("sms")
    assert Delivery.objects.get(channel="sms").status == "queued"
    slow_retries()
    drain("sms")
    assert Delivery.objects.get(channel="sms").status == "sent"


def test_invalid_number_fails_at_once_and_the_email_still_goes(
    people: dict[str, Contact],
    twilio: TwilioFake,
    smtp: SmtpServer,
    deliver: Callable[..., Any],
) -> None:
    twilio.reject_number(LUCIA)
    deliver(changed(assignee_id=None))
    drain("sms", "email")
    until_due()  # a retry, were there one, would be due now
    drain("sms", "email")
    sms = Delivery.objects.get(channel="sms")
    assert (sms.status, sms.attempts) == ("failed", 1)
    assert sms.last_error.startswith("Twilio 400 (code 21211)")
    assert "is not a valid phone number" in sms.last_error
    assert twilio.request_count == 1  # no retry
    assert Delivery.objects.get(channel="email").status == "sent"
    assert [m.rcpt_tos for m in smtp.wait_for(1)] == [("lucia@example.com",)]


def test_twilio_unreachable_is_transient(
    people: dict[str, Contact],
    deliver: Callable[..., Any],
    settings: Settings,
    slow_retries: Callable[[], None],
) -> None:
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC1", "token"
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # discard port: connection refused
    deliver(changed(assignee_id=None))
    drain("sms")
    delivery = Delivery.objects.get(channel="sms")
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert delivery.last_error.startswith("Twilio unreachable: ConnectionError")


# --- who may be texted: verified numbers, allowed countries ---------------------------------


def test_an_unverified_number_gets_no_sms_and_a_verified_one_does(
    people: dict[str, Contact], twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    """Anyone can type someone else's number into their profile: until its owner proves
    it with the code, the number gets nothing from us (and costs us nothing)."""
    Contact.objects.filter(pk="1").update(phone_verified=False)
    deliver(changed(assignee_id=None))
    drain("sms")
    skipped = Delivery.objects.get(channel="sms")
    assert (skipped.status, skipped.last_error) == (
        "skipped",
        "recipient's phone number is not verified",
    )
    assert twilio.request_count == 0

    Contact.objects.filter(pk="1").update(phone_verified=True)
    deliver(changed(assignee_id=None))
    drain("sms")
    (sms,) = twilio.wait_for(1)
    assert sms.to == LUCIA
    assert Delivery.objects.filter(channel="sms", status="sent").count() == 1


def test_a_number_changed_to_an_unverified_one_before_sending_is_skipped(
    people: dict[str, Contact], twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    """The sender checks again: the card that arrives between recording and sending wins."""
    deliver(changed(assignee_id=None))
    Contact.objects.filter(pk="1").update(phone="+34600999888", phone_verified=False)
    drain("sms")
    delivery = Delivery.objects.get(channel="sms")
    assert (delivery.status, delivery.last_error) == (
        "skipped",
        "recipient's phone number is not verified",
    )
    assert twilio.request_count == 0


def test_a_number_outside_the_allowed_countries_is_skipped(
    people: dict[str, Contact], twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    Contact.objects.filter(pk="2").update(phone="+14155550100")  # verified, but in the US
    deliver(changed())
    drain("sms")
    (sms,) = twilio.wait_for(1)
    assert sms.to == LUCIA
    tom = Delivery.objects.get(channel="sms", recipient_id="2")
    assert (tom.status, tom.last_error) == (
        "skipped",
        "SMS to US (+1) are not allowed (SMS_ALLOWED_COUNTRIES)",
    )


def test_the_allowed_countries_are_a_setting(
    people: dict[str, Contact], twilio: TwilioFake, deliver: Callable[..., Any], settings: Settings
) -> None:
    settings.SMS_ALLOWED_COUNTRIES = "EU, us"
    Contact.objects.filter(pk="2").update(phone="+14155550100")
    deliver(changed())
    drain("sms")
    assert sorted(sms.to for sms in twilio.wait_for(2)) == ["+14155550100", LUCIA]


@pytest.mark.parametrize(
    ("phone", "refusal"),
    [
        ("+34600111222", None),  # Spain
        ("+34922123456", None),  # the Canaries number as Spain
        ("+358401234567", None),  # Finland
        ("+358181234567", None),  # Åland shares Finland's +358, and is in the EU too
        ("+262262123456", None),  # Réunion, an outermost region of the EU
        ("+353851234567", None),  # Ireland
        ("+14155550100", "SMS to US (+1) are not allowed (SMS_ALLOWED_COUNTRIES)"),
        ("+17875550123", "SMS to PR (+1) are not allowed (SMS_ALLOWED_COUNTRIES)"),
        ("+442079460000", "SMS to GB (+44) are not allowed (SMS_ALLOWED_COUNTRIES)"),
        ("+41446681800", "SMS to CH (+41) are not allowed (SMS_ALLOWED_COUNTRIES)"),
        # +39 06 698 is the Vatican's, inside Italy's +39: not the EU.
        ("+390669812345", "SMS to VA (+39) are not allowed (SMS_ALLOWED_COUNTRIES)"),
        ("+4741234567", "SMS to NO (+47) are not allowed (SMS_ALLOWED_COUNTRIES)"),
        ("600111222", "the phone number is not in international format (+<country code><number>)"),
        ("+34123", "the phone number is not a valid one"),
    ],
)
def test_the_country_of_a_number_is_the_one_it_belongs_to(phone: str, refusal: str | None) -> None:
    assert sms_channel.country_refusal(phone) == refusal


def test_one_country_alone_refuses_its_neighbours(settings: Settings) -> None:
    settings.SMS_ALLOWED_COUNTRIES = "ES"
    assert sms_channel.country_refusal("+34600111222") is None
    assert sms_channel.country_refusal("+351912345678") == (
        "SMS to PT (+351) are not allowed (SMS_ALLOWED_COUNTRIES)"
    )


def test_local_settings_without_credentials_log_sms_as_skipped(
    people: dict[str, Contact], deliver: Callable[..., Any], smtp: SmtpServer
) -> None:
    deliver(changed(assignee_id=None))
    drain()
    sms = Delivery.objects.get(channel="sms")
    assert sms.status == "skipped"
    assert sms.last_error == (
        "Twilio is not configured (missing TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
        "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID)"
    )
    assert Delivery.objects.get(channel="email").status == "sent"
