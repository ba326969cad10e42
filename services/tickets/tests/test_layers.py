"""Layers point one way: the domain (services, signals, events, selectors...) never imports
the API layer, so reading a write's effects never leads into serializers or views."""

from __future__ import annotations

import ast
from pathlib import Path

import tickets

#: App wiring, which registers the API's OpenAPI extensions at start-up.
WIRING = {"apps.py"}


def imported_modules(source: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def test_the_domain_does_not_import_the_api() -> None:
    package = Path(tickets.__file__).parent
    offenders = {
        str(path.relative_to(package)): sorted(
            name for name in imported_modules(path) if name.startswith("tickets.api")
        )
        for path in package.rglob("*.py")
        if path.parts[len(package.parts)] != "api" and path.name not in WIRING
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_check_sees_an_api_import(tmp_path: Path) -> None:
    source = tmp_path / "events.py"
    source.write_text("from tickets.api.fields import render_user_id\nfrom tickets import api\n")
    assert imported_modules(source) >= {"tickets.api.fields", "tickets.api"}
