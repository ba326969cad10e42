"""End to end through the real nginx, on PostgreSQL and RabbitMQ, with mail and SMS caught.

The stack is started once for this module, exactly as `make up` starts it, with its mail
going to a real SMTP server on loopback and its SMS to a fake of Twilio's Messages API,
both running before the stack so the notifier's sender finds them from its first try.

1. The help-desk journey over HTTP: register, log in, confirm the email address with the
   link mailed to it and the phone with the code texted to it, open, assign, comment
   (public and internal), resolve, reopen; then what the people involved received (mail,
   SMS, in-app feed) and what the admin's report says.
2. The gateway's strict login zone answering 429 in the APIs' error shape.
3. One request id, sent by the caller, followed through the stack's log.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from proofs import (
    CODE_SMS,
    CONFIRM_LINK,
    code_sms,
    confirmation_mail,
    confirmation_token,
    sms_code,
)
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

from servidesk_testing.fakes import ReceivedMail, SentSms, SmtpServer, TwilioFake

pytestmark = pytest.mark.stack

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
PASSWORD = "Una-clave-larga-42"
CLIENT_PHONE = "+34600111222"
TWILIO_FROM = "+15005550006"
# What nginx answers itself when a limit_req zone refuses (nginx/routes.conf, @json_429).
NGINX_429 = {
    "message": "Too many requests. Please wait a moment and try again.",
    "extra": {"code": "rate_limited"},
}
# honcho's prefix: "22:31:07 gateway.1          | <the process's line>"
HONCHO_LINE = re.compile(r"^\S+\s+(?P<process>[\w-]+)\.\d+\s+\|\s?(?P<line>.*)$")


@dataclass
class E2E:
    stack: Stack
    smtp: SmtpServer
    twilio: TwilioFake

    def gateway(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.stack.base_url, timeout=15, **kwargs)


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2E]:
    """A PostgreSQL + RabbitMQ stack of its own whose mail and SMS reach the fakes."""
    if NGINX is None:
        pytest.skip("nginx is not installed")
    run = uuid.uuid4().hex[:8]
    with SmtpServer() as smtp, TwilioFake() as twilio:
        env = {
            f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_e2ej_{run}_{name}"
            for name in SERVICES
        }
        env |= {
            "BROKER_URL": RABBITMQ_URL,
            "SERVIDESK_EVENT_PREFIX": f"e2ej-{run}.",
            "EMAIL_HOST": smtp.host,
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_USE_TLS": "false",
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_FROM_NUMBER": TWILIO_FROM,
            "TWILIO_MESSAGING_SERVICE_SID": "",
            "TWILIO_API_BASE_URL": twilio.base_url,
            "TWILIO_STATUS_CALLBACK_URL": "off",
        }
        try:
            with running_stack(tmp_path_factory.mktemp("e2e-journey"), env) as stack:
                yield E2E(stack, smtp, twilio)
        finally:
            drop_stack_resources(env)


# --- 1. The journey ----------------------------------------------------------------------


@dataclass
class Journey:
    """What the journey left behind, for the checks of what people received."""

    number: str
    ticket_id: str
    client_email: str
    tech_email: str
    client: dict[str, str]
    technician: dict[str, str]
    public_reply: str
    client_reply: str
    internal_note: str


def new_technician(
    gateway: httpx.Client, admin: dict[str, str], tag: str
) -> tuple[str, str, dict[str, str]]:
    """(id, email, auth headers) of a technician the admin creates through accounts."""
    # A technician of this test's own, so the report can be filtered to this journey
    # alone (the demo seed may be adding tickets for the demo technicians meanwhile).
    tech_name = f"tec{tag}"
    tech_email = f"{tech_name}@example.com"
    made = gateway.post(
        "/api/accounts/users/",
        json={
            "username": tech_name,
            "email": tech_email,
            "password": PASSWORD,
            "full_name": "Tecnica de Prueba",
            "role": "technician",
        },
        headers=admin,
    )
    assert made.status_code == 201, made.text
    tech_id = made.json()["id"]
    technician = login(gateway, tech_name, PASSWORD)

    return tech_id, tech_email, technician


def new_client(e2e: E2E, gateway: httpx.Client, tag: str) -> tuple[str, str, dict[str, str]]:
    """(id, email, auth headers) of a client who registers, with SMS on, and proves their
    address and number by what reached them: the link mailed and the code texted."""
    # The client signs up (no language given: Spanish is the default) with a phone.
    client_name = f"cli{tag}"
    client_email = f"{client_name}@example.com"
    registered = gateway.post(
        "/api/accounts/auth/register/",
        json={
            "username": client_name,
            "email": client_email,
            "password": PASSWORD,
            "full_name": "Cliente de Prueba",
            "phone": CLIENT_PHONE,
            "notify_sms": True,
        },
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["id"]
    client = login(gateway, client_name, PASSWORD)
    me = gateway.get("/api/accounts/me/", headers=client).json()
    if me["phone"] != CLIENT_PHONE or not me["notify_sms"]:
        patched = gateway.patch(
            "/api/accounts/me/",
            json={"phone": CLIENT_PHONE, "notify_sms": True},
            headers=client,
        )
        assert patched.status_code == 200, patched.text
        me = patched.json()
    assert me["role"] == "client"
    assert me["language"] == "es"
    assert (me["phone"], me["notify_sms"], me["notify_email"]) == (CLIENT_PHONE, True, True)
    # Neither proved yet: nothing but the proofs themselves goes to them.
    assert (me["email_verified"], me["phone_verified"]) == (False, False)

    # The confirmation mail, in Spanish, to the new address alone, with web's link.
    mail = confirmation_mail(e2e.smtp, client_email)
    assert mail.rcpt_tos == (client_email,)
    assert mail.subject == "Confirma tu dirección de correo para Servidesk", mail.subject
    assert "Hola" in mail.text, mail.text
    link = CONFIRM_LINK.search(mail.text)
    assert link is not None
    assert "/confirm-email/" in link[0]
    # The code SMS, in Spanish, from the desk's number.
    sms = code_sms(e2e.twilio, CLIENT_PHONE)
    assert sms.from_ == TWILIO_FROM
    assert sms.account_sid == e2e.twilio.account_sid
    assert "tu código es" in sms.body, sms.body

    # A wrong code is refused and proves nothing; the right one does.
    code = sms_code(sms)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = gateway.post("/api/accounts/me/phone/verify/", json={"code": wrong}, headers=client)
    assert refused.status_code == 400, refused.text
    verified = gateway.post("/api/accounts/me/phone/verify/", json={"code": code}, headers=client)
    assert verified.status_code == 200, verified.text
    assert verified.json()["phone_verified"] is True
    # The link's token, sent back by web's /confirm-email/<token>/ page for the client.
    token = confirmation_token(mail)
    confirmed = gateway.post(
        "/api/accounts/me/email/confirm/", json={"token": token}, headers=client
    )
    assert confirmed.status_code == 200, confirmed.text
    me = gateway.get("/api/accounts/me/", headers=client).json()
    assert (me["email"], me["email_verified"], me["phone_verified"]) == (client_email, True, True)
    # The link works once.
    again = gateway.post("/api/accounts/me/email/confirm/", json={"token": token}, headers=client)
    assert again.status_code == 400, again.text

    wait_for_notifier_card(e2e, client_id)
    return client_id, client_email, client


def wait_for_notifier_card(e2e: E2E, user_id: str) -> None:
    """Until notifier's contact card says both proofs arrived (``user.updated``).

    A person would not wait; the test does, because the card's update (from accounts'
    relay) and the ticket's first event (from tickets' relay) have no order between them,
    and a ticket event that came first would rightly find an unconfirmed address.
    """
    url = e2e.stack.env["NOTIFIER_DATABASE_URL"]

    def proved() -> bool:
        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT email_verified AND phone_verified FROM notifications_contact "
                "WHERE user_id = %s",
                (str(user_id),),
            ).fetchone()
        return bool(row and row[0])

    eventually(proved, what="notifier's card with the confirmed address and verified phone")


def test_the_help_desk_journey_reaches_mail_sms_feed_and_reports(e2e: E2E) -> None:
    tag = uuid.uuid4().hex[:8]
    public_reply = f"Reinicie la impresora y pruebe de nuevo ({tag})."
    internal_note = f"NOTA-INTERNA-{tag}: el cliente no tiene garantia"
    client_reply = f"Sigue sin imprimir, sale el error E-42 ({tag})."

    with e2e.gateway() as gateway:
        admin = login(gateway, *DEMO_ADMIN)

        tech_id, tech_email, technician = new_technician(gateway, admin, tag)
        client_id, client_email, client = new_client(e2e, gateway, tag)

        # The client opens a ticket (tickets learns of the user through user.registered).
        def opened() -> dict[str, Any] | None:
            response = gateway.post(
                "/api/tickets/",
                json={
                    "title": f"La impresora no imprime {tag}",
                    "description": "Desde ayer no sale nada por la bandeja.",
                    "priority": "high",
                },
                headers=client,
            )
            return response.json() if response.status_code == 201 else None

        ticket = eventually(opened, what="the client's ticket to be accepted")
        number, ticket_url = ticket["number"], f"/api/tickets/{ticket['id']}/"
        assert re.fullmatch(r"SD-\d+", number), number
        assert (ticket["status"], str(ticket["client_id"])) == ("pending", str(client_id))

        # The technician takes it (once tickets' directory knows them), works it, answers.
        def assigned() -> dict[str, Any] | None:
            response = gateway.post(
                f"{ticket_url}assign/", json={"assignee_id": tech_id}, headers=technician
            )
            return response.json() if response.status_code == 200 else None

        taken = eventually(assigned, what="the new technician in tickets' directory")
        assert str(taken["assignee_id"]) == str(tech_id)

        def move(status: str, headers: dict[str, str]) -> dict[str, Any]:
            response = gateway.post(
                f"{ticket_url}status/", json={"status": status}, headers=headers
            )
            assert response.status_code == 200, response.text
            return dict(response.json())

        def comment(body: str, headers: dict[str, str], *, internal: bool = False) -> None:
            response = gateway.post(
                f"{ticket_url}comments/", json={"body": body, "internal": internal}, headers=headers
            )
            assert response.status_code == 201, response.text

        move("in_progress", technician)
        comment(public_reply, technician)
        comment(internal_note, technician, internal=True)
        comment(client_reply, client)

        # The client never sees the internal note, in the API either.
        bodies = [
            c["body"]
            for c in gateway.get(f"{ticket_url}comments/", headers=client).json()["results"]
        ]
        assert public_reply in bodies
        assert client_reply in bodies
        assert internal_note not in bodies

        assert move("resolved", technician)["resolved_at"]

        # reports: filtered to this technician, the one ticket is created and resolved.
        def summary() -> dict[str, int]:
            response = gateway.get(
                "/api/reports/summary/", params={"assignee_id": tech_id}, headers=admin
            )
            assert response.status_code == 200, response.text
            return dict(response.json()["totals"])

        eventually(
            lambda: summary()["resolved"] == 1,
            what="the resolution in reports' projection",
        )
        resolved_totals = summary()
        assert (resolved_totals["created"], resolved_totals["reopened"]) == (1, 0)

        # The client is not satisfied and reopens it.
        assert move("in_progress", client)["status"] == "in_progress"

        eventually(
            lambda: summary()["reopened"] == 1,
            what="the reopening in reports' projection",
        )
        totals = summary()
        assert (totals["created"], totals["resolved"], totals["reopened"]) == (1, 0, 1)
        assert totals["open"] == 1

        journey = Journey(
            number=number,
            ticket_id=str(ticket["id"]),
            client_email=client_email,
            tech_email=tech_email,
            client=client,
            technician=technician,
            public_reply=public_reply,
            client_reply=client_reply,
            internal_note=internal_note,
        )
        assert_mail_and_sms(e2e, journey)
        assert_feeds(gateway, journey)


def assert_mail_and_sms(e2e: E2E, journey: Journey) -> None:
    """What reached the SMTP server and the Twilio fake, and what never did."""
    number, ticket_id = journey.number, journey.ticket_id
    client_email, tech_email = journey.client_email, journey.tech_email
    public_reply, client_reply = journey.public_reply, journey.client_reply
    internal_note = journey.internal_note

    # --- Mail ---------------------------------------------------------------------
    # The client: the creation receipt, in progress, the public answer, resolved (and,
    # before them, the confirmation link). The technician, whose address the admin gave
    # (confirmed), the client's reply and the reopening (never their own acts).
    def ticket_mails(to: str) -> list[ReceivedMail]:
        return [m for m in e2e.smtp.received(to=to) if not CONFIRM_LINK.search(m.text)]

    def ticket_sms() -> list[SentSms]:
        return [s for s in e2e.twilio.messages_to(CLIENT_PHONE) if not CODE_SMS.search(s.body)]

    client_mails: list[ReceivedMail] = eventually(
        lambda: len(ticket_mails(client_email)) >= 4 and ticket_mails(client_email),
        what="four mails to the client",
    )
    tech_mails: list[ReceivedMail] = eventually(
        lambda: len(ticket_mails(tech_email)) >= 2 and ticket_mails(tech_email),
        what="two mails to the technician",
    )
    # --- SMS: the client asked for them; the technician has no phone.
    client_sms: list[SentSms] = eventually(
        lambda: len(ticket_sms()) >= 4 and ticket_sms(),
        what="four SMS to the client",
    )
    time.sleep(1.5)  # anything that was still on its way (it must not be the note)
    client_mails = ticket_mails(client_email)
    tech_mails = ticket_mails(tech_email)
    client_sms = ticket_sms()

    # Exactly one confirmation mail and one code SMS, and nothing else besides the ticket's.
    assert len(e2e.smtp.received(to=client_email)) == len(client_mails) + 1
    assert e2e.smtp.received(to=tech_email) == tech_mails
    assert len(e2e.twilio.messages_to(CLIENT_PHONE)) == len(client_sms) + 1
    assert len(client_mails) == 4, [m.subject for m in client_mails]
    assert len(tech_mails) == 2, [m.subject for m in tech_mails]
    for mail in client_mails + tech_mails:
        assert len(mail.rcpt_tos) == 1, mail.rcpt_tos
        assert number in mail.text, mail.subject
        assert number in mail.html, mail.subject
        assert "Hola" in mail.text, mail.text  # Spanish by default
        assert f"/tickets/{ticket_id}/" in mail.text
    # SD-1 must not match the demo seed's SD-10.
    about_ticket = [m for m in e2e.smtp.received() if re.search(rf"{number}(?!\d)", m.text)]
    assert {r for m in about_ticket for r in m.rcpt_tos} == {client_email, tech_email}
    assert any(public_reply in m.text for m in client_mails)
    assert any(client_reply in m.text for m in tech_mails)
    assert not any(client_reply in m.text for m in client_mails)  # not told of own act
    for mail in e2e.smtp.received():
        assert internal_note not in f"{mail.subject}\n{mail.text}\n{mail.html}"

    assert len(client_sms) == 4, [s.body for s in client_sms]
    for sms in client_sms:
        assert sms.from_ == TWILIO_FROM
        assert sms.account_sid == e2e.twilio.account_sid
        assert number in sms.body, sms.body
    assert not any(internal_note in sms.body for sms in e2e.twilio.messages)


def assert_feeds(gateway: httpx.Client, journey: Journey) -> None:
    """The in-app notifications of both sides for this ticket."""
    client, technician = journey.client, journey.technician
    internal_note = journey.internal_note

    # --- In-app feeds -------------------------------------------------------------
    def feed(headers: dict[str, str]) -> list[dict[str, Any]]:
        response = gateway.get("/api/notifications/", headers=headers)
        assert response.status_code == 200, response.text
        return [
            n for n in response.json()["results"] if str(n["ticket_id"]) == str(journey.ticket_id)
        ]

    client_feed = eventually(lambda: len(feed(client)) >= 4 and feed(client), what="feed")
    assert sorted(n["event_type"] for n in client_feed) == [
        "ticket.commented",
        "ticket.created",
        "ticket.status_changed",
        "ticket.status_changed",
    ]
    tech_feed = feed(technician)
    assert sorted(n["event_type"] for n in tech_feed) == [
        "ticket.commented",
        "ticket.status_changed",
    ]
    for entry in client_feed + tech_feed:
        assert internal_note not in f"{entry['title']} {entry['body']}"
        assert entry["read"] is False
    unread = gateway.get("/api/notifications/unread-count/", headers=client).json()
    assert unread["count"] >= 4


# --- 3. One request id through the logs -----------------------------------------------------


def log_lines_with(log: Path, request_id: str) -> dict[str, list[dict[str, Any]]]:
    """The stack log's JSON lines carrying ``request_id``, by honcho process name."""
    found: dict[str, list[dict[str, Any]]] = {}
    for raw in log.read_text(errors="replace").splitlines():
        if request_id not in raw:
            continue
        match = HONCHO_LINE.match(raw)
        if match is None:
            continue
        try:
            record = json.loads(match["line"])
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("request_id") == request_id:
            found.setdefault(match["process"], []).append(record)
    return found


def web_login_form(
    browser: httpx.Client, username: str, password: str, **kw: Any
) -> httpx.Response:
    page = browser.get("/login/")
    assert page.status_code == 200, page.text[:500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None, "no CSRF token in web's login form"
    return browser.post(
        "/login/",
        data={"csrfmiddlewaretoken": token[1], "username": username, "password": password},
        **kw,
    )


def test_a_request_id_is_followed_through_the_logs(e2e: E2E) -> None:
    with e2e.gateway(follow_redirects=True) as browser:
        # The tickets list: web composes it from the APIs, calling them with the id.
        signed_in = web_login_form(browser, *DEMO_ADMIN)
        assert signed_in.status_code == 200
        assert "/login/" not in str(signed_in.url), signed_in.url
        page_id = f"e2e-{uuid.uuid4()}"
        page = browser.get("/tickets/", headers={"X-Request-ID": page_id}, follow_redirects=False)
        assert page.status_code == 200
        assert page.headers["X-Request-ID"] == page_id

        # A request that makes a service log: the failure that locks an account, sent
        # through web's login form (web → accounts carries the id).
        victim = f"nadie{uuid.uuid4().hex[:8]}"
        locking_id = f"e2e-{uuid.uuid4()}"
        browser.cookies.clear()
        for attempt in range(5):  # accounts' LOGIN_FAILURE_LIMIT
            last = attempt == 4
            refused = web_login_form(
                browser,
                victim,
                "not-the-password",
                headers={"X-Request-ID": locking_id} if last else {},
            )
            assert refused.status_code == 400  # the form again, with the error
            assert "/login/" in str(refused.url)

    page_lines = eventually(
        lambda: log_lines_with(e2e.stack.log, page_id).get("gateway"),
        what="nginx's access log line for the page",
    )
    assert len(page_lines) == 1, page_lines
    (access,) = page_lines
    assert (access["method"], access["uri"], access["status"]) == ("GET", "/tickets/", 200)
    assert access["upstream"].endswith(f":{e2e_port(e2e, 'web')}"), access

    # Each process writes its own line when it is done: nginx logs after accounts and web
    # have answered, so wait for every line asserted on below, not the first to arrive.
    locking = eventually(
        lambda: (
            (found := log_lines_with(e2e.stack.log, locking_id)).keys() >= {"gateway", "accounts"}
            and any(line.get("path") == "/api/accounts/auth/token/" for line in found["accounts"])
            and found
        ),
        what="nginx's line and accounts' lockout warning with the id web passed along",
    )
    assert [r["uri"] for r in locking["gateway"]] == ["/login/"]
    assert locking["gateway"][0]["upstream"].endswith(f":{e2e_port(e2e, 'web')}")
    (warning,) = [line for line in locking["accounts"] if line["level"] == "WARNING"]
    assert warning["service"] == "accounts"
    assert "sign-in locked" in warning["message"]
    # ...next to accounts' own access line for the refused token request.
    assert any(
        line.get("path") == "/api/accounts/auth/token/" and line.get("status") in {400, 401, 429}
        for line in locking["accounts"]
    ), locking["accounts"]

    # Every service logs each request it answers with the id it was given: the page's id
    # is in nginx's line, in web's, and in the lines of the APIs web called to compose it.
    page_ids = eventually(
        lambda: (
            (found := log_lines_with(e2e.stack.log, page_id)).keys()
            >= {"gateway", "web", "tickets", "notifier"}
            and found
        ),
        what="the page's id in web's and the APIs' access lines",
    )
    (web_line,) = page_ids["web"]
    assert (web_line["path"], web_line["status"]) == ("/tickets/", 200)
    assert all(line["path"].startswith("/api/tickets/") for line in page_ids["tickets"])


def e2e_port(e2e: E2E, service: str) -> str:
    """The local port the stack gave ``service`` (read back from the rendered nginx.conf)."""
    conf = (e2e.stack.log.parent / "nginx" / "nginx.conf").read_text()
    block = re.search(rf"upstream servidesk_{service}\s*\{{(?P<body>[^}}]*)\}}", conf)
    assert block is not None, f"no upstream for {service} in nginx.conf"
    server = re.search(r"server\s+[\d.]+:(\d+)", block["body"])
    assert server is not None, block["body"]
    return server[1]


# --- 2. The strict login zone -------------------------------------------------------------
# Last in the module: it spends the strict zone's burst for 127.0.0.1.


def test_the_strict_login_zone_answers_429_in_the_api_shape(e2e: E2E) -> None:
    answers: list[httpx.Response] = []
    started = time.monotonic()
    with e2e.gateway() as gateway:
        for attempt in range(40):
            response = gateway.post(
                "/api/accounts/auth/token/",
                # A different account each time: accounts' per-account lockout stays out.
                json={"username": f"nadie{uuid.uuid4().hex[:6]}{attempt}", "password": "x" * 12},
            )
            answers.append(response)
            if response.status_code == 429:
                break
    elapsed = time.monotonic() - started
    statuses = [r.status_code for r in answers]
    limited = answers[-1]
    assert limited.status_code == 429, statuses
    assert set(statuses[:-1]) <= {400, 401}, statuses

    body = limited.json()
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["extra"], dict)
    assert limited.headers["content-type"].startswith("application/json")
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["X-Request-ID"]
    # nginx answered, not accounts' throttle: its zone (10r/m, burst 10) trips long before
    # accounts' login_ip (30/min), and each attempt names another account.
    assert body == NGINX_429, body
    # The burst of 10, plus the slot the zone gives back every 6 s while accounts hashes
    # each refused password (slow on a busy machine).
    assert len(answers) <= 11 + math.ceil(elapsed / 6), (statuses, elapsed)

    request_id = limited.headers["X-Request-ID"]
    (access,) = eventually(
        lambda: log_lines_with(e2e.stack.log, request_id).get("gateway"),
        what="nginx's line for the refused request",
    )
    assert access["status"] == 429, access
    assert access["upstream"] in {"", "-"}, access
