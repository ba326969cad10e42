"""Real servers on loopback standing in for the outside world: SMTP and Twilio's Messages API.

Reusable by any test (cross-service ones too): nothing here imports Django or the
notifier. ``SmtpServer`` is a real SMTP server (aiosmtpd) that keeps what it receives
and can be stopped and started again on the same port (an outage), or told to refuse a
recipient. ``TwilioFake`` answers ``POST /2010-04-01/Accounts/<sid>/Messages.json`` like
Twilio does (same JSON, same errors, HTTP basic auth checked) and can be told to fail.

    with SmtpServer() as smtp, TwilioFake() as twilio:
        settings.EMAIL_HOST, settings.EMAIL_PORT = smtp.host, smtp.port
        settings.TWILIO_API_BASE_URL = twilio.base_url
        ...
        smtp.wait_for(2)
        assert twilio.messages[0].to == "+34600111222"
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class LoopbackServer:
    """A server on loopback that runs between ``start()`` and ``stop()``, or as a ``with``
    block."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# --- SMTP -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    received_at: float  # time.time() when the server accepted the DATA

    @property
    def subject(self) -> str:
        # Django folds a long encoded subject onto a continuation line; unfolded, it
        # keeps the fold's leading space, which mail clients drop too.
        return str(self.message["Subject"]).strip()

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


class _SmtpHandler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.server.refusals.get(address.lower())
        if refusal is not None:
            return f"{refusal} 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, smtp: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        message = BytesParser(policy=policy.default).parsebytes(raw)
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,
            received_at=time.time(),
        )
        with self.server.lock:
            self.server.mails.append(mail)
        return f"250 2.0.0 Ok: queued as {secrets.token_hex(6).upper()}"


class SmtpServer(LoopbackServer):
    """An aiosmtpd server on loopback, restartable on the same port."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.mails: list[ReceivedMail] = []
        #: address (lower case) -> SMTP code to refuse RCPT TO with, e.g. 550 or 450.
        self.refusals: dict[str, int] = {}
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(_SmtpHandler(self), hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Close the port: clients get "connection refused" until ``start()``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse(self, address: str, code: int = 550) -> None:
        self.refusals[address.lower()] = code

    def clear(self) -> None:
        with self.lock:
            self.mails.clear()
        self.refusals.clear()

    def received(self, to: str | None = None) -> list[ReceivedMail]:
        with self.lock:
            mails = list(self.mails)
        if to is None:
            return mails
        return [mail for mail in mails if to.lower() in (r.lower() for r in mail.rcpt_tos)]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        wait_until(lambda: len(self.mails) >= count, timeout)
        return self.received()


# --- Twilio -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SentSms:
    sid: str
    account_sid: str
    to: str
    from_: str
    messaging_service_sid: str
    body: str
    status_callback: str
    form: dict[str, list[str]]
    headers: dict[str, str]
    received_at: float


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    times: int


@dataclass
class _TwilioState:
    account_sid: str
    auth_token: str
    messages: list[SentSms] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    invalid_numbers: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=False).replace("-0000", "+0000")


class _TwilioHandler(BaseHTTPRequestHandler):
    server: _TwilioHttpServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: int, message: str) -> None:
        self._reply(
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
        )

    def _authorized(self, account_sid: str) -> bool:
        state = self.server.state
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == state.account_sid == account_sid and password == state.auth_token

    def _scripted_failure(self) -> tuple[int, int, str] | None:
        state = self.server.state
        with state.lock:
            if not state.failures:
                return None
            failure = state.failures[0]
            failure.times -= 1
            if failure.times <= 0:
                state.failures.pop(0)
        return failure.status, failure.code, failure.message

    def _invalid(self, to: str, body: str, from_: str, service: str) -> tuple[int, int, str] | None:
        """The checks Twilio makes on a new message, with its error codes."""
        if not to:
            return 400, 21604, "A 'To' phone number is required."
        if not body:
            return 400, 21602, "Message body is required."
        if not (from_ or service):
            return 400, 21603, "A 'From' phone number is required."
        return self.server.state.invalid_numbers.get(to)

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(length).decode()
        path = urlsplit(self.path).path
        with state.lock:
            state.requests.append(("POST", path))
        parts = path.strip("/").split("/")
        # /2010-04-01/Accounts/{AccountSid}/Messages.json
        if (
            len(parts) != 4
            or parts[:2] != ["2010-04-01", "Accounts"]
            or parts[3] != "Messages.json"
        ):
            self._error(404, 20404, f"The requested resource {path} was not found")
            return
        account_sid = parts[2]
        if not self._authorized(account_sid):
            self._error(401, 20003, "Authenticate")
            return
        form = parse_qs(raw, keep_blank_values=True)

        def one(name: str) -> str:
            return form.get(name, [""])[0]

        error = self._scripted_failure() or self._invalid(
            one("To"), one("Body"), one("From"), one("MessagingServiceSid")
        )
        if error is not None:
            self._error(*error)
            return
        to, body = one("To"), one("Body")

        sid = "SM" + secrets.token_hex(16)
        now = datetime.now(tz=UTC)
        sms = SentSms(
            sid=sid,
            account_sid=account_sid,
            to=to,
            from_=one("From"),
            messaging_service_sid=one("MessagingServiceSid"),
            body=body,
            status_callback=one("StatusCallback"),
            form=form,
            headers=dict(self.headers.items()),
            received_at=time.time(),
        )
        with state.lock:
            state.messages.append(sms)
        uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
        self._reply(
            HTTPStatus.CREATED,
            {
                "account_sid": account_sid,
                "api_version": "2010-04-01",
                "body": body,
                "date_created": _rfc2822(now),
                "date_sent": None,
                "date_updated": _rfc2822(now),
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": sms.from_ or None,
                "messaging_service_sid": sms.messaging_service_sid or None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "accepted" if sms.messaging_service_sid else "queued",
                "subresource_uris": {"media": f"{uri}/Media.json"},
                "to": to,
                "uri": f"{uri}.json",
            },
        )


class _TwilioHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    state: _TwilioState


class TwilioFake(LoopbackServer):
    """Twilio's Messages API on loopback for the official client (``TWILIO_API_BASE_URL``)."""

    def __init__(
        self,
        *,
        account_sid: str = "AC" + "0" * 31 + "1",
        auth_token: str = "fake-auth-token",  # noqa: S107 (a fake's credential)
        host: str = "127.0.0.1",
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.state = _TwilioState(account_sid, auth_token)
        self._server = _TwilioHttpServer((host, 0), _TwilioHandler)
        self._server.state = self.state
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}"

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._thread = None

    # --- scripting ------------------------------------------------------------------

    def fail_next(
        self,
        status: int = 500,
        *,
        times: int = 1,
        code: int | None = None,
        message: str = "Internal Server Error",
    ) -> None:
        """Answer the next ``times`` message requests with ``status`` (e.g. 500, 429)."""
        with self.state.lock:
            self.state.failures.append(_Failure(status, code or status, message, times))

    def reject_number(self, number: str, *, status: int = 400, code: int = 21211) -> None:
        """Refuse ``number`` as Twilio refuses an invalid ``To``: 400, code 21211."""
        self.state.invalid_numbers[number] = (
            status,
            code,
            f"The 'To' number {number} is not a valid phone number.",
        )

    # --- what it saw ----------------------------------------------------------------

    @property
    def messages(self) -> list[SentSms]:
        with self.state.lock:
            return list(self.state.messages)

    @property
    def request_count(self) -> int:
        with self.state.lock:
            return len(self.state.requests)

    def messages_to(self, number: str) -> list[SentSms]:
        return [sms for sms in self.messages if sms.to == number]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[SentSms]:
        wait_until(lambda: len(self.state.messages) >= count, timeout)
        return self.messages

    def clear(self) -> None:
        with self.state.lock:
            self.state.messages.clear()
            self.state.requests.clear()
            self.state.failures.clear()
        self.state.invalid_numbers.clear()


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """``X-Twilio-Signature`` as Twilio computes it (HMAC-SHA1 of URL + sorted params)."""
    from twilio.request_validator import RequestValidator

    return str(RequestValidator(auth_token).compute_signature(url, params))


def iter_texts(mails: list[ReceivedMail]) -> Iterator[str]:
    for mail in mails:
        yield mail.subject
        yield mail.text
        yield mail.html
