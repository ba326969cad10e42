"""The live UI (issue 22) in the machine's Chromium (Playwright) against the whole stack
behind nginx, started as `make up` starts it (on PostgreSQL and RabbitMQ, free ports), with
web-live and web-events from the Procfile.

Two (then three) browser contexts: a client replies and the technician's open ticket page
shows it without a reload, the technician's bell moves; an internal note never reaches the
client's page; a second technician sees "… está respondiendo…" while the first types; and
a stream that was cut resumes with Last-Event-ID and gets what happened in between.

Screenshots go to var/test-artifacts/browser/ (kept after the run).
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser import CHROMIUM, Browser, Page, chromium, expect, shot, sign_in
from stack import (
    DEMO_TECHNICIAN,
    POSTGRES_URL,
    RABBITMQ_URL,
    SERVICES,
    Stack,
    drop_stack_resources,
    running_stack,
)

DEMO_CLIENT = ("cliente1", "Mesa-de-ayuda-C1")
OTHER_TECHNICIAN = ("tecnico2", "Mesa-de-ayuda-T2")
#: tecnico1's name, as the pages show it (accounts' seed_demo).
TECHNICIAN_NAME = "Lucía Martín"
#: What the test waits for a live change at most (the one-second aim is the benchmark's).
LIVE = 20_000

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
    run = uuid.uuid4().hex[:8]
    env = {
        f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_live_{run}_{name}"
        for name in SERVICES
    }
    env |= {"BROKER_URL": RABBITMQ_URL, "SERVIDESK_EVENT_PREFIX": f"live-{run}."}
    env |= {"THROTTLE_LOGIN_ACCOUNT": "60/min", "THROTTLE_LOGIN_IP": "120/min"}
    with ExitStack() as cleanup:
        cleanup.callback(drop_stack_resources, env)  # runs after the stack has stopped
        yield cleanup.enter_context(running_stack(tmp_path_factory.mktemp("live"), env))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def new_page(browser: Browser, stack: Stack) -> Iterator[Callable[..., Page]]:
    """A page in a fresh browser profile (its own cookies), in Spanish; any dialog means a
    script ran where only text should be, and fails the test."""
    contexts: list[Any] = []
    unexpected: list[str] = []

    def make(locale: str = "es-ES") -> Page:
        context = browser.new_context(base_url=stack.base_url, locale=locale)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: (unexpected.append(dialog.message), dialog.dismiss()))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not unexpected, f"unexpected dialogs: {unexpected}"


def open_ticket(page: Page, title: str) -> str:
    page.goto("/tickets/new/")
    page.fill("#id_title", title)
    page.fill("#id_description", "Sale una hoja en blanco.")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text(title)
    return urlsplit(page.url).path


def reply(page: Page, text: str, *, internal: bool = False) -> None:
    page.fill("#reply textarea[name=body]", text)
    page.locator(
        "#reply button[name=internal]" if internal else "#reply button[name=reply]"
    ).click()
    expect(page.locator("[data-testid=conversation]")).to_contain_text(text)


def streaming(page: Page) -> None:
    """Wait until the page's EventSource is open."""
    page.wait_for_function("window.servideskLive && window.servideskLive.readyState === 1")


def test_a_reply_shows_on_the_other_side_without_a_reload(
    new_page: Callable[..., Page],
) -> None:
    mark = uuid.uuid4().hex[:8]
    client = new_page()
    sign_in(client, *DEMO_CLIENT)
    path = open_ticket(client, f"Impresora {mark}")

    technician = new_page()
    sign_in(technician, *DEMO_TECHNICIAN)
    technician.goto(path)
    technician.locator("form[action$='/assign/'] button").first.click()  # assign to me
    expect(technician.locator("[data-testid=assignee]")).to_contain_text("Yo")
    client.reload()
    streaming(technician)
    streaming(client)
    bell = technician.locator("#bell")
    before = bell.inner_text()
    technician.evaluate("window.liveMarker = 'same page'")  # gone if the page reloads

    # The client replies: the technician's open page shows it, and their bell moves.
    reply(client, f"<b>¿Alguna novedad?</b> {mark}")
    conversation = technician.locator("[data-testid=conversation]")
    expect(conversation).to_contain_text(f"<b>¿Alguna novedad?</b> {mark}", timeout=LIVE)
    expect(bell).not_to_have_text(before, timeout=LIVE)
    assert technician.evaluate("window.liveMarker") == "same page"
    assert conversation.locator("b").count() == 0  # escaped, as the server renders it
    shot(technician, "live-01-technician-sees-the-reply")

    # The technician's internal note never reaches the client; their reply does, and
    # the status change with it.
    reply(technician, f"Nota interna {mark}", internal=True)
    technician.locator("form[action$='/status/'] button").first.click()
    reply(technician, f"Ya está en camino {mark}")
    client_conversation = client.locator("[data-testid=conversation]")
    expect(client_conversation).to_contain_text(f"Ya está en camino {mark}", timeout=LIVE)
    expect(client_conversation).not_to_contain_text(f"Nota interna {mark}")
    expect(client.locator("[data-testid=internal-note]")).to_have_count(0)
    shot(client, "live-02-client-sees-the-public-reply-only")


def test_another_technician_sees_who_is_replying(new_page: Callable[..., Page]) -> None:
    mark = uuid.uuid4().hex[:8]
    client = new_page()
    sign_in(client, *DEMO_CLIENT)
    path = open_ticket(client, f"Pantalla {mark}")

    first = new_page()
    sign_in(first, *DEMO_TECHNICIAN)
    first.goto(path)
    second = new_page()
    sign_in(second, *OTHER_TECHNICIAN)
    second.goto(path)
    streaming(first)
    streaming(second)

    first.locator("#reply textarea[name=body]").press_sequentially("Hola, lo mir", delay=50)
    typing = second.locator("[data-testid=typing]")
    # In the reader's language (tecnico2 reads English).
    replying = re.compile(f"^{TECHNICIAN_NAME} (está respondiendo|is replying)…$")
    expect(typing).to_have_text(replying, timeout=LIVE)
    shot(second, "live-03-someone-is-replying")
    expect(typing).to_be_hidden(timeout=LIVE)  # a few seconds after the typing stops
    expect(first.locator("[data-testid=typing]")).to_be_hidden()  # never oneself
    expect(client.locator("[data-testid=typing]")).to_have_count(0)  # staff only


def test_a_cut_stream_resumes_with_last_event_id_and_misses_nothing(
    new_page: Callable[..., Page],
) -> None:
    mark = uuid.uuid4().hex[:8]
    client = new_page()
    sign_in(client, *DEMO_CLIENT)
    path = open_ticket(client, f"Teclado {mark}")
    ticket_id = path.strip("/").split("/")[-1]

    technician = new_page()
    sign_in(technician, *DEMO_TECHNICIAN)
    technician.goto(path)
    streaming(technician)
    reply(client, f"Primera {mark}")
    conversation = technician.locator("[data-testid=conversation]")
    expect(conversation).to_contain_text(f"Primera {mark}", timeout=LIVE)
    technician.wait_for_function("window.servideskLiveLastId !== ''")
    last_id = technician.evaluate("window.servideskLiveLastId")

    # The stream is cut; meanwhile the client writes again (given the few seconds the
    # event takes from tickets' outbox through the broker into web's table).
    technician.evaluate("window.servideskLive.close()")
    reply(client, f"Mientras tanto {mark}")
    technician.wait_for_timeout(5000)
    expect(conversation).not_to_contain_text(f"Mientras tanto {mark}")

    # Reconnecting as EventSource does, with Last-Event-ID, through the gateway: the
    # reply that happened in between comes first, though nothing new happens.
    received = technician.evaluate(
        """async ([url, lastId]) => {
            const controller = new AbortController();
            const response = await fetch(url, {
                headers: {"Last-Event-ID": lastId}, signal: controller.signal,
            });
            const reader = response.body.getReader();
            const decoder = new TextDecoder();
            let text = "";
            const started = Date.now();
            const deadline = started + 20000;
            while (!/event: ticket\\n/.test(text) && Date.now() < deadline) {
                const {value, done} = await reader.read();
                if (done) break;
                text += decoder.decode(value, {stream: true});
            }
            controller.abort();
            const elapsed = Date.now() - started;
            return {
                status: response.status, type: response.headers.get("content-type"), text, elapsed,
            };
        }""",
        [f"/events/?ticket={ticket_id}", last_id],
    )
    assert received["status"] == 200
    assert received["type"].startswith("text/event-stream")
    ids = [int(found) for found in re.findall(r"^id: (\d+)$", received["text"], re.MULTILINE)]
    assert ids, received["text"]
    assert min(ids) > int(last_id)  # nothing sent twice
    assert re.search(r"^event: ticket$", received["text"], re.MULTILINE), received["text"]
    assert received["elapsed"] < 3000, received  # replayed at once, not waited for

    # The page itself, reconnected the same way (a reload starts from its own render).
    technician.reload()
    expect(conversation).to_contain_text(f"Mientras tanto {mark}")
    shot(technician, "live-04-after-reconnecting")
