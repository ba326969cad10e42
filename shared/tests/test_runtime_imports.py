"""The runtime package stays free of test tooling: production images install it alone."""

from __future__ import annotations

import ast
from pathlib import Path

import servidesk_shared

TEST_TOOLING = {
    "pytest",
    "pytest_django",
    "schemathesis",
    "hypothesis",
    "aiosmtpd",
    "servidesk_testing",
}


def imported_roots(source: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.partition(".")[0])
    return roots


def test_no_runtime_module_imports_test_tooling() -> None:
    package = Path(servidesk_shared.__file__).parent
    offenders = {
        str(path.relative_to(package)): sorted(imported_roots(path) & TEST_TOOLING)
        for path in package.rglob("*.py")
        if imported_roots(path) & TEST_TOOLING
    }
    assert offenders == {}
