"""The msgspec renderer writes the bytes DRF's own JSON renderer writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from tickets.api.renderers import JSONRenderer

from tests.conftest import Api, Caller

pytestmark = pytest.mark.django_db

SAMPLES: list[Any] = [
    {"results": [{"id": 1, "title": "Impresora sin tóner ☃", "assignee_id": None}]},
    {"message": gettext_lazy("Not found."), "extra": {"code": "not_found"}},
    {"text": "line\u2028separator\u2029paragraph", "quote": '"\\', "flag": True},
    {"at": datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), "id": UUID(int=7), "n": [1, 2]},
    [],
    "",
]


@pytest.mark.parametrize("data", SAMPLES)
def test_same_bytes_as_drf(data: Any) -> None:
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_nothing_renders_as_an_empty_body() -> None:
    assert JSONRenderer().render(None) == b""


def test_indented_json_on_request() -> None:
    media_type = "application/json; indent=2"
    data = {"a": [1, {"b": None}]}
    rendered = JSONRenderer().render(data, media_type)
    assert rendered == renderers.JSONRenderer().render(data, media_type)
    assert b"\n  " in rendered


def test_a_ticket_page_is_the_same_through_both(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    open_ticket("client", title="Teléfono\u2028roto")
    response = api.get("/api/tickets/", as_=callers["technician"])
    assert response.content == renderers.JSONRenderer().render(response.json())
