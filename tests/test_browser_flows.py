"""The browser UI driven in the machine's Chromium (Playwright) against the whole stack
behind nginx, started as `make up` starts it (on PostgreSQL and RabbitMQ, free ports).

The main flow: a client registers and opens a ticket; a technician assigns it, adds an
internal note and resolves it; the client sees the new status and a notification but
never the note; an admin downloads the PDF and the Excel report. Also: the language
switch, API field errors next to fields, an API outage, escaping of user content,
the social-login hand-off, keyboard focus and a phone-sized screen.

Screenshots of every step go to var/test-artifacts/browser/ (kept after the run).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser import CHROMIUM, Browser, Page, chromium, expect, shot, sign_in
from openpyxl import load_workbook
from pypdf import PdfReader
from stack import (
    POSTGRES_URL,
    RABBITMQ_URL,
    SERVICES,
    Stack,
    drop_stack_resources,
    free_port,
    running_stack,
)

ADMIN = ("admin", "Mesa-de-ayuda-A1")
TECHNICIAN = ("tecnico1", "Mesa-de-ayuda-T1")
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


@dataclass
class BrowserStack:
    stack: Stack
    ports: dict[str, int]

    @property
    def base_url(self) -> str:
        return self.stack.base_url


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    # The production-like shape: PostgreSQL and RabbitMQ, under names of this run's own
    # (dropped afterwards). The ports of tickets and notifier are chosen here so the
    # outage test can find their processes; a short API timeout keeps that test quick.
    run = uuid.uuid4().hex[:8]
    ports = {name: free_port() for name in ("tickets", "notifier")}
    env = {
        f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_browser_{run}_{name}"
        for name in SERVICES
    }
    env |= {"BROKER_URL": RABBITMQ_URL, "SERVIDESK_EVENT_PREFIX": f"browser-{run}."}
    env |= {f"{name.upper()}_PORT": str(port) for name, port in ports.items()}
    env |= {"WEB_API_TIMEOUT": "5"}
    with ExitStack() as cleanup:
        cleanup.callback(drop_stack_resources, env)  # runs after the stack has stopped
        running = cleanup.enter_context(running_stack(tmp_path_factory.mktemp("browser"), env))
        yield BrowserStack(running, ports)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def new_page(browser: Browser, stack: BrowserStack) -> Iterator[Callable[..., Page]]:
    """A page in a fresh browser profile (its own cookies), Spanish unless told."""
    contexts: list[Any] = []

    def make(locale: str = "es-ES", **options: Any) -> Page:
        context = browser.new_context(
            base_url=stack.base_url, locale=locale, accept_downloads=True, **options
        )
        context.set_default_timeout(30_000)  # a password hash on a busy 2-core machine
        contexts.append(context)
        page = context.new_page()
        # A dialog would mean a script ran where only text should be.
        page.on("dialog", lambda dialog: pytest.fail(f"unexpected dialog: {dialog.message}"))
        return page

    yield make
    for context in contexts:
        context.close()


def eventually(page: Page, check: Callable[[], bool], *, timeout: float = 45) -> None:
    """Reload ``page`` until ``check()`` holds: events travel asynchronously."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s on {page.url}")
        time.sleep(0.5)
        page.reload()


# --- The main flow ----------------------------------------------------------------------


def register(page: Page, name: str, *, screenshot: str = "") -> None:
    page.goto("/register/")
    page.fill("#id_username", name)
    page.fill("#id_email", f"{name}@example.com")
    page.fill("#id_full_name", f"Cliente {name}")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    if screenshot:
        shot(page, screenshot)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/tickets/$"))


def open_ticket(page: Page, title: str, description: str = "Sale una hoja en blanco.") -> str:
    """Open a ticket from the form; its page's path."""
    page.goto("/tickets/new/")
    page.fill("#id_title", title)
    page.fill("#id_description", description)
    page.select_option("#id_priority", "high")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text(title)
    return urlsplit(page.url).path


def test_a_ticket_from_registration_to_resolution(new_page: Callable[..., Page]) -> None:
    name = f"cli{uuid.uuid4().hex[:8]}"
    title = f"La impresora {name} no imprime"
    note = f"Nota interna {name}: revisar el tóner"

    # A client registers (and is signed in), then opens a ticket.
    client = new_page()
    register(client, name, screenshot="01-client-registers")
    expect(client.locator("h1")).to_have_text("Mis tickets")
    shot(client, "02-client-signed-in")
    ticket_url = open_ticket(client, title)
    expect(client.locator("[data-testid=ticket-status]")).to_contain_text("Pendiente")
    number = client.locator("h1 .number").inner_text()
    shot(client, "03-client-ticket-open")

    # A technician finds it in the queue, takes it, adds an internal note, resolves it.
    tech = new_page()
    sign_in(tech, *TECHNICIAN)
    tech.fill("#id_q", name)
    tech.locator("form.filters button[type=submit]").first.click()
    expect(tech.locator("[data-testid=ticket-list]")).to_contain_text(title)
    shot(tech, "04-technician-queue-search")
    tech.click(f"text={title}")
    expect(tech).to_have_url(re.compile(re.escape(ticket_url) + "$"))
    tech.click("text=Asignármelo")
    expect(tech.locator("[data-testid=assignee]")).to_have_text("Yo")
    shot(tech, "05-technician-assigned")
    tech.fill("#id_body", note)
    tech.click("text=Añadir nota interna")
    expect(tech.locator("[data-testid=internal-note]")).to_contain_text(note)
    shot(tech, "06-technician-internal-note")
    tech.click("text=Empezar a trabajar")
    expect(tech.locator("[data-testid=ticket-status]")).to_contain_text("En progreso")
    tech.click("text=Marcar como resuelto")
    expect(tech.locator("[data-testid=ticket-status]")).to_contain_text("Resuelto")
    shot(tech, "07-technician-resolved")

    # The client sees the new status, never the note, and is notified.
    client.goto(ticket_url)
    expect(client.locator("[data-testid=ticket-status]")).to_contain_text("Resuelto")
    assert note not in client.content()
    assert client.locator("[data-testid=internal-note]").count() == 0
    expect(client.get_by_role("button", name="Reabrir el ticket")).to_be_visible()
    shot(client, "08-client-sees-resolved")
    client.goto("/notifications/")
    eventually(
        client,
        lambda: bool(re.search(rf"{number}.*resuelto", client.inner_text("main"), re.I | re.S)),
    )
    assert note not in client.content()
    expect(client.locator("[data-testid=unread-count]")).to_be_visible()
    shot(client, "09-client-notification")


def png_bytes() -> bytes:
    """A real 8x8 PNG, so the thumbnail has something to draw."""
    import struct  # noqa: PLC0415
    import zlib  # noqa: PLC0415

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_a_client_attaches_files_and_sees_them_listed(new_page: Callable[..., Page]) -> None:
    name = f"cli{uuid.uuid4().hex[:8]}"
    client = new_page()
    register(client, name)
    client.goto("/tickets/new/")
    files = client.locator("#id_attachments")
    # The limits are said before anything is chosen, and tied to the field.
    described = files.get_attribute("aria-describedby") or ""
    assert described
    expect(client.locator(f"#{described.split()[0]}")).to_contain_text("MB")

    # A file over the per-file limit is refused in the browser, before any upload.
    client.fill("#id_title", f"Pantalla {name}")
    client.fill("#id_description", "Adjunto captura y factura.")
    too_large = b"\0" * (11 << 20)
    files.set_input_files(
        [{"name": "enorme.bin", "mimeType": "application/octet-stream", "buffer": too_large}]
    )
    expect(client.locator("#id_attachments-check")).to_contain_text("enorme.bin")
    client.locator("main form button[type=submit]").click()
    expect(client).to_have_url(re.compile(r"/tickets/new/$"))
    shot(client, "20-attachment-too-large")

    # Two files within the limits: the ticket opens with both, the image as a thumbnail.
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    files.set_input_files(
        [
            {"name": "captura.png", "mimeType": "image/png", "buffer": png_bytes()},
            {"name": "factura.pdf", "mimeType": "application/pdf", "buffer": pdf},
        ]
    )
    expect(client.locator("#id_attachments-check li")).to_have_count(0)
    client.locator("main form button[type=submit]").click()
    expect(client.locator("h1")).to_contain_text(f"Pantalla {name}")
    listed = client.locator("[data-testid=attachments]").first
    expect(listed.locator("[data-testid=attachment-link]")).to_have_count(2)
    expect(listed).to_contain_text("captura.png")
    expect(listed).to_contain_text("application/pdf")
    thumbnail = listed.locator("[data-testid=thumbnail]")
    expect(thumbnail).to_have_count(1)
    thumbnail.scroll_into_view_if_needed()
    client.wait_for_function(
        "img => img.complete && img.naturalWidth === 8", arg=thumbnail.element_handle()
    )
    shot(client, "21-attachments-listed")

    # The PDF downloads as the same bytes.
    with client.expect_download() as download_info:
        listed.get_by_role("link", name="factura.pdf").click()
    download = download_info.value
    assert download.suggested_filename == "factura.pdf"
    assert Path(download.path()).read_bytes() == pdf


def test_an_admin_downloads_the_pdf_and_the_excel_report(
    new_page: Callable[..., Page],
) -> None:
    admin = new_page()
    sign_in(admin, *ADMIN)
    admin.goto("/reports/")
    expect(admin.locator("[data-testid=kpis]")).to_be_visible()
    admin.wait_for_load_state("networkidle")
    for image in admin.locator(".charts img").all():
        image.scroll_into_view_if_needed()  # lazy images load only near the viewport
        admin.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
    shot(admin, "10-admin-reports")

    with admin.expect_download() as pdf_download:
        admin.click("[data-testid=export-pdf]")
    pdf = Path(pdf_download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 1
    assert pdf_download.value.suggested_filename.endswith(".pdf")

    with admin.expect_download() as xlsx_download:
        admin.click("[data-testid=export-excel]")
    xlsx = Path(xlsx_download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as workbook:
        assert workbook.testzip() is None
        assert "xl/workbook.xml" in workbook.namelist()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    assert load_workbook(io.BytesIO(xlsx), read_only=True).sheetnames


def test_an_admin_manages_users_categories_and_sla_targets(
    new_page: Callable[..., Page],
) -> None:
    name = f"tec{uuid.uuid4().hex[:8]}"
    slug = f"cat-{uuid.uuid4().hex[:6]}"
    admin = new_page()
    sign_in(admin, *ADMIN)

    admin.goto("/admin/users/")
    admin.fill("#id_username", name)
    admin.fill("#id_email", f"{name}@servidesk.example")
    admin.fill("#id_full_name", "Técnica Nueva")
    admin.select_option("#id_role", "technician")
    admin.fill("#id_password", PASSWORD)
    admin.locator("form.stack button[type=submit]").click()
    expect(admin.locator(".notice-success")).to_contain_text(name)
    admin.fill("#id_q", name)
    admin.locator("form.filters button[type=submit]").click()
    row = admin.locator(f"tr[data-username={name}]")
    expect(row.locator("select[name=role]")).to_have_value("technician")
    row.locator("select[name=role]").select_option("admin")
    row.get_by_role("button", name="Cambiar el rol").click()
    expect(admin.locator(".notice-success")).to_contain_text("Administrador")
    shot(admin, "10a-admin-users")

    admin.goto("/admin/categories/")
    admin.fill("#id_name", f"Impresoras {slug}")
    admin.fill("#id_slug", slug)
    admin.get_by_role("button", name="Crear la categoría").click()
    expect(admin.locator(".notice-success")).to_contain_text(slug)
    expect(admin.locator(f"#id_{slug}-name")).to_have_value(f"Impresoras {slug}")

    admin.goto("/admin/sla/")
    admin.fill("#id_urgent-first_response_hours", "0")  # refused, next to the field
    admin.locator("li.card:has(#id_urgent-first_response_hours) button").click()
    expect(admin.locator("#id_urgent-first_response_hours-errors")).to_be_visible()
    admin.fill("#id_urgent-first_response_hours", "1")
    admin.fill("#id_urgent-resolution_hours", "4")
    admin.locator("li.card:has(#id_urgent-first_response_hours) button").click()
    expect(admin.locator(".notice-success")).to_be_visible()
    shot(admin, "10b-admin-sla")


# --- Language ---------------------------------------------------------------------------


def test_the_language_switch_changes_the_ui_and_is_remembered(
    new_page: Callable[..., Page],
) -> None:
    name = f"lang{uuid.uuid4().hex[:8]}"
    page = new_page()
    register(page, name)
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("h1")).to_have_text("Mis tickets")

    page.select_option("#language-switch", "en")
    page.locator("form.language button").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("My tickets")
    expect(page.get_by_role("link", name="Open a ticket").first).to_be_visible()
    shot(page, "11-language-english")

    # Remembered in the profile: a new browser (Spanish by default) comes back in English.
    other = new_page()
    sign_in(other, name, PASSWORD)
    expect(other.locator("html")).to_have_attribute("lang", "en")
    expect(other.locator("h1")).to_have_text("My tickets")


# --- Errors, outages, escaping ----------------------------------------------------------


def test_api_field_errors_are_shown_next_to_the_fields(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.goto("/register/")
    page.fill("#id_username", TECHNICIAN[0])  # taken: accounts says so
    page.fill("#id_email", f"x{uuid.uuid4().hex[:6]}@example.com")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#id_username-errors")).to_contain_text("Ya existe")
    expect(page.locator("#id_username")).to_have_attribute("aria-invalid", "true")
    # The error summary took the focus, so a screen reader announces it. The page's script
    # moves the focus once it has loaded: wait for that rather than race it.
    page.wait_for_function("document.activeElement?.getAttribute('role') === 'alert'")
    assert page.evaluate("document.activeElement.getAttribute('role')") == "alert"
    shot(page, "12-register-field-errors")

    page.fill("#id_username", f"u{uuid.uuid4().hex[:8]}")
    page.fill("#id_password", "password12")  # too common: accounts' password validators
    page.fill("#id_password_again", "password12")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#id_password-errors")).to_be_visible()
    assert page.locator("#id_username-errors").count() == 0


@contextmanager
def paused(stack: BrowserStack, service: str) -> Iterator[None]:
    """Freeze one service's gunicorn processes (connections hang: an outage as the UI
    sees one), then let them go. Only processes this stack started are touched."""
    port = stack.ports[service]
    pids = [
        pid for pid in descendants(stack.stack.process.pid) if f"127.0.0.1:{port}" in cmdline(pid)
    ]
    assert pids, f"no {service} process found on port {port}"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        for child in children.get(pid, []):
            found.append(child)
            pending.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_an_api_outage_shows_a_clear_message(
    new_page: Callable[..., Page], stack: BrowserStack
) -> None:
    page = new_page()
    sign_in(page, *TECHNICIAN)
    with paused(stack, "notifier"):
        page.goto("/tickets/")
        # The page still works; the bell says it does not know.
        expect(page.locator("[data-testid=ticket-list]")).to_be_visible()
        expect(page.locator("[data-testid=unavailable]")).to_contain_text("Notificaciones")
        expect(page.locator("[data-testid=unread-count]")).to_have_text("?")
        shot(page, "13-outage-notifier")
    with paused(stack, "tickets"):
        response = page.goto("/tickets/")
        assert response is not None
        assert response.status == 503
        expect(page.locator("[data-testid=unavailable]")).to_contain_text("Tickets")
        expect(page.locator("h1")).to_have_text("Cola")
        shot(page, "14-outage-tickets")
    page.goto("/tickets/")
    # The resumed services first answer what queued up while they were frozen.
    eventually(page, lambda: page.locator("[data-testid=unavailable]").count() == 0)
    expect(page.locator("[data-testid=ticket-list]")).to_be_visible()


# Each payload would set window.__xss (and open a dialog, which fails the test) if it ran.
XSS_PAYLOADS = {
    "script": "<script>window.__xss=1;alert(1)</script>",
    "attribute": '"><img src=x onerror="window.__xss=2;alert(2)">',
    "svg": "<svg/onload=window.__xss=3;alert(3)>",
    "javascript_url": "javascript:window.__xss=4;alert(4)",
    "template": "{{ request.session }}{% csrf_token %}",
}


def test_user_content_is_rendered_as_text(new_page: Callable[..., Page]) -> None:
    evil = "<script>alert(1)</script>"
    everything = " ".join(XSS_PAYLOADS.values())
    name = f"xss{uuid.uuid4().hex[:8]}"
    page = new_page()
    page.goto("/register/")
    page.fill("#id_username", name)
    page.fill("#id_email", f"{name}@example.com")
    page.fill("#id_full_name", XSS_PAYLOADS["script"])  # shown in the header of every page
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/tickets/$"))
    expect(page.locator(".menu summary")).to_contain_text(XSS_PAYLOADS["script"])

    open_ticket(page, evil, f'<img src=x onerror="alert(2)"> {everything}')  # text, not run
    expect(page.locator("main")).to_contain_text(everything)
    page.fill("#id_body", everything)
    page.click("text=Enviar respuesta")
    expect(page.locator("[data-testid=conversation]")).to_contain_text(everything)
    assert page.locator("main script, main img, main svg, main a[href^=javascript]").count() == 0
    assert page.evaluate("window.__xss") is None
    response = page.goto("/tickets/")
    assert response is not None
    assert "default-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("[data-testid=ticket-list]")).to_contain_text(evil)
    assert page.evaluate("window.__xss") is None
    shot(page, "15-escaped-content")


# --- Sign-in details, keyboard, phone ---------------------------------------------------


def test_social_sign_in_hands_off_to_accounts_and_explains_the_answer(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    page.goto("/login/?next=/tickets/")
    expect(page.get_by_role("link", name="Continuar con Facebook")).to_be_visible()
    google = page.get_by_role("link", name="Continuar con Google")
    # Each hop in turn, with the browser's cookies: web keeps `next` and hands over to
    # accounts' allauth flow; with no Google keys here accounts answers "unavailable" by
    # sending the browser back to web's callback page (at WEB_BASE_URL, the default
    # gateway address, not this stack's port: so the path is followed here).
    to_accounts = page.request.get(google.get_attribute("href") or "", max_redirects=0)
    assert to_accounts.status == 302
    # The flow is bound to this browser: web keeps a nonce in its session and sends it along.
    to_provider = urlsplit(to_accounts.headers["location"])
    assert to_provider.path == "/accounts/google/login/"
    assert re.fullmatch(r"web_nonce=[A-Za-z0-9_-]{43}", to_provider.query)
    back_to_web = page.request.get(to_accounts.headers["location"], max_redirects=0)
    assert back_to_web.status == 302
    callback = urlsplit(back_to_web.headers["location"])
    assert (callback.path, callback.query) == ("/login/social/", "error=unavailable")
    page.goto(f"{callback.path}?{callback.query}")
    expect(page.locator(".notice-error")).to_contain_text("no se puede iniciar sesión")
    shot(page, "16-social-unavailable")


def test_keyboard_users_see_where_they_are(new_page: Callable[..., Page]) -> None:
    page = new_page()
    page.goto("/login/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert "skip-link" in focused
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    # Past the skip link, the first field of the form; type and submit without a mouse.
    page.locator("#id_username").focus()
    page.keyboard.type(TECHNICIAN[0])
    page.keyboard.press("Tab")
    page.keyboard.type(TECHNICIAN[1])
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("Cola")


def test_pages_fit_a_phone_screen(new_page: Callable[..., Page]) -> None:
    page = new_page(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    sign_in(page, *TECHNICIAN)
    for path in ("/tickets/", "/tickets/new/", "/notifications/", "/profile/"):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
    page.goto("/tickets/")
    page.locator("table.tickets a").first.click()
    expect(page.locator("[data-testid=ticket-status]")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    shot(page, "17-phone-ticket")
