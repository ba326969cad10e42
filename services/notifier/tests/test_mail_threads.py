"""Mails about a ticket thread together, so that a reply lands on the ticket.

Through the real path: the event's handler, the sender and a real SMTP server. The
contract (``ARCHITECTURE.md``, "Mail threading"): every Message-ID of a mail about a ticket
starts with ``<sd.<ticket id>.``; tickets reads the ticket from ``In-Reply-To``/
``References`` (``CONTRACT_MESSAGE_ID`` is the shape it accepts) or from the subject's
``[SD-123]`` (``CONTRACT_SUBJECT_TAG``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import pytest
from notifications.checks import support_address
from notifications.models import Contact, Delivery, MailThread
from pytest_django.fixtures import Settings

from servidesk_shared.events.schemas import (
    TicketCommented,
    TicketCreated,
    TicketSnapshot,
    TicketStatusChanged,
)
from tests.conftest import drain
from tests.factories import CommentSnapshotFactory, TicketSnapshotFactory
from tests.fakes import ReceivedMail, SmtpServer

pytestmark = pytest.mark.django_db

CONTRACT_MESSAGE_ID: Final = re.compile(r"<sd\.(\d{1,19})\.[^<>@\s]*@[^<>@\s]+>")
CONTRACT_SUBJECT_TAG: Final = re.compile(r"\[SD-(\d{1,19})\]")


def ticket(ticket_id: int | str = 42, **overrides: Any) -> TicketSnapshot:
    values: dict[str, Any] = {
        "id": ticket_id,
        "number": f"SD-{1000 + ticket_id}" if isinstance(ticket_id, int) else "SD-7",
        "title": "Impresora sin tóner",
        "client_id": 1,
        "assignee_id": 2,
        "status": "pending",
    }
    values.update(overrides)
    return TicketSnapshotFactory(**values)


def conversation(ticket_id: int = 42) -> list[Any]:
    """Three events about one ticket that each mail the client (Lucía)."""
    return [
        TicketCreated(ticket=ticket(ticket_id), actor_id=1),
        TicketStatusChanged(
            ticket=ticket(ticket_id, status="in_progress"),
            actor_id=2,
            from_status="pending",
            to_status="in_progress",
        ),
        TicketCommented(
            ticket=ticket(ticket_id, status="in_progress"),
            actor_id=2,
            comment=CommentSnapshotFactory(author_id=2, body="Ya va de camino el tóner."),
        ),
    ]


def in_event_order(mails: list[ReceivedMail], events: list[Any]) -> list[ReceivedMail]:
    by_event = {str(mail.message["X-Servidesk-Event"]): mail for mail in mails}
    return [by_event[str(event.id)] for event in events if str(event.id) in by_event]


def ticket_of(message_id: str) -> str | None:
    """The ticket id tickets reads from a Message-ID, as the contract has it."""
    match = CONTRACT_MESSAGE_ID.fullmatch(message_id)
    return match.group(1) if match else None


def number_of(subject: str) -> str | None:
    """The ticket number tickets reads from a subject's tag."""
    match = CONTRACT_SUBJECT_TAG.search(subject)
    return match.group(1) if match else None


def header(mail: ReceivedMail, name: str) -> str | None:
    value = mail.message[name]
    return None if value is None else str(value)


def test_three_mails_about_one_ticket_make_one_thread(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    # Recorded one after the other, sent together: the thread is decided when recorded.
    events = [deliver(data) for data in conversation()]
    drain("email")
    smtp.wait_for(4)  # three to Lucía, the creation alert to Tom
    first, second, third = in_event_order(smtp.received(to="lucia@example.com"), events)

    root = header(first, "Message-ID")
    assert root is not None
    assert root.startswith("<sd.42.")
    assert root.endswith("@servidesk.test>")
    assert header(first, "In-Reply-To") is None
    assert header(first, "References") is None
    for later in (second, third):
        own = header(later, "Message-ID")
        assert own is not None
        assert own.startswith("<sd.42.")
        assert header(later, "In-Reply-To") == root
        assert header(later, "References") == root
    ids = [header(mail, "Message-ID") for mail in (first, second, third)]
    assert len(set(ids)) == 3
    for mail in (first, second, third):
        assert ticket_of(str(header(mail, "Message-ID"))) == "42"
        assert header(mail, "Reply-To") == "soporte@servidesk.test"
        assert mail.subject == "[SD-1042] Impresora sin tóner"  # the same for the thread
        assert number_of(mail.subject) == "1042"
    # The delivery log keeps each mail's Message-ID (a bounce finds its delivery by it).
    logged = dict(
        Delivery.objects.filter(channel="email", recipient_id="1").values_list(
            "event_id", "provider_id"
        )
    )
    assert [logged[event.id] for event in events] == ids


def test_each_recipient_has_a_thread_of_their_own_and_each_ticket_too(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(TicketCreated(ticket=ticket(42), actor_id=1))  # Lucía's receipt, Tom's alert
    drain("email")
    receipt, alert = smtp.wait_for(2)
    if receipt.rcpt_tos != ("lucia@example.com",):
        receipt, alert = alert, receipt
    smtp.clear()
    deliver(  # the admin moves it: Lucía and Tom are both told
        TicketStatusChanged(
            ticket=ticket(42, status="in_progress"),
            actor_id=3,
            from_status="pending",
            to_status="in_progress",
        )
    )
    deliver(TicketCreated(ticket=ticket(43, assignee_id=None), actor_id=1))
    drain("email")
    smtp.wait_for(3)
    (to_lucia,) = [m for m in smtp.received(to="lucia@example.com") if "[SD-1042]" in m.subject]
    (to_tom,) = smtp.received(to="tom@example.com")
    (other_ticket,) = [m for m in smtp.received() if "[SD-1043]" in m.subject]

    assert header(to_lucia, "In-Reply-To") == header(receipt, "Message-ID")
    assert header(to_tom, "In-Reply-To") == header(alert, "Message-ID")
    assert header(receipt, "Message-ID") != header(alert, "Message-ID")
    assert str(header(other_ticket, "Message-ID")).startswith("<sd.43.")
    assert header(other_ticket, "In-Reply-To") is None
    assert MailThread.objects.count() == 3  # (42, Lucía), (42, Tom), (43, Lucía)


def test_a_mail_skipped_when_recorded_begins_no_thread(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    """Lucía's address is unconfirmed when the ticket is opened: her receipt is skipped
    and no thread begins; the first mail recorded once she confirmed it is the root."""
    Contact.objects.filter(pk="1").update(email_verified=False)
    deliver(TicketCreated(ticket=ticket(assignee_id=None), actor_id=1))
    assert not MailThread.objects.exists()
    Contact.objects.filter(pk="1").update(email_verified=True)
    _created, changed, commented = conversation()
    events = [deliver(changed), deliver(commented)]
    drain("email")
    first, second = in_event_order(smtp.wait_for(2), events)
    assert header(first, "In-Reply-To") is None
    assert header(second, "In-Reply-To") == header(first, "Message-ID")


def test_a_redelivered_event_keeps_its_place_in_the_thread(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    created, changed, _commented = conversation()
    first = deliver(created)
    deliver(changed)
    deliver(created, event=first)  # the same event again (a replay): nothing changes
    assert list(MailThread.objects.values_list("recipient_id", flat=True).order_by("pk")) == [
        "1",
        "2",
    ]
    drain("email")
    mails = smtp.wait_for(3)
    assert len(mails) == 3


def test_a_title_cannot_add_headers_nor_break_the_subject_tag(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    hostile = (
        "Printer\r\nBcc: victim@example.com\r\nReply-To: evil@example.com\n\nX-Evil: 1\x00\x0b]"
    )
    deliver(TicketCreated(ticket=ticket(title=hostile, assignee_id=None), actor_id=1))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("lucia@example.com",)
    assert mail.message["Bcc"] is None
    assert mail.message["X-Evil"] is None
    assert mail.message.get_all("Reply-To") == ["soporte@servidesk.test"]
    assert mail.subject == (
        "[SD-1042] Printer Bcc: victim@example.com Reply-To: evil@example.com X-Evil: 1 ]"
    )
    assert number_of(mail.subject) == "1042"


def test_reply_to_is_the_support_address_as_configured(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any], settings: Settings
) -> None:
    settings.SUPPORT_EMAIL = "Soporte Servidesk <ayuda@desk.example.org>"
    deliver(TicketCreated(ticket=ticket(assignee_id=None), actor_id=1))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert header(mail, "Reply-To") == "Soporte Servidesk <ayuda@desk.example.org>"
    assert str(header(mail, "Message-ID")).endswith("@desk.example.org>")
    # Bounces go back to the support mailbox (tickets reads it); From is unchanged.
    assert mail.mail_from == "ayuda@desk.example.org"
    assert header(mail, "From") == "Servidesk <soporte@servidesk.test>"
    # The footer says what answering does, in the recipient's language.
    assert "Responde a este mensaje para añadir tu respuesta al ticket SD-1042." in mail.text


def test_a_mail_about_an_internal_note_warns_that_a_reply_is_public(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(
        TicketCommented(
            ticket=ticket(),
            actor_id=3,
            comment=CommentSnapshotFactory(author_id=3, internal=True, body="Cliente moroso"),
        )
    )
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("tom@example.com",)
    assert "a reply to this message is added to ticket SD-1042 as a public reply" in mail.text
    assert header(mail, "Reply-To") == "soporte@servidesk.test"


def test_a_ticket_id_that_cannot_sit_in_a_message_id_gets_no_thread(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    """Ids are opaque: one with characters a Message-ID cannot carry as they are still
    gets its mail (found by the subject's number), outside the ``<sd.`` scheme."""
    for _ in range(2):
        deliver(TicketCreated(ticket=ticket("a>b@c", assignee_id=None), actor_id=1))
    drain("email")
    mails = smtp.wait_for(2)
    for mail in mails:
        message_id = str(header(mail, "Message-ID"))
        assert message_id.startswith("<notifier.")
        assert re.fullmatch(r"<notifier\.[0-9a-f]{32}@servidesk\.test>", message_id)
        assert header(mail, "In-Reply-To") is None
    assert not MailThread.objects.exists()


@pytest.mark.parametrize(
    "value", ["", "soporte", "soporte@example.com\r\nBcc: x@example.com", "Soporte <>"]
)
def test_a_support_address_that_is_not_one_stops_start_up(value: str, settings: Settings) -> None:
    settings.SUPPORT_EMAIL = value
    assert [error.id for error in support_address()] == ["notifications.E003"]


@pytest.mark.parametrize("value", ["soporte@example.com", "Soporte <soporte@example.com>"])
def test_a_support_address_passes_the_check(value: str, settings: Settings) -> None:
    settings.SUPPORT_EMAIL = value
    assert support_address() == []
