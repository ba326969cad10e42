"""A report export made in the background (issue 22), in the machine's Chromium against
the whole stack behind nginx (started as `make up` starts it, on PostgreSQL and RabbitMQ):
the admin clicks a download, the page shows the job's progress, the file arrives, and the
notification "Tu informe está listo" is in their feed. Without JavaScript the form leads
to the job's page, which reloads itself until it offers the file.

The progress itself moves faster than a browser can watch on the demo's data; what is
checked is that the page shows it (the label and the bar) and ends with the file.
"""

from __future__ import annotations

import io
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from browser import CHROMIUM, Browser, Page, chromium, expect, shot, sign_in
from pypdf import PdfReader
from stack import POSTGRES_URL, RABBITMQ_URL, SERVICES, Stack, drop_stack_resources, running_stack

ADMIN = ("admin", "Mesa-de-ayuda-A1")

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
        f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_exports_{run}_{name}"
        for name in SERVICES
    }
    env |= {"BROKER_URL": RABBITMQ_URL, "SERVIDESK_EVENT_PREFIX": f"exports-{run}."}
    with ExitStack() as cleanup:
        cleanup.callback(drop_stack_resources, env)  # runs after the stack has stopped
        yield cleanup.enter_context(running_stack(tmp_path_factory.mktemp("exports"), env))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def new_page(browser: Browser, stack: Stack) -> Iterator[Callable[..., Page]]:
    contexts: list[Any] = []

    def make(**options: Any) -> Page:
        context = browser.new_context(
            base_url=stack.base_url, locale="es-ES", accept_downloads=True, **options
        )
        context.set_default_timeout(60_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def test_an_export_shows_its_progress_then_the_file_and_a_notification(
    new_page: Callable[..., Page],
) -> None:
    admin = new_page()
    sign_in(admin, *ADMIN)
    admin.goto("/reports/")
    expect(admin.locator("[data-testid=kpis]")).to_be_visible()

    with admin.expect_download() as download:
        admin.click("[data-testid=export-pdf]")
        # The script shows the job's label and bar while reports makes the file.
        expect(admin.locator("[data-testid=export-progress]")).to_contain_text(
            re.compile(r"Preparando el informe… \d+\s%|Tu informe está listo")
        )
        expect(admin.locator("[data-export-progress] progress")).to_be_visible()
    shot(admin, "exports-progress-done")
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 1
    assert download.value.suggested_filename.endswith(".pdf")
    expect(admin.locator("[data-testid=export-progress]")).to_have_text("Tu informe está listo.")

    # reports → report.export_ready → notifier: the feed says so, with the job's page.
    admin.goto("/notifications/")
    feed = admin.locator("[data-testid=feed]")
    for _attempt in range(60):
        if feed.count() and "Tu informe está listo" in (feed.text_content() or ""):
            break
        admin.wait_for_timeout(1000)
        admin.reload()
    expect(feed).to_contain_text("Tu informe está listo")
    expect(feed).to_contain_text("/reports/exports/")


def test_without_javascript_the_jobs_page_reloads_until_it_offers_the_file(
    new_page: Callable[..., Page],
) -> None:
    admin = new_page(java_script_enabled=False)
    sign_in(admin, *ADMIN)
    admin.goto("/reports/")
    admin.click("[data-testid=export-csv]")
    expect(admin).to_have_url(re.compile(r"/reports/exports/[0-9a-f-]{36}/$"))
    # The Refresh header reloads the page until the file is there.
    link = admin.locator("[data-testid=export-download]")
    expect(link).to_be_visible(timeout=60_000)
    shot(admin, "exports-job-page-done")
    with admin.expect_download() as download:
        link.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("number,ticket_id,title,")
    assert download.value.suggested_filename.endswith(".csv")
