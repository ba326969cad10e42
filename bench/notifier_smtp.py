"""The notifier benchmark's SMTP server: real SMTP sessions on loopback, cheap bookkeeping.

It is part of the measured system's environment, not of the product. It is aiosmtpd (the
same server as the tests' ``SmtpServer``) speaking the whole protocol: greeting, EHLO,
MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET, NOOP, QUIT, several messages per
session. What it skips is what a mail server would do after accepting a message: it does
not parse the MIME message. For each accepted DATA it keeps only the value of the
``X-Servidesk-Event`` header (found with one regular expression in the header block) and
the time it accepted it, which is all the benchmark needs to match a mail to its event.
The tests' server parses every message with ``email.parser`` so that tests can read it;
that parse costs about as much CPU per mail as the sender itself, which would blur what
the benchmark measures.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Final

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_EVENT_HEADER: Final = re.compile(rb"^X-Servidesk-Event:[ \t]*([^\r\n]*)", re.IGNORECASE | re.M)


def event_header(content: bytes) -> str:
    """The ``X-Servidesk-Event`` header of a raw message ("" without one)."""
    end = content.find(b"\r\n\r\n")
    head = content if end < 0 else content[: end + 2]
    match = _EVENT_HEADER.search(head)
    return match.group(1).strip().decode("ascii", "replace") if match else ""


class _CountingHandler:
    def __init__(self, server: CountingSmtpServer) -> None:
        self.server = server

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        stamp = (event_header(raw), time.time())
        with self.server.lock:
            self.server.accepted.append(stamp)
        return "250 2.0.0 Ok: queued"


class CountingSmtpServer:
    """aiosmtpd on ``host:port`` that records ``(X-Servidesk-Event, accepted at)`` per mail."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.accepted: list[tuple[str, float]] = []
        self.lock = threading.Lock()
        self._controller = Controller(_CountingHandler(self), hostname=host, port=port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def count(self) -> int:
        return len(self.accepted)

    def mails(self) -> list[tuple[str, float]]:
        with self.lock:
            return list(self.accepted)

    def clear(self) -> None:
        with self.lock:
            self.accepted.clear()
