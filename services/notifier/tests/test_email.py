"""Email through a real SMTP server on loopback: recipients, languages, texts, failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from notifications.models import Contact, Delivery

from servidesk_shared.events.schemas import (
    TicketAssigned,
    TicketCommented,
    TicketCreated,
    TicketStatusChanged,
)
from tests.conftest import drain
from tests.factories import CommentSnapshotFactory, TicketSnapshotFactory
from tests.fakes import SmtpServer

pytestmark = pytest.mark.django_db


def ticket(**overrides: Any) -> Any:
    values = {
        "id": 42,
        "number": "SD-1042",
        "title": "Impresora sin tóner",
        "client_id": 1,
        "assignee_id": 2,
        "status": "in_progress",
        "priority": "high",
    }
    values.update(overrides)
    return TicketSnapshotFactory(**values)


def test_status_change_mail_in_spanish_to_the_client(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(
        TicketStatusChanged(
            ticket=ticket(status="resolved"),
            actor_id=2,
            from_status="in_progress",
            to_status="resolved",
        )
    )
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("lucia@example.com",)
    assert mail.mail_from == "soporte@servidesk.test"
    assert mail.subject == "[SD-1042] Impresora sin tóner"
    assert mail.text.splitlines()[:3] == ["SD-1042 ahora está Resuelto", "", "Hola, Lucía Pérez:"]
    for body in (mail.text, mail.html):
        assert "Hola, Lucía Pérez:" in body
        assert "cambió de En progreso a Resuelto" in body
        assert "Prioridad" in body
        assert "http://testserver/tickets/42/" in body
    assert 'href="http://testserver/tickets/42/"' in mail.html
    assert "<html" not in mail.text
    assert mail.message["Content-Language"] == "es"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.attempts, delivery.address) == (
        "sent",
        1,
        "lucia@example.com",
    )
    assert delivery.provider_id == mail.message["Message-ID"]
    assert delivery.sent_at is not None


def test_status_change_by_someone_else_mails_the_assignee_in_english(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(
        TicketStatusChanged(
            ticket=ticket(), actor_id=3, from_status="pending", to_status="in_progress"
        )
    )
    drain("email")
    mails = smtp.wait_for(2)
    assert {m.rcpt_tos[0] for m in mails} == {"lucia@example.com", "tom@example.com"}
    (english,) = smtp.received(to="tom@example.com")
    assert english.subject == "[SD-1042] Impresora sin tóner"
    assert english.text.splitlines()[0] == "SD-1042 is now In progress"
    assert "Hello Tom Baker," in english.text
    assert "changed from Pending to In progress" in english.text
    assert english.message["Content-Language"] == "en"


def test_ticket_created_receipt_and_alert(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(TicketCreated(ticket=ticket(status="pending"), actor_id=1))
    drain("email")
    smtp.wait_for(2)
    (receipt,) = smtp.received(to="lucia@example.com")
    (alert,) = smtp.received(to="tom@example.com")
    assert receipt.subject == "[SD-1042] Impresora sin tóner"
    assert receipt.text.splitlines()[0] == "Hemos recibido tu ticket SD-1042"
    assert "quedó registrado como SD-1042" in receipt.text
    assert alert.subject == "[SD-1042] Impresora sin tóner"
    assert alert.text.splitlines()[0] == "New ticket SD-1042 assigned to you"


def test_assignment_mails_the_new_technician(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(TicketAssigned(ticket=ticket(), actor_id=3, from_assignee=None, to_assignee=2))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("tom@example.com",)
    assert mail.text.splitlines()[0] == "SD-1042 was assigned to you"


def test_public_comment_goes_to_the_other_side_with_its_text(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(
        TicketCommented(
            ticket=ticket(),
            actor_id=1,
            comment=CommentSnapshotFactory(author_id=1, body="¿Hay novedades? <b>urgente</b>"),
        )
    )
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("tom@example.com",)
    assert mail.text.splitlines()[0] == "New reply on SD-1042"
    assert "¿Hay novedades? <b>urgente</b>" in mail.text
    assert "&lt;b&gt;urgente&lt;/b&gt;" in mail.html  # escaped in HTML


def test_internal_note_mails_only_the_assignee(
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
    assert mail.text.splitlines()[0] == "New internal note on SD-1042"
    assert not smtp.received(to="lucia@example.com")


def resolved(ticket_id: int) -> TicketStatusChanged:
    """Lucía's ticket resolved by the technician: one mail, to her."""
    return TicketStatusChanged(
        ticket=ticket(id=ticket_id, assignee_id=None),
        actor_id=2,
        from_status="pending",
        to_status="resolved",
    )


def test_an_unconfirmed_address_gets_no_mail_and_a_confirmed_one_does(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    """An address typed into a profile gets nothing until its owner follows the
    confirmation link (the confirmation mail itself is accounts' to send)."""
    Contact.objects.filter(pk="1").update(email="victim@example.com", email_verified=False)
    deliver(resolved(42))
    drain("email")
    skipped = Delivery.objects.get(channel="email")
    assert (skipped.status, skipped.last_error) == (
        "skipped",
        "recipient's email address is not confirmed",
    )
    assert smtp.received() == []

    Contact.objects.filter(pk="1").update(email_verified=True)
    deliver(resolved(43))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("victim@example.com",)


def test_an_address_unconfirmed_after_recording_is_skipped_by_the_sender(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(resolved(42))
    Contact.objects.filter(pk="1").update(email="new@example.com", email_verified=False)
    drain("email")
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.last_error) == (
        "skipped",
        "recipient's email address is not confirmed",
    )
    assert smtp.received() == []


def test_smtp_down_then_up_each_mail_arrives_once(
    people: dict[str, Contact],
    smtp: SmtpServer,
    deliver: Callable[..., Any],
    slow_retries: Callable[[], None],
) -> None:
    smtp.stop()
    deliver(
        TicketStatusChanged(
            ticket=ticket(), actor_id=3, from_status="pending", to_status="in_progress"
        )
    )
    drain("email")
    queued = list(Delivery.objects.filter(channel="email"))
    assert {d.status for d in queued} == {"queued"}
    assert all(d.attempts == 1 for d in queued)
    assert all("SMTP server unavailable" in d.last_error for d in queued)

    smtp.start()
    slow_retries()
    drain("email")
    mails = smtp.wait_for(2)
    assert sorted(m.rcpt_tos[0] for m in mails) == ["lucia@example.com", "tom@example.com"]
    drain("email")
    assert len(smtp.received()) == 2
    assert set(Delivery.objects.filter(channel="email").values_list("status", "attempts")) == {
        ("sent", 2)
    }


def test_a_refused_recipient_fails_at_once(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    smtp.refuse("lucia@example.com", 550)
    deliver(
        TicketStatusChanged(
            ticket=ticket(), actor_id=3, from_status="pending", to_status="in_progress"
        )
    )
    drain("email")
    refused = Delivery.objects.get(channel="email", recipient_id="1")
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert refused.last_error.startswith("recipient refused: 550")
    # The other recipient in the same batch is not held up by it.
    assert Delivery.objects.get(channel="email", recipient_id="2").status == "sent"
    assert [m.rcpt_tos for m in smtp.wait_for(1)] == [("tom@example.com",)]


def test_a_temporarily_refused_recipient_is_retried(
    people: dict[str, Contact],
    smtp: SmtpServer,
    deliver: Callable[..., Any],
    slow_retries: Callable[[], None],
) -> None:
    smtp.refuse("lucia@example.com", 451)
    deliver(
        TicketStatusChanged(
            ticket=ticket(assignee_id=None),
            actor_id=3,
            from_status="pending",
            to_status="in_progress",
        )
    )
    drain("email")
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert "451" in delivery.last_error


def test_transient_failures_end_after_the_last_attempt(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any], settings: Any
) -> None:
    settings.NOTIFIER_MAX_ATTEMPTS = 3
    settings.NOTIFIER_RETRY_DELAY = 0.0
    settings.NOTIFIER_RETRY_DELAY_MAX = 0.0
    smtp.stop()
    deliver(
        TicketStatusChanged(
            ticket=ticket(assignee_id=None),
            actor_id=3,
            from_status="pending",
            to_status="in_progress",
        )
    )
    drain("email")
    delivery = Delivery.objects.get(channel="email")
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.last_error.startswith("gave up after 3 attempts: SMTP server unavailable")
