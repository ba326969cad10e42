"""The agent workspace (issue 18) driven in the machine's Chromium (Playwright) against the
whole stack behind nginx, started as `make up` starts it (on PostgreSQL and RabbitMQ, free
ports), as the demo admin and technician, with fresh clients made through the APIs.

Covered: an admin's teams page (create, edit, the queue's team filter), editing a ticket's
team and tags (tag suggestions, a stale edit), staff opening a ticket for a client found
without a reload, the queue's tag filter, "select all" and bulk actions with their
outcome, saved views and status counts, canned responses applied from a ticket, merging
two tickets, and a technician's availability switch.

Screenshots of every step go to var/test-artifacts/browser/ (kept after the run).
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from browser import CHROMIUM, Browser, Page, chromium, expect, shot, sign_in
from stack import (
    DEMO_ADMIN,
    DEMO_TECHNICIAN,
    POSTGRES_URL,
    RABBITMQ_URL,
    SERVICES,
    Stack,
    drop_stack_resources,
    eventually,
    running_stack,
)

PASSWORD = "Una-clave-larga-42"
#: The demo technicians' names, as the pages show them (accounts' seed_demo).
TECHNICIAN_NAME = "Lucía Martín"
OTHER_TECHNICIAN_NAME = "Diego Ortega"

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
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # The production-like shape: PostgreSQL and RabbitMQ, under names of this run's own
    # (dropped afterwards).
    run = uuid.uuid4().hex[:8]
    env = {
        f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_workspace_{run}_{name}"
        for name in SERVICES
    }
    env |= {"BROKER_URL": RABBITMQ_URL, "SERVIDESK_EVENT_PREFIX": f"workspace-{run}."}
    # Each test signs the demo users in afresh (a browser profile of its own) and registers
    # a client of its own: a run's sign-ins, not guessing (the sign-in and sign-up
    # throttles have tests of their own). Raised here only.
    env |= {
        "THROTTLE_LOGIN_ACCOUNT": "60/min",
        "THROTTLE_LOGIN_IP": "120/min",
        "THROTTLE_REGISTER_IP": "100/hour",
    }
    with ExitStack() as cleanup:
        cleanup.callback(drop_stack_resources, env)  # runs after the stack has stopped
        yield cleanup.enter_context(running_stack(tmp_path_factory.mktemp("workspace"), env))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def new_page(browser: Browser, stack: Stack) -> Iterator[Callable[..., Page]]:
    """A page in a fresh browser profile (its own cookies), Spanish unless told.

    The pages ask before a merge or a deletion (``window.confirm``): such a question is
    accepted (a test checks its words with ``expect_event("dialog")``); any other dialog
    would mean a script ran where only text should be, and fails the test."""
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
    """The stack's APIs on each service's own port (behind nginx's back: the gateway's
    sign-in rate limit is for the browser's sign-ins), as the demo ``admin`` or
    ``technician`` (signed in once, again when a token has expired) or as nobody."""

    SERVICES = (
        ("accounts", "/api/accounts/"),
        ("tickets", "/api/tickets/"),
        ("notifier", "/api/notifications/"),
    )

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.users = {"admin": DEMO_ADMIN, "technician": DEMO_TECHNICIAN}
        self.tokens: dict[str, str] = {}

    def url(self, path: str) -> str:
        service = next(name for name, prefix in self.SERVICES if path.startswith(prefix))
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
        """A fresh client, registered in accounts and known to tickets (by event)."""
        name = f"cli{run}"
        user: dict[str, Any] = self.call(
            "POST",
            "/api/accounts/auth/register/",
            expected=201,
            json={
                "username": name,
                "email": f"{name}@example.com",
                "password": PASSWORD,
                "full_name": f"Cliente {run}",
                "language": "es",
            },
        )

        def known() -> bool:
            found = self.call("GET", "/api/tickets/clients/", "admin", params={"q": name})
            return any(str(person["id"]) == str(user["id"]) for person in found)

        eventually(known, what=f"{name} in tickets' directory")
        return user

    def new_ticket(self, client: dict[str, Any], title: str, **fields: Any) -> dict[str, Any]:
        """A ticket staff open for ``client``; ``tags`` and ``status`` are set after."""
        tags = fields.pop("tags", None)
        status = fields.pop("status", None)
        ticket: dict[str, Any] = self.call(
            "POST",
            "/api/tickets/",
            "technician",
            expected=201,
            json={
                "title": title,
                "description": f"Descripción de {title}.",
                "client_id": client["id"],
                **fields,
            },
        )
        if tags:
            path = f"/api/tickets/{ticket['id']}/"
            ticket = self.call("PATCH", path, "admin", json={"tags": tags})
        if status:
            path = f"/api/tickets/{ticket['id']}/status/"
            ticket = self.call("POST", path, "admin", json={"status": status})
        return ticket

    def ticket(self, ticket_id: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", f"/api/tickets/{ticket_id}/", "admin")
        return found


@pytest.fixture(scope="module")
def api(stack: Stack) -> Api:
    return Api(stack)


@pytest.fixture
def run() -> str:
    """This test's own mark, in every name it makes."""
    return uuid.uuid4().hex[:8]


# --- Browser helpers (as in test_browser_flows) ------------------------------------------


def notice(page: Page) -> Any:
    return page.locator("ul.messages .notice-success")


def queue_rows(page: Page) -> Any:
    return page.locator("[data-testid=ticket-list] tbody tr")


def filter_by_tag(page: Page, tag: str) -> None:
    """The queue, filtered by ``tag`` typed in its filters."""
    page.goto("/tickets/")
    page.locator("details.more-filters summary").click()
    page.fill("#id_tags", tag)
    page.locator("details.more-filters").get_by_role("button", name="Aplicar").click()


# --- 1. Teams --------------------------------------------------------------------------


def create_team(
    admin: Page,
    name: str,
    *,
    members: tuple[str, ...] = (),
    lead: str = "",
    rule: str = "manual",
    categories: tuple[str, ...] = (),
) -> Any:
    """Create a team on the admin's teams page; its card in the list."""
    admin.goto("/admin/teams/")
    expect(admin.locator("h1")).to_have_text("Equipos")
    form = admin.locator("form[action='/admin/teams/']")
    form.locator("#id_name").fill(name)
    for member in members:
        form.locator("fieldset", has_text="Miembros").get_by_label(member, exact=True).check()
    if lead:
        form.locator("#id_lead_id").select_option(label=lead)
    form.locator("#id_assignment").select_option(rule)
    routed = form.locator("fieldset", has_text="Categorías que van a este equipo")
    for category in categories:
        routed.get_by_label(category, exact=True).check()
    form.get_by_role("button", name="Crear el equipo").click()
    expect(notice(admin)).to_have_text(f"Se ha creado el equipo {name}.")
    return team_card(admin, name)


def team_card(admin: Page, name: str) -> Any:
    return admin.locator(
        "[data-testid=teams] li.card", has=admin.get_by_role("heading", name=name, exact=True)
    )


def test_an_admin_creates_and_edits_a_team(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    slug = f"cat-{run}"
    category = f"Impresoras {run}"
    api.call(
        "POST", "/api/tickets/categories/", "admin", 201, json={"slug": slug, "name": category}
    )
    name = f"Equipo {run}"
    admin = new_page()
    sign_in(admin, *DEMO_ADMIN)
    card = create_team(
        admin,
        name,
        members=(TECHNICIAN_NAME, OTHER_TECHNICIAN_NAME),
        lead=TECHNICIAN_NAME,
        rule="round_robin",
        categories=(category,),
    )
    expect(card).to_contain_text(f"{TECHNICIAN_NAME} (responsable)")
    expect(card).to_contain_text(OTHER_TECHNICIAN_NAME)
    expect(card).to_contain_text("Por turnos (round robin)")
    expect(card).to_contain_text(category)
    shot(admin, "31-team-created")

    # Edit it: the form comes filled as saved; a member, the rule and the name change.
    card.get_by_role("link", name=f"Editar {name}").click()
    expect(admin.locator("h1")).to_have_text(f"Editar el equipo {name}")
    members = admin.locator("fieldset", has_text="Miembros")
    expect(members.get_by_label(TECHNICIAN_NAME, exact=True)).to_be_checked()
    expect(members.get_by_label(OTHER_TECHNICIAN_NAME, exact=True)).to_be_checked()
    expect(admin.locator("#id_lead_id option:checked")).to_have_text(TECHNICIAN_NAME)
    expect(admin.locator("#id_assignment")).to_have_value("round_robin")
    expect(admin.get_by_label(category, exact=True)).to_be_checked()
    renamed = f"Soporte {run}"
    admin.fill("#id_name", renamed)
    members.get_by_label(OTHER_TECHNICIAN_NAME, exact=True).uncheck()
    admin.select_option("#id_assignment", "least_open")
    admin.get_by_role("button", name="Guardar cambios").click()
    expect(admin).to_have_url(re.compile(r"/admin/teams/$"))
    expect(notice(admin)).to_have_text(f"Se ha guardado el equipo {renamed}.")
    card = team_card(admin, renamed)
    expect(card).to_contain_text(f"{TECHNICIAN_NAME} (responsable)")
    expect(card).not_to_contain_text(OTHER_TECHNICIAN_NAME)
    expect(card).to_contain_text("A quien tenga menos tickets abiertos")
    expect(team_card(admin, name)).to_have_count(0)
    shot(admin, "32-team-edited")

    # tickets holds what the pages said.
    team = next(t for t in api.call("GET", "/api/tickets/teams/", "admin") if t["name"] == renamed)
    me = api.call("GET", "/api/accounts/me/", "technician")
    assert [str(m) for m in team["member_ids"]] == [str(me["id"])]
    assert str(team["lead_id"]) == str(me["id"])
    assert (team["assignment"], team["category_slugs"]) == ("least_open", [slug])


def test_the_queue_filters_by_a_new_team(new_page: Callable[..., Page], api: Api, run: str) -> None:
    slug = f"cat-{run}"
    category = f"Redes {run}"
    api.call(
        "POST", "/api/tickets/categories/", "admin", 201, json={"slug": slug, "name": category}
    )
    name = f"Equipo de redes {run}"
    admin = new_page()
    sign_in(admin, *DEMO_ADMIN)
    create_team(admin, name, members=(TECHNICIAN_NAME,), categories=(category,))
    team = next(t for t in api.call("GET", "/api/tickets/teams/", "admin") if t["name"] == name)

    # A ticket of the category goes to the team; the queue's team filter offers the team
    # and lists that ticket alone.
    client = api.new_client(run)
    routed = api.new_ticket(client, f"Sin cobertura {run}", category=slug)
    assert routed["team_id"] == team["id"]
    other = api.new_ticket(client, f"Sin equipo {run}")
    admin.goto("/tickets/")
    admin.locator("details.more-filters summary").click()
    admin.select_option("#id_team", label=name)
    admin.fill("#id_q", run)
    admin.locator("details.more-filters").get_by_role("button", name="Aplicar").click()
    expect(admin).to_have_url(re.compile(rf"[?&]team={team['id']}(&|$)"))
    expect(queue_rows(admin)).to_have_count(1)
    expect(admin.get_by_test_id("ticket-list")).to_contain_text(routed["title"])
    expect(admin.get_by_test_id("ticket-list")).not_to_contain_text(other["title"])
    expect(admin.locator("#id_team option:checked")).to_have_text(name)
    shot(admin, "33-queue-team-filter")


# --- 2. Team and tags of a ticket; a stale edit ---------------------------------------


def test_staff_edit_a_ticket_s_team_and_tags_with_suggestions(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    client = api.new_client(run)
    existing = f"wifi{run}-planta2"
    api.new_ticket(client, f"Ya etiquetado {run}", tags=[existing])
    ticket = api.new_ticket(client, f"Sin red {run}")

    page = new_page()
    sign_in(page, *DEMO_ADMIN)
    team = f"Redes {run}"
    create_team(page, team)  # on the page: web forgets the team names it keeps a minute
    page.goto(f"/tickets/{ticket['id']}/")
    page.get_by_test_id("edit-ticket").click()
    expect(page.locator("h1")).to_contain_text(ticket["number"])
    page.wait_for_load_state()  # the page's script listens for typing once it has loaded
    page.select_option("#id_team_id", label=team)
    # A prefix of an existing tag brings it in the field's suggestions.
    tags = page.locator("#id_tags")
    tags.press_sequentially(f"WiFi{run}")
    suggestion = page.locator("#tag-suggestions option")
    expect(suggestion).to_have_count(1)
    expect(suggestion).to_have_attribute("value", existing)
    # After a comma, the suggestions complete the last term and keep the ones before.
    tags.fill("")
    tags.press_sequentially(f"urgente{run}, wifi{run}")
    expect(suggestion).to_have_attribute("value", f"urgente{run}, {existing}")
    tags.fill(f"Urgente{run}, {existing}")
    shot(page, "34-edit-tags-suggested")
    page.get_by_role("button", name="Guardar cambios").click()

    expect(page).to_have_url(re.compile(rf"/tickets/{ticket['id']}/$"))
    expect(notice(page)).to_have_text("El ticket está actualizado.")
    expect(page.get_by_test_id("team")).to_have_text(team)
    expect(page.locator("[data-testid=tags] li")).to_have_text(sorted([f"urgente{run}", existing]))
    shot(page, "35-ticket-team-and-tags")
    saved = api.ticket(ticket["id"])
    teams = {t["name"]: t["id"] for t in api.call("GET", "/api/tickets/teams/", "admin")}
    assert saved["team_id"] == teams[team]
    assert sorted(saved["tags"]) == sorted([f"urgente{run}", existing])


def test_a_stale_edit_shows_the_conflict_and_keeps_what_was_typed(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    client = api.new_client(run)
    ticket = api.new_ticket(client, f"Pantalla azul {run}")
    first, second = new_page(), new_page()
    sign_in(first, *DEMO_ADMIN)
    sign_in(second, *DEMO_TECHNICIAN)
    for page in (first, second):
        page.goto(f"/tickets/{ticket['id']}/edit/")
        expect(page.locator("#id_title")).to_have_value(ticket["title"])

    first.fill("#id_title", f"Pantalla azul al arrancar {run}")
    first.get_by_role("button", name="Guardar cambios").click()
    expect(notice(first)).to_have_text("El ticket está actualizado.")

    mine_title = f"Pantallazo en el portátil {run}"
    mine_description = "Sale al conectar el proyector.\nSegunda línea."
    second.fill("#id_title", mine_title)
    second.fill("#id_description", mine_description)
    second.fill("#id_tags", f"portatil{run}")
    second.get_by_role("button", name="Guardar cambios").click()

    expect(second.locator("main .notice-error")).to_contain_text(
        "Alguien cambió este ticket mientras lo editabas. No se guardó nada"
    )
    conflict = second.get_by_test_id("conflict")
    expect(conflict).to_contain_text("Lo que dice ahora el ticket")
    expect(conflict).to_contain_text(f"Pantalla azul al arrancar {run}")
    expect(second.locator("#id_title")).to_have_value(mine_title)
    expect(second.locator("#id_description")).to_have_value(mine_description)
    expect(second.locator("#id_tags")).to_have_value(f"portatil{run}")
    shot(second, "36-edit-conflict")
    # Nothing of the stale edit was saved.
    assert api.ticket(ticket["id"])["title"] == f"Pantalla azul al arrancar {run}"

    # Sending it again is a deliberate choice: then it is saved.
    second.get_by_role("button", name="Guardar mi versión").click()
    expect(notice(second)).to_have_text("El ticket está actualizado.")
    expect(second.locator("h1")).to_contain_text(mine_title)
    expect(second.locator("[data-testid=tags] li")).to_have_text([f"portatil{run}"])
    saved = api.ticket(ticket["id"])
    assert (saved["title"], saved["tags"]) == (mine_title, [f"portatil{run}"])


# --- 3. A ticket opened for a client ---------------------------------------------------


def test_staff_open_a_ticket_for_a_client_found_without_a_reload(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    client = api.new_client(run)
    page = new_page()
    sign_in(page, *DEMO_TECHNICIAN)
    page.goto("/tickets/new/")
    title = f"No llegan los correos {run}"
    description = "Desde el lunes no recibo nada.\nNi siquiera en spam."
    page.fill("#id_title", title)
    page.fill("#id_description", description)
    page.evaluate("window.__same_page = true")  # gone if the page reloads

    picker = page.get_by_test_id("client-search")
    picker.locator("input[type=search]").fill(client["username"])
    picker.get_by_role("button", name="Buscar").click()
    chooser = picker.locator("select")
    expect(chooser.locator("option")).to_have_count(2)  # "Elige un cliente" and the match
    expect(chooser.locator("option").nth(1)).to_have_text(
        f"Cliente {run} <{client['username']}@example.com>"
    )
    assert page.evaluate("window.__same_page") is True
    expect(page.locator("#id_title")).to_have_value(title)
    expect(page.locator("#id_description")).to_have_value(description)
    chooser.select_option(str(client["id"]))
    shot(page, "37-new-ticket-client-found")

    page.get_by_role("button", name="Enviar el ticket").click()
    expect(page.locator("h1")).to_contain_text(title)
    number = page.locator("h1 .number").inner_text()
    expect(notice(page)).to_have_text(f"El ticket {number} está abierto. Te responderemos pronto.")
    expect(page.locator(".ticket-side")).to_contain_text(f"Cliente {run}")
    expect(page.locator(".ticket-main .body").first).to_contain_text("Ni siquiera en spam.")
    shot(page, "38-new-ticket-for-client")
    ticket_id = urlsplit(page.url).path.rstrip("/").rsplit("/", 1)[1]
    opened = api.ticket(ticket_id)
    assert str(opened["client_id"]) == str(client["id"])
    assert opened["title"] == title
    # The browser sends a textarea's line breaks as CRLF, and they are kept as sent.
    assert opened["description"].replace("\r\n", "\n") == description


# --- 4. The queue: tag filter, select all, bulk actions --------------------------------


def test_the_queue_filters_by_tag_and_changes_the_selected_tickets_in_bulk(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    client = api.new_client(run)
    tag = f"lote{run}"
    pending = api.new_ticket(client, f"Teclado {run}", tags=[tag], priority="low")
    working = api.new_ticket(
        client, f"Ratón {run}", tags=[tag], priority="low", status="in_progress"
    )
    untagged = api.new_ticket(client, f"Monitor {run}", priority="low")

    page = new_page()
    sign_in(page, *DEMO_TECHNICIAN)
    filter_by_tag(page, tag)
    expect(queue_rows(page)).to_have_count(2)
    listing = page.get_by_test_id("ticket-list")
    expect(listing).to_contain_text(pending["title"])
    expect(listing).to_contain_text(working["title"])
    expect(listing).not_to_contain_text(untagged["title"])
    expect(page.get_by_test_id("count-all")).to_have_text("(2)")

    # "Select all on this page" ticks every row; one untick leaves it indeterminate.
    select_all = page.get_by_label("Seleccionar todos los de esta página")
    select_all.check()
    boxes = page.locator("input[name='bulk-ids']")
    expect(boxes).to_have_count(2)
    for box in boxes.all():
        expect(box).to_be_checked()
    page.get_by_label(f"Seleccionar {pending['number']}", exact=True).uncheck()
    assert page.evaluate("document.getElementById('bulk-all').indeterminate") is True
    select_all.check()

    page.select_option("#id_bulk-priority", "urgent")
    page.get_by_role("button", name="Cambiar la prioridad").click()
    outcome = page.get_by_test_id("bulk-outcome")
    expect(outcome.locator("h2")).to_have_text("Cambiar la prioridad")
    expect(outcome).to_contain_text("2 tickets cambiados.")
    expect(outcome.get_by_test_id("bulk-failed")).to_have_count(0)
    # The queue comes back with its filter.
    assert parse_qs(urlsplit(page.url).query).get("tags") == [tag]
    expect(queue_rows(page)).to_have_count(2)
    shot(page, "39-bulk-priority")
    assert api.ticket(pending["id"])["priority"] == "urgent"
    assert api.ticket(working["id"])["priority"] == "urgent"
    assert api.ticket(untagged["id"])["priority"] == "low"

    # Resolving both: the workflow refuses it for the pending one, which is named with
    # the reason; the other one is resolved.
    page.get_by_label("Seleccionar todos los de esta página").check()
    page.select_option("#id_bulk-status", "resolved")
    page.get_by_role("button", name="Cambiar el estado").click()
    outcome = page.get_by_test_id("bulk-outcome")
    expect(outcome).to_contain_text("1 ticket cambiado.")
    expect(outcome).to_contain_text("1 ticket no se ha cambiado:")
    failed = outcome.locator("[data-testid=bulk-failed] li")
    expect(failed).to_have_count(1)
    expect(failed.locator("strong")).to_have_text(pending["number"])
    reason = failed.inner_text().split(":", 1)[1].strip()
    assert reason, "no reason given"
    assert reason != "Sin cambios.", reason
    shot(page, "40-bulk-status-refused")
    assert api.ticket(pending["id"])["status"] == "pending"
    assert api.ticket(working["id"])["status"] == "resolved"


# --- 5. Saved views and status counts --------------------------------------------------


def test_a_saved_view_keeps_the_filters_and_the_status_tabs_count(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    client = api.new_client(run)
    tag = f"vista{run}"
    for index in range(2):
        api.new_ticket(client, f"Pendiente {index} {run}", tags=[tag])
    api.new_ticket(client, f"En curso {run}", tags=[tag], status="in_progress")

    page = new_page()
    sign_in(page, *DEMO_TECHNICIAN)
    filter_by_tag(page, tag)
    expect(queue_rows(page)).to_have_count(3)
    # The tabs count the tickets of these filters, status by status.
    expect(page.get_by_test_id("count-all")).to_have_text("(3)")
    expect(page.get_by_test_id("count-pending")).to_have_text("(2)")
    expect(page.get_by_test_id("count-in_progress")).to_have_text("(1)")
    expect(page.get_by_test_id("count-resolved")).to_have_text("(0)")

    tabs = page.get_by_role("navigation", name="Estado")
    tabs.get_by_role("link", name=re.compile("^Pendiente")).click()
    expect(tabs.locator("[aria-current=page]")).to_contain_text("Pendiente")
    expect(queue_rows(page)).to_have_count(2)

    name = f"Mis pendientes {run}"
    views = page.get_by_test_id("saved-views")
    views.locator("details.save-view summary").click()
    page.fill("#id_view-name", name)
    page.get_by_test_id("save-view").get_by_role("button", name="Guardar vista").click()
    expect(notice(page)).to_have_text(f"Se ha guardado la vista «{name}».")
    saved = views.locator("li", has=page.get_by_role("link", name=name))
    expect(saved.locator(".count")).to_have_text("2")
    shot(page, "41-saved-view")

    # Following the view from an unfiltered queue restores its filters.
    page.goto("/tickets/")
    expect(page.locator("#id_tags")).to_have_value("")
    page.get_by_test_id("saved-views").get_by_role("link", name=name).click()
    query = parse_qs(urlsplit(page.url).query)
    assert (query.get("status"), query.get("tag")) == (["pending"], [tag]), page.url
    expect(page.locator("#id_tags")).to_have_value(tag)
    expect(
        page.get_by_role("navigation", name="Estado").locator("[aria-current=page]")
    ).to_contain_text("Pendiente")
    expect(queue_rows(page)).to_have_count(2)
    expect(page.get_by_test_id("ticket-list")).not_to_contain_text(f"En curso {run}")
    shot(page, "42-saved-view-followed")

    # Deleting it asks first, then it is gone.
    with page.expect_event("dialog") as asked:
        page.get_by_test_id("saved-views").get_by_role("button", name=f"Eliminar {name}").click()
    assert asked.value.message == "¿Eliminar esta vista?"
    expect(notice(page)).to_have_text("Se ha eliminado la vista.")
    expect(page.get_by_test_id("saved-views").get_by_role("link", name=name)).to_have_count(0)
    views_left = api.call("GET", "/api/tickets/views/", "technician")
    listed = views_left["results"] if isinstance(views_left, dict) else views_left
    assert name not in [view["name"] for view in listed]


# --- 6. Canned responses ---------------------------------------------------------------


def test_a_canned_response_fills_its_placeholders_and_moves_the_status(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    client = api.new_client(run)
    ticket = api.new_ticket(client, f"Impresora atascada {run}")
    title = f"Lo reviso {run}"
    page = new_page()
    sign_in(page, *DEMO_TECHNICIAN)

    page.goto("/responses/")
    create = page.locator("form[action='/responses/']")
    create.get_by_label("Título").fill(title)
    create.get_by_label("Texto").fill("Hola {cliente}: miro {numero} ahora mismo.\n{tecnico}")
    create.get_by_label("Después, poner el estado").select_option("in_progress")
    create.get_by_role("button", name="Guardar la respuesta").click()
    card = page.locator("[data-testid=macros] li.card", has=page.get_by_role("heading", name=title))
    expect(card).to_contain_text("Hola {cliente}: miro {numero} ahora mismo.")
    expect(card).to_contain_text("Estado: En progreso")
    shot(page, "43-canned-response")

    page.goto(f"/tickets/{ticket['id']}/")
    picker = page.get_by_test_id("macro-picker")
    picker.get_by_label("Respuesta predefinida").select_option(label=title)
    picker.get_by_role("button", name="Aplicar").click()
    expect(notice(page)).to_contain_text(
        "Respuesta predefinida aplicada. El ticket está ahora: En progreso"
    )
    message = page.get_by_test_id("conversation").locator("li.message").last
    expect(message.locator(".body")).to_have_text(
        f"Hola Cliente {run}: miro {ticket['number']} ahora mismo.\n{TECHNICIAN_NAME}",
        use_inner_text=True,
    )
    expect(message).not_to_contain_text("{")
    expect(page.get_by_test_id("ticket-status")).to_contain_text("En progreso")
    shot(page, "44-canned-response-applied")
    assert api.ticket(ticket["id"])["status"] == "in_progress"


# --- 7. Merge --------------------------------------------------------------------------


def test_merging_moves_the_conversation_and_freezes_the_merged_ticket(
    new_page: Callable[..., Page], api: Api, run: str
) -> None:
    client = api.new_client(run)
    target = api.new_ticket(client, f"Sin internet {run}")
    merged = api.new_ticket(client, f"Tampoco hay internet {run}")
    said = f"En la sala 3 tampoco funciona {run}"
    api.call(
        "POST", f"/api/tickets/{merged['id']}/comments/", "technician", 201, json={"body": said}
    )

    page = new_page()
    sign_in(page, *DEMO_TECHNICIAN)
    page.goto(f"/tickets/{merged['id']}/")
    form = page.get_by_test_id("merge-form")
    form.get_by_label("Fusionar en el ticket").fill(target["number"])
    with page.expect_event("dialog") as asked:
        form.get_by_role("button", name="Fusionar").click()
    assert asked.value.message == "¿Fusionar este ticket? No se puede deshacer."

    expect(page).to_have_url(re.compile(rf"/tickets/{target['id']}/$"))
    expect(notice(page)).to_have_text(
        f"El ticket se ha fusionado en {target['number']}: su conversación sigue aquí."
    )
    moved = page.get_by_test_id("conversation").locator("li.message", has_text=said)
    expect(moved.get_by_test_id("merged-from")).to_have_text(f"De {merged['number']}")
    shot(page, "45-merged-into")

    page.goto(f"/tickets/{merged['id']}/")
    banner = page.get_by_test_id("merged-banner")
    expect(banner).to_contain_text(f"Este ticket se fusionó en {target['number']}.")
    expect(banner).to_contain_text("Ya no puede cambiar: sigue la conversación allí.")
    expect(banner.get_by_role("link", name=target["number"])).to_have_attribute(
        "href", f"/tickets/{target['id']}/"
    )
    expect(page.locator("form#reply")).to_have_count(0)
    expect(page.locator("form[action$='/status/']")).to_have_count(0)
    expect(page.get_by_test_id("macro-picker")).to_have_count(0)
    expect(page.get_by_test_id("merge-form")).to_have_count(0)
    shot(page, "46-merged-banner")


# --- 8. Availability -------------------------------------------------------------------


def test_a_technician_turns_automatic_assignment_off_and_on(
    new_page: Callable[..., Page], api: Api
) -> None:
    me = api.call("GET", "/api/accounts/me/", "technician")

    def available() -> bool:
        rows = api.call("GET", "/api/tickets/assignees/", "admin")
        row = next(r for r in rows if str(r["id"]) == str(me["id"]))
        return bool(row["available"])

    page = new_page()
    sign_in(page, *DEMO_TECHNICIAN)
    try:
        page.goto("/profile/")
        section = page.get_by_test_id("availability")
        switch = section.get_by_label("Disponible para asignación automática")
        expect(switch).to_be_checked()
        switch.uncheck()
        section.get_by_role("button", name="Guardar").click()
        expect(notice(page)).to_have_text(
            "La asignación automática te saltará hasta que vuelvas a activarla."
        )
        expect(page.get_by_test_id("availability").get_by_role("checkbox")).not_to_be_checked()
        assert available() is False
        shot(page, "47-availability-off")

        section = page.get_by_test_id("availability")
        section.get_by_role("checkbox").check()
        section.get_by_role("button", name="Guardar").click()
        expect(notice(page)).to_have_text("Estás disponible para la asignación automática.")
        expect(page.get_by_test_id("availability").get_by_role("checkbox")).to_be_checked()
        assert available() is True
    finally:
        # Whatever happened, the demo technician is left available for the other tests.
        api.call("PATCH", "/api/tickets/assignees/me/", "technician", json={"available": True})
