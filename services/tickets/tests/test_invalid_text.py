"""NUL and lone surrogates anywhere in a request: a 400 naming the field, never a 500.

PostgreSQL refuses NUL in text, and a lone surrogate (JSON ``"\\ud800"``) cannot be
encoded: before ``servidesk_shared.text_input.InvalidTextMiddleware`` both reached the
database (a category lookup, a filter, a write) and came back as 500s.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from tickets.models import HistoryEntry, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Api, Caller
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def assert_field(response: Any, field: str, code: str = "U+0000") -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert body["message"] == "The data sent is not valid."
    assert list(body["extra"]["fields"]) == [field]
    assert code in body["extra"]["fields"][field][0]


def nothing_written() -> bool:
    return not (
        Ticket.objects.exists() or HistoryEntry.objects.exists() or OutboxMessage.objects.exists()
    )


def test_nul_in_category_on_create_is_a_400(api: Api, callers: dict[str, Caller]) -> None:
    CategoryFactory(slug="network")
    data = {"title": "VPN drops", "description": "Every 10 minutes.", "category": "net\x00work"}
    assert_field(api.post("/api/tickets/", data, as_=callers["client"]), "category")
    assert nothing_written()


def test_lone_surrogate_in_title_is_a_400(client: Client, callers: dict[str, Caller]) -> None:
    response = client.post(
        "/api/tickets/",
        b'{"title": "VPN \\ud800 drops", "description": "x"}',
        content_type="application/json",
        headers=callers["client"].headers,
    )
    assert_field(response, "title", "U+D800")
    assert nothing_written()


@pytest.mark.parametrize("param", ["q", "category", "tag", "status"])
def test_nul_in_a_list_filter_is_a_400(api: Api, callers: dict[str, Caller], param: str) -> None:
    assert_field(api.get("/api/tickets/", as_=callers["technician"], **{param: "a\x00b"}), param)


def test_nul_in_a_path_parameter_is_a_400(api: Api, callers: dict[str, Caller]) -> None:
    response = api.get("/api/tickets/sla-targets/hi%00gh/", as_=callers["admin"])
    assert_field(response, "priority")


def test_nul_in_an_unknown_path_stays_a_404(api: Api, callers: dict[str, Caller]) -> None:
    assert api.get("/api/tickets/no%00such/thing/", as_=callers["admin"]).status_code == 404
