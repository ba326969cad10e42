"""The mail channel end to end: a client writes to support from their mail program.

A PostgreSQL + RabbitMQ stack of its own, started as `make up` starts it, reads a real
IMAP mailbox (Dovecot on loopback) with its ``tickets-mailbox`` process and sends its
mail to a real SMTP server on loopback. The client's mail, with a PDF attached, is put
into the mailbox with IMAP APPEND, as a mail client would; it becomes a ticket with the
attachment, the client gets the receipt, answers it with a reply built from the receipt's
own headers (what any mail program does), and the reply is a comment on the same ticket,
without the quoted receipt.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Any, TypeVar

import httpx
import pytest
from stack import (
    DEMO_ADMIN,
    POSTGRES_URL,
    RABBITMQ_URL,
    SERVICES,
    Stack,
    drop_stack_resources,
    eventually,
    login,
    running_stack,
)

from servidesk_testing.dovecot import DovecotServer, Mailbox, dovecot_available
from servidesk_testing.fakes import ReceivedMail, SmtpServer

pytestmark = pytest.mark.stack
T = TypeVar("T")

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
PASSWORD = "Una-clave-larga-42"
SUPPORT = "soporte@example.com"
# A small but well-formed PDF: tickets sniffs the type from the content, not the name.
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


@dataclass
class MailStack:
    stack: Stack
    smtp: SmtpServer
    mailbox: Mailbox

    def gateway(self) -> httpx.Client:
        return httpx.Client(base_url=self.stack.base_url, timeout=15)

    def mail_log(self) -> str:
        """What the mail processes said, for a failure's message."""
        lines = self.stack.log.read_text(errors="replace").splitlines()
        wanted = ("tickets-mailbox", "accounts-consumer", "notifier-sender", "tickets-consumer")
        return "\n".join([line for line in lines if any(w in line for w in wanted)][-60:])

    def eventually(self, check: Callable[[], T], *, what: str) -> T:
        try:
            return eventually(check, timeout=120, what=what)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}\n{self.mail_log()}") from None


@pytest.fixture(scope="module")
def mail_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailStack]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    if not dovecot_available():
        pytest.skip("dovecot-imapd is not installed")
    run = uuid.uuid4().hex[:8]
    with SmtpServer() as smtp, DovecotServer() as dovecot:
        mailbox = dovecot.new_mailbox()
        env = {
            f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_mail_{run}_{name}"
            for name in SERVICES
        }
        env |= {
            "BROKER_URL": RABBITMQ_URL,
            "SERVIDESK_EVENT_PREFIX": f"mail-{run}.",
            "EMAIL_HOST": smtp.host,
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": "false",
            "SUPPORT_EMAIL": SUPPORT,
            "INBOUND_MAIL_URL": mailbox.url,
            "INBOUND_POLL_SECONDS": "1",
        }
        try:
            with running_stack(tmp_path_factory.mktemp("mail-channel"), env) as stack:
                yield MailStack(stack, smtp, mailbox)
        finally:
            drop_stack_resources(env)


def receipt_for(mail_stack: MailStack, email: str, ticket_id: int) -> ReceivedMail:
    def found() -> list[ReceivedMail]:
        return [
            mail
            for mail in mail_stack.smtp.received(to=email)
            if str(mail.message["Message-ID"]).startswith(f"<sd.{ticket_id}.")
        ]

    return mail_stack.eventually(found, what=f"the receipt of ticket {ticket_id}")[0]


def new_client(
    gateway: httpx.Client, admin: dict[str, str], username: str, email: str
) -> tuple[int, dict[str, str]]:
    """A client the admin creates (their address counts as confirmed): id, auth headers."""
    made = gateway.post(
        "/api/accounts/users/",
        json={
            "username": username,
            "email": email,
            "password": PASSWORD,
            "full_name": "Lucía Prueba",
            "role": "client",
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    return made.json()["id"], login(gateway, username, PASSWORD)


def reply_to(receipt: ReceivedMail, sender: str) -> EmailMessage:
    """What a mail program writes when its user answers ``receipt``: Re: its subject, to
    its Reply-To, In-Reply-To and References its Message-ID, the receipt quoted below."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(receipt.message["Reply-To"])
    reply["Subject"] = f"Re: {receipt.subject}"
    reply["Message-ID"] = make_msgid(domain="example.com")
    reply["In-Reply-To"] = str(receipt.message["Message-ID"])
    reply["References"] = str(receipt.message["Message-ID"])
    quoted = "\n".join(f"> {line}" for line in receipt.text.splitlines())
    reply.set_content(
        "Ya funciona, gracias.\n\n"
        f"El lun, 7 dic 2026 a las 10:00, Servidesk <{SUPPORT}> escribió:\n{quoted}\n"
    )
    return reply


def test_a_mail_becomes_a_ticket_and_the_reply_to_its_receipt_a_comment(
    mail_stack: MailStack,
) -> None:
    tag = uuid.uuid4().hex[:6]
    email = f"lucia{tag}@example.com"
    with mail_stack.gateway() as gateway:
        admin = login(gateway, *DEMO_ADMIN)
        client_id, client = new_client(gateway, admin, f"lucia{tag}", email)

        # 1. The client writes to support with a PDF attached.
        first = EmailMessage()
        first["From"] = f"Lucía Prueba <{email}>"
        first["To"] = SUPPORT
        first["Subject"] = "La impresora no imprime"
        first["Message-ID"] = make_msgid(domain="example.com")
        first.set_content("Desde ayer la impresora de la planta 2 no imprime.\nAdjunto la factura.")
        first.add_attachment(PDF, maintype="application", subtype="pdf", filename="factura.pdf")
        mail_stack.mailbox.append(first.as_bytes())

        def opened() -> list[dict[str, Any]]:
            page = gateway.get("/api/tickets/", params={"client_id": client_id}, headers=admin)
            assert page.status_code == 200, page.text
            return list(page.json()["results"])

        tickets = mail_stack.eventually(opened, what="the ticket opened by mail")
        assert len(tickets) == 1
        ticket = tickets[0]
        assert ticket["title"] == "La impresora no imprime"
        assert "planta 2 no imprime" in ticket["description"]
        assert ticket["status"] == "pending"

        # 2. The attachment came with it; the client downloads the same bytes.
        files = gateway.get(f"/api/tickets/{ticket['id']}/attachments/", headers=client)
        assert files.status_code == 200, files.text
        listed = files.json()
        listed = listed["results"] if isinstance(listed, dict) else listed
        assert [(f["filename"], f["content_type"], f["size"]) for f in listed] == [
            ("factura.pdf", "application/pdf", len(PDF))
        ]
        download = gateway.get(
            f"/api/tickets/{ticket['id']}/attachments/{listed[0]['id']}/download/",
            headers=client,
        )
        assert download.status_code == 200
        assert download.content == PDF
        assert download.headers["Content-Disposition"].startswith("attachment")

        # 3. The receipt: threaded on the ticket, answering to support, numbered.
        receipt = receipt_for(mail_stack, email, ticket["id"])
        assert f"[{ticket['number']}]" in receipt.subject
        assert parseaddr(str(receipt.message["Reply-To"]))[1] == SUPPORT

        # 4. The client answers the receipt from their mail program.
        mail_stack.mailbox.append(reply_to(receipt, f"Lucía Prueba <{email}>").as_bytes())

        def commented() -> list[dict[str, Any]]:
            page = gateway.get(f"/api/tickets/{ticket['id']}/comments/", headers=admin)
            assert page.status_code == 200, page.text
            body = page.json()
            return list(body["results"] if isinstance(body, dict) else body)

        comments = mail_stack.eventually(commented, what="the reply as a comment")
        assert [(c["author_id"], c["body"], c["internal"]) for c in comments] == [
            (client_id, "Ya funciona, gracias.", False)
        ]
        # Still one ticket: the reply joined it.
        assert len(opened()) == 1
