"""Mail as mail programs write it, for the inbound mail tests (``test_inbound*.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

#: Attachments as (file name, content, declared type).
Attachment = tuple[str, bytes, str]


def mail(
    *,
    sender: str = "ana@example.com",
    name: str = "Ana Example",
    subject: str = "Printer on floor 3 is jammed",
    body: str = "It shows error E-42 since this morning.",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: Iterable[Attachment] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>" if name else sender
    message["To"] = "Servidesk <soporte@servidesk.local>"
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or make_msgid(domain="client.example")
    message.set_content(body)
    # After set_content, which drops the Content-* headers it finds (Content-Language).
    for header, value in (headers or {}).items():
        message[header] = value
    for filename, content, content_type in attachments:
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def reply(
    *,
    ticket_id: int | None = None,
    subject: str = "Re: Printer on floor 3 is jammed",
    text: str = "Thanks, it prints again.",
    sender: str = "ana@example.com",
) -> bytes:
    """An answer to Servidesk's mail about ``ticket_id``: the quote below the new text,
    ``In-Reply-To``/``References`` naming the notification it answers."""
    headers = {}
    if ticket_id is not None:
        notification = f"<sd.{ticket_id}.created.1@servidesk.local>"
        headers = {"In-Reply-To": notification, "References": notification}
    body = (
        f"{text}\n\n"
        "On Mon, 7 Dec 2026 at 10:00, Servidesk <soporte@servidesk.local> wrote:\n"
        "> We received your request.\n"
        "> A technician will answer soon.\n"
    )
    return mail(sender=sender, subject=subject, body=body, headers=headers)


def bounce(*, original_message_id: str, recipient: str = "gone@example.org") -> bytes:
    """A delivery-status report (RFC 3464) as a mail server sends it back."""
    return f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: soporte@servidesk.local
Subject: Undelivered Mail Returned to Sender
Date: {formatdate(localtime=False)}
Message-ID: {make_msgid(domain="mx.example.org")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="dsn-boundary"

--dsn-boundary
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered to {recipient}.

--dsn-boundary
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--dsn-boundary
Content-Type: text/rfc822-headers

From: Servidesk <no-reply@servidesk.local>
To: {recipient}
Subject: [SD-7] We received your request
Message-ID: {original_message_id}

--dsn-boundary--
""".replace("\n", "\r\n").encode()
