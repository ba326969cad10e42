"""Mails list the files sent with what they are about: names (escaped), sizes and links.

A new ticket's mails list its own files, a comment's mails that comment's files; the
files of an internal note go only where the note goes, never to a client. The links lead
to the browser UI's download of the file (``WEB_BASE_URL/tickets/<id>/attachments/<id>/``),
which asks the reader to sign in and fetches it with their rights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from notifications.models import Contact, Delivery, Notification

from servidesk_shared.events.schemas import TicketCommented, TicketCreated
from tests.conftest import drain
from tests.factories import AttachmentSnapshotFactory, CommentSnapshotFactory, TicketSnapshotFactory
from tests.fakes import SmtpServer

pytestmark = pytest.mark.django_db

NBSP = "\xa0"  # what filesizeformat puts between a size and its unit


def ticket(**overrides: Any) -> Any:
    values = {"id": 42, "number": "SD-1042", "title": "Pantalla rota", "client_id": 1}
    values.update(overrides)
    return TicketSnapshotFactory(**values)


def test_the_receipt_lists_the_ticket_files_with_sizes_and_links(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    files = (
        AttachmentSnapshotFactory(id=7, filename="captura.png", size=48_213),
        AttachmentSnapshotFactory(
            id=8, filename="factura.pdf", size=2_621_440, content_type="application/pdf"
        ),
    )
    deliver(TicketCreated(ticket=ticket(assignee_id=2), actor_id=1, attachments=files))
    drain("email")
    smtp.wait_for(2)
    (receipt,) = smtp.received(to="lucia@example.com")
    (alert,) = smtp.received(to="tom@example.com")

    assert "Archivos adjuntos:" in receipt.text
    assert f"- captura.png (47,1{NBSP}KB): http://testserver/tickets/42/attachments/7/" in (
        receipt.text
    )
    assert f"- factura.pdf (2,5{NBSP}MB): http://testserver/tickets/42/attachments/8/" in (
        receipt.text
    )
    assert '<a href="http://testserver/tickets/42/attachments/7/">captura.png</a>' in receipt.html
    assert f"(2,5{NBSP}MB)" in receipt.html
    # Tom reads English.
    assert "Attached files:" in alert.text
    assert f"- factura.pdf (2.5{NBSP}MB): http://testserver/tickets/42/attachments/8/" in alert.text


def test_file_names_are_escaped_in_html_and_kept_on_one_line(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    hostile = AttachmentSnapshotFactory(
        id="9",
        filename='<img src=x onerror="alert(1)">\r\nBcc: x@example.com\u202egnp.exe',
        size=10,
    )
    deliver(TicketCreated(ticket=ticket(), actor_id=1, attachments=(hostile,)))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert "<img" not in mail.html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; Bcc: x@example.comgnp.exe" in mail.html
    # Plain text as typed, but on one line and without the mark that reverses "exe.png".
    assert (
        f'- <img src=x onerror="alert(1)"> Bcc: x@example.comgnp.exe (10{NBSP}bytes): '
        "http://testserver/tickets/42/attachments/9/"
    ) in mail.text
    assert "\u202e" not in mail.text
    assert mail.message["Bcc"] is None


def test_a_public_reply_lists_its_own_files_only(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    comment = CommentSnapshotFactory(id=555, author_id=2, body="Te adjunto el informe.")
    own = AttachmentSnapshotFactory(id=11, filename="informe.pdf", comment_id=555)
    # A snapshot carrying a file of another comment (an internal one, say) by mistake.
    stray = AttachmentSnapshotFactory(id=12, filename="notas-internas.txt", comment_id=556)
    ticket_file = AttachmentSnapshotFactory(id=13, filename="original.png", comment_id=None)
    deliver(
        TicketCommented(
            ticket=ticket(assignee_id=2),
            actor_id=2,
            comment=comment,
            attachments=(own, stray, ticket_file),
        )
    )
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("lucia@example.com",)
    assert "informe.pdf" in mail.text
    assert "informe.pdf" in mail.html
    for other in ("notas-internas.txt", "original.png"):
        assert other not in mail.text
        assert other not in mail.html


def test_files_of_an_internal_note_reach_the_assignee_and_never_a_client(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    note = CommentSnapshotFactory(id=600, author_id=3, internal=True, body="Ver adjunto")
    secret = AttachmentSnapshotFactory(id=20, filename="deuda-cliente.xlsx", comment_id=600)
    deliver(
        TicketCommented(
            ticket=ticket(assignee_id=2), actor_id=3, comment=note, attachments=(secret,)
        )
    )
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("tom@example.com",)
    assert "deuda-cliente.xlsx" in mail.text
    assert not smtp.received(to="lucia@example.com")
    assert not Delivery.objects.filter(recipient_id="1").exists()
    assert not Notification.objects.filter(recipient_id="1").exists()


def test_a_mail_without_files_says_nothing_about_them(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(TicketCreated(ticket=ticket(), actor_id=1))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert "Archivos adjuntos" not in mail.text
    assert "Archivos adjuntos" not in mail.html
