"""The shared words: their labels in both languages and the workflow's moves."""

from __future__ import annotations

import pytest
from django.utils import translation

from servidesk_shared.vocabulary import (
    PRIORITY_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    Status,
    allowed_moves,
    is_allowed,
)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", ["Pendiente", "En progreso", "Resuelto"]),
        ("en", ["Pending", "In progress", "Resolved"]),
    ],
)
def test_statuses_are_named_in_the_users_language(language: str, expected: list[str]) -> None:
    with translation.override(language):
        assert [str(STATUS_LABELS[value]) for value in Status.values] == expected


def test_priorities_and_roles_are_named_in_spanish() -> None:
    with translation.override("es"):
        assert [str(label) for label in PRIORITY_LABELS.values()] == [
            "Baja",
            "Media",
            "Alta",
            "Urgente",
        ]
        assert [str(label) for label in ROLE_LABELS.values()] == [
            "Cliente",
            "Técnico",
            "Administrador",
        ]


def test_the_workflow_moves_forward_back_and_reopens() -> None:
    assert allowed_moves("pending") == ["in_progress"]
    assert allowed_moves("in_progress") == ["pending", "resolved"]
    assert allowed_moves("resolved") == ["in_progress"]


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [("pending", "resolved"), ("resolved", "pending"), ("pending", "pending"), ("x", "pending")],
)
def test_other_moves_are_not_allowed(from_status: str, to_status: str) -> None:
    assert not is_allowed(from_status, to_status)
    assert allowed_moves("x") == []
