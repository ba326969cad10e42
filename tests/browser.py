"""What the browser tests share: headless Chromium as CI installs it, screenshots, sign-in.

Each test module keeps its own stack and page fixtures (they differ: downloads, dialogs);
the ``browser`` fixture of each is ``chromium()``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from stack import ROOT

playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect

CHROMIUM = os.environ.get("SERVIDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"


def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless (``playwright install`` cannot download here)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".menu summary")).to_be_visible()
