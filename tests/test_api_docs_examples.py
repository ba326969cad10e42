"""docs/api.md's examples, run as written against the running stack, and its API reference.

Every ``sh`` block of the guide runs, in order, in one bash process (so a block's
variables reach the later ones) with the variables the guide asks for; the ``json`` block
after a ``sh`` block is what the command must print. Comparing is by shape, since ids and
times differ: every key the guide shows must be in the answer with a value of the same
type, lists shown non-empty must be non-empty (their first items compared), and the
values people branch on or read (``code``, ``message``, ``fields``, ``status``,
``internal``, ``author_id``'s kind) must be exactly the guide's.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from stack import DEMO_ADMIN, PREFIXES, SERVICES, Stack, login

pytestmark = pytest.mark.stack

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "api.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
#: Values compared exactly: what an integration branches on or shows to people.
EXACT_KEYS = frozenset({"code", "message", "fields", "status", "internal"})
MARKER = "@@@ servidesk docs example "


@dataclass(frozen=True)
class Example:
    number: int
    command: str
    expected: Any | None  # the json block after it, when there is one


def examples(markdown: str) -> list[Example]:
    """The guide's ``sh`` blocks, each with the ``json`` block that follows it (if any)."""
    found: list[Example] = []
    blocks = [(match.group(1), match.group(2)) for match in FENCE.finditer(markdown)]
    for index, (language, body) in enumerate(blocks):
        if language != "sh":
            continue
        expected = None
        if index + 1 < len(blocks) and blocks[index + 1][0] == "json":
            expected = json.loads(blocks[index + 1][1])
        found.append(Example(len(found), body, expected))
    return found


def same_shape(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """Where ``actual`` departs from the guide's ``expected`` answer (empty: it matches)."""
    if isinstance(expected, dict):
        return same_object(expected, actual, where)
    if isinstance(expected, list):
        return same_list(expected, actual, where)
    return same_scalar(expected, actual, where)


def same_object(expected: dict[str, Any], actual: Any, where: str) -> list[str]:
    if not isinstance(actual, dict):
        return [f"{where}: expected an object, got {actual!r}"]
    problems: list[str] = []
    for key, value in expected.items():
        if key not in actual:
            problems.append(f"{where}.{key}: missing")
        elif key in EXACT_KEYS and actual[key] != value:
            problems.append(f"{where}.{key}: the guide says {value!r}, got {actual[key]!r}")
        elif key not in EXACT_KEYS:
            problems += same_shape(value, actual[key], f"{where}.{key}")
    return problems


def same_list(expected: list[Any], actual: Any, where: str) -> list[str]:
    if not isinstance(actual, list):
        return [f"{where}: expected a list, got {actual!r}"]
    if expected and not actual:
        return [f"{where}: the guide shows items, the answer has none"]
    return same_shape(expected[0], actual[0], f"{where}[0]") if expected else []


def same_scalar(expected: Any, actual: Any, where: str) -> list[str]:
    # Nullable either way: `next` is a URL on one page and null on the last.
    if expected is None or actual is None:
        return []
    numbers = (int, float)
    if isinstance(expected, numbers) and not isinstance(expected, bool):
        ok = isinstance(actual, numbers) and not isinstance(actual, bool)
    else:
        ok = type(expected) is type(actual)
    return [] if ok else [f"{where}: expected a {type(expected).__name__}, got {actual!r}"]


def test_the_guide_has_examples_with_answers() -> None:
    found = examples(GUIDE.read_text())
    assert len(found) >= 10
    assert sum(example.expected is not None for example in found) >= 8


def test_the_shape_comparison_catches_what_matters() -> None:
    guide = {"message": "x", "extra": {"code": "a"}, "results": [{"id": 1}], "next": "u"}
    assert same_shape(guide, {**guide, "results": [{"id": 2, "more": True}], "next": None}) == []
    assert same_shape(guide, {**guide, "extra": {"code": "b"}})
    assert same_shape(guide, {**guide, "results": []})
    assert same_shape(guide, {**guide, "results": [{"id": "1"}]})
    assert same_shape(guide, {"message": "x", "results": [{"id": 1}], "next": "u"})


@pytest.fixture(scope="module")
def gateway(pg_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pg_stack.base_url, timeout=30) as client:
        yield client


def create_key(gateway: httpx.Client, admin: dict[str, str], **fields: Any) -> str:
    response = gateway.post("/api/accounts/api-keys/", json=fields, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def test_every_example_of_the_guide_runs_as_written(pg_stack: Stack, gateway: httpx.Client) -> None:
    admin = login(gateway, *DEMO_ADMIN)
    technician_key = create_key(gateway, admin, name="Inventario", role="technician")
    reporting_key = create_key(gateway, admin, name="Cuadro", role="admin", read_only=True)
    # A pending ticket for "the newest pending ticket" to find, opened by a client.
    client = login(gateway, "cliente1", "Mesa-de-ayuda-C1")
    opened = gateway.post(
        "/api/tickets/",
        json={"title": "La impresora no imprime", "description": "Sale la hoja en blanco."},
        headers=client,
    )
    assert opened.status_code == 201, opened.text

    found = examples(GUIDE.read_text())
    script = ["set -euo pipefail"]
    for example in found:
        script += [f"printf '\\n%s\\n' '{MARKER}{example.number}'", example.command]
    run = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "SERVIDESK": pg_stack.base_url,
            "SERVIDESK_API_KEY": technician_key,
            "SERVIDESK_REPORTING_KEY": reporting_key,
        },
    )
    outputs = re.split(rf"^{re.escape(MARKER)}(\d+)$", run.stdout, flags=re.MULTILINE)
    printed = {
        int(number): text.strip() for number, text in zip(outputs[1::2], outputs[2::2], strict=True)
    }
    assert run.returncode == 0, (
        f"example {max(printed, default=0)} failed:\n{run.stderr}\n{run.stdout[-2000:]}"
    )
    assert sorted(printed) == [example.number for example in found]

    problems: list[str] = []
    for example in found:
        if example.expected is None:
            continue
        try:
            answer = json.loads(printed[example.number])
        except json.JSONDecodeError:
            problems.append(f"{example.command}\nprinted no JSON: {printed[example.number]!r}")
            continue
        for problem in same_shape(example.expected, answer):
            problems.append(f"{example.command}\n{problem}")
    assert not problems, "\n\n".join(problems)

    # The paginating loop printed every ticket once, the one opened above among them.
    pagination = next(e for e in found if "while [ -n" in e.command)
    lines = printed[pagination.number].splitlines()
    assert opened.json()["number"] in " ".join(lines)
    assert len(lines) == len(set(lines))
    # The internal note is the technician key's: its author is the key, not a person.
    note = next(e for e in found if '"internal": true' in e.command)
    assert json.loads(printed[note.number])["author_id"].startswith("apikey:")


def test_the_gateway_serves_one_api_reference(gateway: httpx.Client) -> None:
    index = gateway.get("/api/schema/")
    assert index.status_code == 200, index.text
    schemas = index.json()["schemas"]
    apis = [service for service in SERVICES if service != "web"]
    assert [entry["url"] for entry in schemas] == [f"{PREFIXES[s]}schema/" for s in apis]
    for entry in schemas:
        schema = gateway.get(entry["url"], headers={"Accept": "application/json"})
        assert schema.status_code == 200
        assert schema.json()["openapi"].startswith("3.")
        assert gateway.get(entry["docs"]).status_code == 200

    docs = gateway.get("/api/docs/")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    for entry in schemas:
        assert entry["url"] in docs.text
    policy = docs.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "<script>" not in docs.text  # the page's own code is a file the policy allows
    # Every asset the page loads answers through the gateway.
    for asset in re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css|png))"', docs.text):
        assert gateway.get(asset).status_code == 200, asset


def test_swagger_ui_at_the_gateway_switches_between_the_four_apis(pg_stack: Stack) -> None:
    browser_module = pytest.importorskip("browser")
    console: list[Any] = []

    def remember(message: Any) -> None:  # Playwright wants a function, not a builtin method
        console.append(message)

    for browser in browser_module.chromium():
        page = browser.new_page(base_url=pg_stack.base_url)
        page.on("console", remember)
        page.goto("/api/docs/")
        selector = page.locator(".topbar select")
        browser_module.expect(selector.locator("option")).to_have_count(4)
        for label in [option.inner_text() for option in selector.locator("option").all()]:
            selector.select_option(label=label)
            # Each API's operations render: its schema loaded through the gateway.
            browser_module.expect(page.locator(".opblock").first).to_be_visible()
        browser_module.shot(page, "gateway-api-docs")
    texts = [message.text for message in console]
    assert not [text for text in texts if "Content Security Policy" in text], texts
