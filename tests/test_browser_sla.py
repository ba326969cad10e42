"""Satisfaction, SLA clocks and business calendars (issue 19) in the machine's Chromium
(Playwright), against the whole stack behind nginx started as `make up` starts it (on
PostgreSQL and RabbitMQ, free ports), its mail sent to a real SMTP server on loopback.

Covered: the rating link of a real resolution mail (``?rating=good`` is recorded by the
page's own script, without a click; the answer then changes to bad with a comment), the
pages of an expired and of a forged link, a ticket's SLA clocks for staff and the "wait
for the client" move, and an admin's calendars page (a calendar with two openings on
Monday and a holiday; a refused one with the error next to its field).

Screenshots of every step go to var/test-artifacts/browser/ (kept after the run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import CHROMIUM, Browser, Page, chromium, expect, shot, sign_in
from stack import (
    DEMO_ADMIN,
    DEMO_TECHNICIAN,
    POSTGRES_URL,
    RABBITMQ_URL,
    ROOT,
    SERVICES,
    Stack,
    drop_stack_resources,
    eventually,
    free_port,
    running_stack,
)

from servidesk_testing.fakes import ReceivedMail, SmtpServer

PASSWORD = "Una-clave-larga-42"

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(
        not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()),
        reason="nginx is not installed (apt-get install -y nginx)",
    ),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Stack]:
    run = uuid.uuid4().hex[:8]
    gateway = f"127.0.0.1:{free_port()}"
    env = {
        f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_bsla_{run}_{name}"
        for name in SERVICES
    }
    env |= {
        "BROKER_URL": RABBITMQ_URL,
        "SERVIDESK_EVENT_PREFIX": f"bsla-{run}.",
        "GATEWAY_LISTEN": gateway,
        # The mails' rating links lead to this stack's own web.
        "WEB_BASE_URL": f"http://{gateway}",
        "EMAIL_HOST": smtp.host,
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": "false",
        # Each test signs the demo users in afresh (a browser profile of its own): a run's
        # sign-ins, not guessing (the throttles have tests of their own).
        "THROTTLE_LOGIN_ACCOUNT": "60/min",
        "THROTTLE_LOGIN_IP": "120/min",
    }
    with ExitStack() as cleanup:
        cleanup.callback(drop_stack_resources, env)  # runs after the stack has stopped
        yield cleanup.enter_context(running_stack(tmp_path_factory.mktemp("browser-sla"), env))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def new_page(browser: Browser, stack: Stack) -> Iterator[Callable[..., Page]]:
    """A page in a fresh browser profile (its own cookies), Spanish unless told. Deleting
    asks first (``window.confirm``, accepted); any other dialog fails the test."""
    contexts: list[Any] = []
    unexpected: list[str] = []

    def make(locale: str = "es-ES", **options: Any) -> Page:
        context = browser.new_context(base_url=stack.base_url, locale=locale, **options)
        context.set_default_timeout(30_000)  # a password hash on a busy 2-core machine
        contexts.append(context)
        page = context.new_page()

        def on_dialog(dialog: Any) -> None:
            if dialog.type == "confirm":
                dialog.accept()
            else:
                unexpected.append(f"{dialog.type}: {dialog.message}")
                dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not unexpected, f"unexpected dialogs: {unexpected}"


# --- The APIs, for each test's own data ------------------------------------------------


class Api:
    """The stack's APIs on each service's own port (the gateway's sign-in limit is for the
    browser's sign-ins), as the demo ``admin`` or ``technician``, a client made here, or
    nobody."""

    PREFIXES = (
        ("accounts", "/api/accounts/"),
        ("tickets", "/api/tickets/"),
        ("notifier", "/api/notifications/"),
    )

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.users: dict[str, tuple[str, str]] = {
            "admin": DEMO_ADMIN,
            "technician": DEMO_TECHNICIAN,
        }
        self.tokens: dict[str, str] = {}

    def url(self, path: str) -> str:
        service = next(name for name, prefix in self.PREFIXES if path.startswith(prefix))
        return f"{self.stack.service_url(service)}{path}"

    def call(self, method: str, path: str, who: str = "", expected: int = 200, **kw: Any) -> Any:
        response = httpx.request(method, self.url(path), headers=self.auth(who), timeout=30, **kw)
        if who and response.status_code == 401:  # the access token expired: sign in again
            self.tokens.pop(who)
            response = httpx.request(
                method, self.url(path), headers=self.auth(who), timeout=30, **kw
            )
        assert response.status_code == expected, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def auth(self, who: str) -> dict[str, str]:
        if not who:
            return {}
        if who not in self.tokens:
            username, password = self.users[who]
            answer = self.call(
                "POST",
                "/api/accounts/auth/token/",
                json={"username": username, "password": password},
            )
            self.tokens[who] = answer["access"]
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def new_client(self, run: str) -> dict[str, Any]:
        """A client the admin makes (their address counts as confirmed, so mail reaches
        it), known to tickets (by event); signed in as ``client-<run>``."""
        name = f"cli{run}"
        user: dict[str, Any] = self.call(
            "POST",
            "/api/accounts/users/",
            "admin",
            201,
            json={
                "username": name,
                "email": f"{name}@example.com",
                "password": PASSWORD,
                "full_name": f"Cliente {run}",
                "role": "client",
                "language": "es",
            },
        )
        self.users[f"client-{run}"] = (name, PASSWORD)

        def known() -> bool:
            found = self.call("GET", "/api/tickets/clients/", "admin", params={"q": name})
            return any(str(person["id"]) == str(user["id"]) for person in found)

        eventually(known, what=f"{name} in tickets' directory")
        return user

    def new_ticket(self, client: dict[str, Any], title: str, *moves: str) -> dict[str, Any]:
        """A ticket the demo technician opens for ``client``, takes, and moves."""
        ticket: dict[str, Any] = self.call(
            "POST",
            "/api/tickets/",
            "technician",
            201,
            json={
                "title": title,
                "description": f"Descripción de {title}.",
                "client_id": client["id"],
            },
        )
        me = self.call("GET", "/api/accounts/me/", "technician")
        path = f"/api/tickets/{ticket['id']}/"
        self.call("POST", f"{path}assign/", "technician", json={"assignee_id": me["id"]})
        for status in moves:
            ticket = self.call("POST", f"{path}status/", "technician", json={"status": status})
        return ticket

    def ticket(self, ticket_id: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/api/tickets/{ticket_id}/", "admin")
        return found

    def csat(self, token: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/api/tickets/csat/{token}/")
        return found


@pytest.fixture(scope="module")
def api(stack: Stack) -> Api:
    return Api(stack)


@pytest.fixture
def run() -> str:
    """This test's own mark, in every name it makes."""
    return uuid.uuid4().hex[:8]


def notice(page: Page) -> Any:
    return page.locator("ul.messages .notice-success")


RATING_LINK = re.compile(r"(?P<link>http://[^\s<>\"]+/csat/(?P<token>[^/\s<>\"]+)/)\?rating=good")


def rating_link(smtp: SmtpServer, client: dict[str, Any], number: str) -> tuple[str, str]:
    """The "good" link of the client's resolution mail about ``number``, and its page."""

    def mails() -> list[ReceivedMail]:
        return [
            mail
            for mail in smtp.received(to=client["email"])
            if f"[{number}]" in mail.subject and RATING_LINK.search(mail.text)
        ]

    mail = eventually(mails, timeout=120, what=f"the resolution mail of {number}")[0]
    found = RATING_LINK.search(mail.text)
    assert found is not None
    return found[0], found["link"]


def minted_token(stack: Stack, ticket_id: Any, *, days_ago: int) -> str:
    """A rating link for ``ticket_id`` that tickets itself minted ``days_ago`` days ago,
    by its own code and key (``manage.py shell`` with the stack's environment): a link
    past its 14 days cannot be had from a mail without waiting two weeks."""
    code = (
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from tickets import csat\n"
        "from tickets.models import Ticket\n"
        f"ticket = Ticket.objects.get(pk={int(ticket_id)})\n"
        f"print(csat.token_for(ticket, now=timezone.now() - timedelta(days={days_ago})))\n"
    )
    env = {**os.environ, **stack.env, "DJANGO_SETTINGS_MODULE": "core.settings.local"}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT / "services" / "tickets",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


# --- 1. The rating link ------------------------------------------------------------------


def test_the_rating_link_records_the_answer_by_itself_and_it_can_change(
    new_page: Callable[..., Page], api: Api, smtp: SmtpServer, run: str
) -> None:
    client = api.new_client(run)
    title = f"La impresora no imprime {run}"
    ticket = api.new_ticket(client, title, "in_progress", "resolved")
    good_link, page_link = rating_link(smtp, client, ticket["number"])
    token = page_link.rstrip("/").rsplit("/", 1)[1]
    assert api.csat(token)["rating"] is None

    # The mail's "good" link, opened without signing in: the page's script records it.
    page = new_page()
    page.goto(good_link)
    expect(page).to_have_url(page_link)  # after its own POST, the page without ?rating
    expect(notice(page)).to_have_text("¡Gracias! Hemos guardado tu respuesta.")
    current = page.get_by_test_id("csat-current")
    expect(current).to_contain_text("Tu respuesta")
    expect(current).to_contain_text("Bien")
    expect(page.get_by_test_id("csat-ticket")).to_contain_text(ticket["number"])
    expect(page.get_by_test_id("csat-ticket")).to_contain_text(title)
    expect(page.get_by_test_id("csat-good")).to_have_class(re.compile(r"\bis-chosen\b"))
    shot(page, "60-csat-recorded-by-link")
    answer = api.csat(token)
    assert (answer["rating"], answer["comment"]) == ("good", "")

    # Opening the link again records nothing new (the answer is already that one).
    rated_at = answer["rated_at"]
    page.goto(good_link)
    expect(page.get_by_test_id("csat-current")).to_contain_text("Bien")
    expect(page.get_by_test_id("csat-confirm")).to_be_visible()
    assert api.csat(token)["rated_at"] == rated_at

    # Changing it to bad, with a comment.
    page.goto(page_link)
    comment = "Al final volvió a fallar <b>dos</b> veces."
    page.locator("#id_comment").fill(comment)
    page.get_by_test_id("csat-bad").click()
    expect(notice(page)).to_have_text("¡Gracias! Hemos guardado tu respuesta.")
    expect(page.get_by_test_id("csat-current")).to_contain_text("Mal")
    expect(page.locator("#id_comment")).to_have_value(comment)
    shot(page, "61-csat-changed-to-bad")
    answer = api.csat(token)
    assert (answer["rating"], answer["comment"]) == ("bad", comment)

    # Staff see the answer on the ticket.
    staff = new_page()
    sign_in(staff, *DEMO_TECHNICIAN)
    staff.goto(f"/tickets/{ticket['id']}/")
    expect(staff.get_by_test_id("rating-value")).to_have_text("Mal")
    expect(staff.get_by_test_id("rating-comment")).to_have_text(comment)
    shot(staff, "62-csat-on-the-ticket")


def test_an_expired_and_a_forged_rating_link_say_so(
    new_page: Callable[..., Page], api: Api, stack: Stack, run: str
) -> None:
    client = api.new_client(run)
    ticket = api.new_ticket(client, f"Sin sonido {run}", "in_progress", "resolved")
    expired = minted_token(stack, ticket["id"], days_ago=15)
    page = new_page()
    answered = page.goto(f"/csat/{expired}/?rating=good")
    assert answered is not None
    assert answered.status == 410
    refused = page.get_by_test_id("csat-expired")
    expect(refused.locator("h1")).to_have_text("Este enlace ha caducado")
    expect(page.get_by_test_id("csat-form")).to_have_count(0)
    shot(page, "63-csat-expired")
    assert api.ticket(ticket["id"])["rating"] is None  # nothing recorded

    forged = expired[:-4] + ("AAAA" if not expired.endswith("AAAA") else "BBBB")
    answered = page.goto(f"/csat/{forged}/?rating=bad")
    assert answered is not None
    assert answered.status == 404
    expect(page.get_by_test_id("csat-invalid").locator("h1")).to_have_text(
        "Este enlace no es válido"
    )
    expect(page.get_by_test_id("csat-form")).to_have_count(0)
    shot(page, "64-csat-invalid")
    assert api.ticket(ticket["id"])["rating"] is None


# --- 2. A ticket's clocks and the wait for the client -----------------------------------


def test_staff_see_the_sla_clocks_and_wait_for_the_client(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    client = api.new_client(run)
    ticket = api.new_ticket(client, f"Pantalla parpadea {run}", "in_progress")
    page = new_page()
    sign_in(page, *DEMO_TECHNICIAN)
    page.goto(f"/tickets/{ticket['id']}/")
    first = page.get_by_test_id("sla-first-response")
    resolution = page.get_by_test_id("sla-resolution")
    expect(first).to_be_visible()
    expect(resolution).to_be_visible()
    clocks = api.ticket(ticket["id"])["sla"]
    assert clocks["resolution"]["state"] == "running", clocks
    expect(resolution).to_have_attribute("data-state", re.compile(r"^(running|due_soon)$"))
    expect(first).to_have_attribute("data-state", re.compile(r"^(running|due_soon)$"))
    expect(resolution).to_contain_text("Vence")
    shot(page, "65-sla-clocks")

    page.get_by_role("button", name="Esperar al cliente").click()
    expect(page.get_by_test_id("status")).to_have_text("Esperando al cliente")
    expect(page.get_by_test_id("sla-resolution")).to_have_attribute("data-state", "paused")
    expect(page.get_by_test_id("sla-resolution")).to_contain_text("En pausa")
    expect(page.get_by_role("button", name="Esperar al cliente")).to_have_count(0)
    shot(page, "66-waiting-for-the-client")
    saved = api.ticket(ticket["id"])
    assert saved["status"] == "waiting"
    assert saved["sla"]["resolution"]["state"] == "paused"

    # The client is told on their page that the desk waits for them.
    mine = new_page()
    sign_in(mine, f"cli{run}", PASSWORD)
    mine.goto(f"/tickets/{ticket['id']}/")
    expect(mine.get_by_test_id("waiting-notice")).to_be_visible()
    expect(mine.get_by_test_id("sla")).to_have_count(0)  # clocks are for staff
    shot(mine, "67-client-sees-waiting")


# --- 3. Business calendars ---------------------------------------------------------------


def test_an_admin_creates_a_calendar_and_a_mistake_is_shown_by_its_field(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    name = f"Oficina {run}"
    page = new_page()
    sign_in(page, *DEMO_ADMIN)
    page.goto("/admin/calendars/")
    form = page.locator("form[action='/admin/calendars/']")
    form.locator("#id_name").fill(name)
    form.locator("#id_time_zone").select_option("Europe/Madrid")
    form.get_by_label("Lunes").fill("09:00-14:00, 15:00-18:00")
    form.get_by_label("Martes").fill("09:00-17:00")
    form.locator("#id_holidays").fill("2026-12-25 Navidad")
    shot(page, "68-calendar-form")
    form.get_by_role("button", name="Crear el calendario").click()
    expect(notice(page)).to_have_text(f"Se ha creado el calendario {name}.")
    card = page.locator(
        "[data-testid=calendars] li.card", has=page.get_by_role("heading", name=name, exact=True)
    )
    expect(card).to_contain_text("09:00\u201314:00, 15:00\u201318:00")
    expect(card).to_contain_text("1 festivo")
    shot(page, "69-calendar-created")

    saved = next(
        c for c in api.call("GET", "/api/tickets/calendars/", "admin") if c["name"] == name
    )
    assert saved["week"]["mon"] == [["09:00", "14:00"], ["15:00", "18:00"]]
    assert saved["week"]["tue"] == [["09:00", "17:00"]]
    assert saved["week"]["sun"] == []
    assert saved["holidays"] == [{"date": "2026-12-25", "name": "Navidad"}]
    assert (saved["time_zone"], saved["is_default"]) == ("Europe/Madrid", False)

    # Overlapping openings: refused, the error next to Monday's field, what was typed kept.
    other = f"Solapado {run}"
    form = page.locator("form[action='/admin/calendars/']")
    form.locator("#id_name").fill(other)
    form.get_by_label("Lunes").fill("09:00-14:00, 13:00-18:00")
    form.get_by_role("button", name="Crear el calendario").click()
    errors = page.locator("#id_mon-errors")
    expect(errors).to_have_text("Los horarios de un día no pueden solaparse.")
    monday = page.locator("#id_mon")
    expect(monday).to_have_attribute("aria-invalid", "true")
    expect(monday).to_have_attribute("aria-describedby", re.compile(r"\bid_mon-errors\b"))
    expect(monday).to_have_value("09:00-14:00, 13:00-18:00")
    expect(page.locator("#id_name")).to_have_value(other)
    shot(page, "70-calendar-refused")
    names = [c["name"] for c in api.call("GET", "/api/tickets/calendars/", "admin")]
    assert other not in names
