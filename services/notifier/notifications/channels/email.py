"""Email through Django's email backend, rendered by django-templated-mail (HTML + text).

One backend connection (one SMTP session) serves many messages: the sender keeps the
transport open from batch to batch while there is work. A session left idle for a while
is checked with ``NOOP`` before it is used again, and reopened if the server dropped it.
The first connection-level failure (server unreachable, dropped, timing out) marks the
transport broken: the rest of the batch fails as transient without trying each message
(they would wait for the same dead server one after another), and the sender drops it.

Every mail about a ticket belongs to its recipient's thread about it (``mail_thread``):
its Message-ID starts with ``<sd.<ticket id>.``, it answers the thread's first mail, its
``Reply-To`` and envelope sender are ``SUPPORT_EMAIL`` (the ``From`` header stays
``DEFAULT_FROM_EMAIL``) and its subject is ``[SD-123] <title>``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import smtplib
import time
from email.policy import Compat32
from types import TracebackType
from typing import Any, Final, Self

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import translation
from templated_mail.mail import BaseEmailMessage

from notifications import mail_thread
from notifications.channels.base import PermanentError, Sent, Skip, TransientError
from notifications.messages import compose, language_for, one_line
from notifications.models import Channel, Contact, Delivery

logger = logging.getLogger(__name__)

TEMPLATE: Final = "notifications/email/ticket.html"
#: SMTP codes that mean "this will not work for this message, ever".
_PERMANENT_FROM: Final = 500
#: Seconds a session may sit unused before it is checked with NOOP before the next mail.
IDLE_CHECK_AFTER: Final = 1.0


class ShortHeadersPolicy(Compat32):
    """Django's policy (``compat32``) without ``email.header.Header`` where it does nothing.

    ``compat32`` folds every header through ``Header(...).encode()``, which was a large
    share of the sender's CPU. A header that is ASCII, on one line and fits in
    ``max_line_length`` comes out of it unchanged, so it is written as it is; any other one
    goes the usual way.
    The bytes are the same either way (``tests/test_email.py`` compares them).
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        limit = self.max_line_length or 0
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + 2 + len(value) <= limit
            and "\n" not in value
            and "\r" not in value
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return bytes(super().fold_binary(name, value))


SHORT_HEADERS: Final = ShortHeadersPolicy()


class TicketEmail(BaseEmailMessage):  # type: ignore[misc]  # templated_mail is untyped
    template_name = TEMPLATE

    def message(self) -> Any:
        message = super().message()
        message.policy = SHORT_HEADERS  # the generator serialises every part with it
        # A random boundary of our own: the generator's own one is checked against the
        # whole text with a freshly compiled regular expression, mail after mail. This
        # one cannot be guessed by whoever wrote the ticket, and is short enough for the
        # Content-Type header to stay on one line.
        message.set_boundary(f"=_{secrets.token_hex(12)}")
        return message


def skip_reason(contact: Contact) -> str | None:
    if not contact.is_active:
        return "recipient is inactive"
    if not contact.notify_email:
        return "recipient turned email notifications off"
    if not contact.email:
        return "recipient has no email address"
    if not contact.email_verified:
        return "recipient's email address is not confirmed"
    return None


def destination(delivery: Delivery, contact: Contact | None) -> str:
    """The address ``delivery`` goes to; ``Skip`` with the reason when it must not go."""
    if contact is None:
        raise Skip("no contact card for this user")
    reason = skip_reason(contact)
    if reason:
        raise Skip(reason)
    return contact.email


def message_id(delivery: Delivery) -> str:
    """A Message-ID fixed per delivery: a resend after a crash is recognisably the same mail."""
    return mail_thread.message_id(
        ticket_id=delivery.ticket_id, event_id=delivery.event_id, recipient_id=delivery.recipient_id
    )


def build_message(delivery: Delivery, contact: Contact) -> TicketEmail:
    language = language_for(contact.language)
    composed = compose(delivery.context, language)
    context: dict[str, Any] = {
        "composed": composed,
        "ticket": delivery.context["ticket"],
        "recipient_name": contact.display_name,
        "site_name": "Servidesk",
        "language": language,
    }
    message = TicketEmail(context=context)
    with translation.override(language):
        message.render()
    message.to = [contact.email]
    message.from_email = mail_thread.bounce_address()  # the envelope's: bounces come back
    message.reply_to = [one_line(mail_thread.support_address())]
    own_id = message_id(delivery)
    message.extra_headers = {
        "From": settings.DEFAULT_FROM_EMAIL,
        "Message-ID": own_id,
        **mail_thread.thread_headers(own_id=own_id, root_id=delivery.context.get("thread_root")),
        "Auto-Submitted": "auto-generated",
        "Content-Language": language,
        "X-Servidesk-Event": str(delivery.event_id),
    }
    return message


def _smtp_code_reason(exc: smtplib.SMTPResponseException) -> str:
    detail = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"SMTP {exc.smtp_code} {detail}".strip()


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class EmailTransport:
    channel = Channel.EMAIL

    def __init__(self, backend: BaseEmailBackend | None = None) -> None:
        self.backend = backend or get_connection(fail_silently=False)
        self.broken: str | None = None
        self.last_used = time.monotonic()

    @property
    def usable(self) -> bool:
        return self.broken is None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        # Closing a connection the server already dropped may raise; nothing left to do.
        with contextlib.suppress(Exception):
            self.backend.close()

    def _check_idle_session(self) -> None:
        """Close a session that sat unused and no longer answers, so that it is reopened.

        Servers drop idle sessions (and restart); without this the first mail after a
        quiet spell would fail as transient and wait for its retry.
        """
        connection = getattr(self.backend, "connection", None)
        if connection is None or time.monotonic() - self.last_used < IDLE_CHECK_AFTER:
            return
        try:
            code, _text = connection.noop()
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != 250:  # SMTP "OK"
            self._close()

    def destination(self, delivery: Delivery, contact: Contact | None) -> str:
        return destination(delivery, contact)

    def send(self, delivery: Delivery, contact: Contact | None) -> Sent:
        if contact is None:
            raise Skip("no contact card for this user")
        destination(delivery, contact)
        if self.broken:
            raise TransientError(self.broken)
        try:
            message = build_message(delivery, contact)
        except ValueError as exc:  # an address or header Django refuses to put in a mail
            raise PermanentError(f"cannot build the message: {exc}") from exc
        self._check_idle_session()
        try:
            self.backend.open()
            sent = self.backend.send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            reason = "recipient refused: " + "; ".join(
                f"{code} {_clean(text.decode(errors='replace'))}"
                for code, text in exc.recipients.values()
            )
            self._close()
            if codes and all(code >= _PERMANENT_FROM for code in codes):
                raise PermanentError(reason) from exc
            raise TransientError(reason) from exc
        except smtplib.SMTPDataError as exc:
            self._close()
            if exc.smtp_code >= _PERMANENT_FROM:
                raise PermanentError(_clean(_smtp_code_reason(exc))) from exc
            raise TransientError(_clean(_smtp_code_reason(exc))) from exc
        except smtplib.SMTPResponseException as exc:
            # Sender refused, authentication, HELO: the server or our configuration, not
            # this message. Retried (bounded) so that fixing the configuration heals it.
            self.broken = _clean(_smtp_code_reason(exc))
            self._close()
            raise TransientError(self.broken) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.broken = f"SMTP server unavailable: {type(exc).__name__}: {exc}"
            self._close()
            raise TransientError(self.broken) from exc
        self.last_used = time.monotonic()
        if not sent:
            raise PermanentError("the email backend accepted nothing")
        return Sent(address=contact.email, provider_id=message.extra_headers["Message-ID"])
