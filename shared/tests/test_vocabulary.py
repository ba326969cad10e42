"""The shared words: their labels in both languages and the workflow's moves."""

from __future__ import annotations

from typing import get_args

import pytest
from django.utils import translation

from servidesk_shared.events import schemas
from servidesk_shared.vocabulary import (
    CLIENT_REPLY_MOVES,
    CLIENT_TRANSITIONS,
    FINAL_STATUSES,
    OPEN_STATUSES,
    PAUSED_STATUSES,
    PRIORITY_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    SYSTEM_TRANSITIONS,
    TRANSITIONS,
    Status,
    allowed_moves,
    is_allowed,
)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", ["Pendiente", "En progreso", "Esperando al cliente", "Resuelto", "Cerrado"]),
        ("en", ["Pending", "In progress", "Waiting on client", "Resolved", "Closed"]),
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
    assert allowed_moves("in_progress") == ["pending", "waiting", "resolved"]
    assert allowed_moves("waiting") == ["in_progress", "resolved"]
    assert allowed_moves("resolved") == ["in_progress"]
    assert allowed_moves("closed") == []  # final: only the desk closes, nobody reopens


def test_a_clients_reply_brings_a_waiting_or_resolved_ticket_back_to_work() -> None:
    assert CLIENT_REPLY_MOVES == {"waiting": "in_progress", "resolved": "in_progress"}
    assert ("resolved", "in_progress") in CLIENT_TRANSITIONS
    assert not any(to == "closed" for _, to in CLIENT_TRANSITIONS)


def test_only_the_desk_closes_and_open_means_work_is_owed() -> None:
    assert ("resolved", "closed") in SYSTEM_TRANSITIONS
    assert {to for _, to in SYSTEM_TRANSITIONS} == {"closed"}
    assert not any("closed" in targets for targets in TRANSITIONS.values())
    assert {"pending", "in_progress", "waiting"} == OPEN_STATUSES
    assert {"waiting"} == PAUSED_STATUSES
    assert {"closed"} == FINAL_STATUSES


def test_the_event_schemas_know_the_same_statuses() -> None:
    assert set(get_args(schemas.Status)) == set(Status.values)


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [("pending", "resolved"), ("resolved", "pending"), ("pending", "pending"), ("x", "pending")],
)
def test_other_moves_are_not_allowed(from_status: str, to_status: str) -> None:
    assert not is_allowed(from_status, to_status)
    assert allowed_moves("x") == []
