"""Bad input gets a clear 4xx in the one error shape, never a 500, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from tickets.models import Comment, HistoryEntry, Role, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Api, Caller
from tests.factories import CategoryFactory, DirectoryUserFactory

pytestmark = pytest.mark.django_db

VALID = {"title": "VPN drops", "description": "Every 10 minutes."}


def counts() -> tuple[int, int, int, int]:
    return (
        Ticket.objects.count(),
        Comment.objects.count(),
        HistoryEntry.objects.count(),
        OutboxMessage.objects.count(),
    )


def assert_error(response: Any, code: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == code, response.content
    body: dict[str, Any] = response.json()
    assert set(body) == {"message", "extra"}
    assert isinstance(body["message"], str)
    assert body["message"]
    if field is not None:
        assert field in body["extra"]["fields"], body
        assert all(isinstance(m, str) and m for m in body["extra"]["fields"][field])
    return body


CREATE_CASES = [
    pytest.param("client", {**VALID, "title": ""}, "title", id="empty title"),
    pytest.param("client", {**VALID, "title": "   "}, "title", id="blank title"),
    pytest.param("client", {**VALID, "title": "x" * 201}, "title", id="long title"),
    pytest.param("client", {"description": "no title"}, "title", id="missing title"),
    pytest.param("client", {**VALID, "description": "x" * 1_000_000}, "description", id="1MB"),
    pytest.param("client", {**VALID, "description": "nul\x00byte"}, "description", id="NUL"),
    pytest.param("client", {**VALID, "priority": "critical"}, "priority", id="bad priority"),
    pytest.param("client", {**VALID, "priority": 3}, "priority", id="numeric priority"),
    pytest.param("client", {**VALID, "category": "nope"}, "category", id="unknown category"),
    pytest.param("client", {**VALID, "category": "retired"}, "category", id="inactive category"),
    pytest.param("client", {**VALID, "client_id": 12}, "client_id", id="client for another"),
    pytest.param("technician", VALID, "client_id", id="staff without client"),
    pytest.param("technician", {**VALID, "client_id": 21}, "client_id", id="staff for staff"),
    pytest.param("admin", {**VALID, "client_id": 404}, "client_id", id="staff unknown client"),
    pytest.param("admin", {**VALID, "client_id": 13}, "client_id", id="staff inactive client"),
    pytest.param("admin", {**VALID, "client_id": True}, "client_id", id="boolean id"),
    pytest.param("admin", {**VALID, "client_id": {"a": 1}}, "client_id", id="object id"),
    pytest.param("admin", {**VALID, "client_id": "x" * 65}, "client_id", id="long id"),
]


@pytest.mark.parametrize(("role", "body", "field"), CREATE_CASES)
def test_create_refuses(
    api: Api, callers: dict[str, Caller], role: str, body: dict[str, Any], field: str
) -> None:
    CategoryFactory(slug="retired", is_active=False)
    DirectoryUserFactory(id="13", role=Role.CLIENT, is_active=False)
    before = counts()
    assert_error(api.post("/api/tickets/", body, as_=callers[role]), 400, field)
    assert counts() == before


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [("{not json", "application/json"), ("[1, 2]", "application/json"), ("a=b", "text/plain")],
)
def test_malformed_bodies(
    api: Api, callers: dict[str, Caller], payload: str, content_type: str
) -> None:
    response = api.client.post(
        "/api/tickets/", payload, content_type=content_type, headers=callers["client"].headers
    )
    assert response.status_code in (400, 415)
    assert_error(response, response.status_code)
    assert Ticket.objects.count() == 0


@pytest.fixture
def ticket(open_ticket: Any) -> Ticket:
    ticket: Ticket = open_ticket("client")
    return ticket


@pytest.mark.parametrize(
    ("path", "role", "body", "code", "field"),
    [
        ("status/", "technician", {"status": "archived"}, 400, "status"),
        ("status/", "technician", {}, 400, "status"),
        ("status/", "technician", {"status": "resolved"}, 409, None),
        ("status/", "technician", {"status": "in_progress", "version": 7}, 409, None),
        ("assign/", "admin", {"assignee_id": 11}, 400, "assignee_id"),
        ("assign/", "admin", {"assignee_id": 999}, 400, "assignee_id"),
        ("assign/", "admin", {"assignee_id": 23}, 400, "assignee_id"),
        ("assign/", "admin", {}, 400, "assignee_id"),
        ("assign/", "technician", {"assignee_id": 22}, 403, None),
        ("comments/", "client", {"body": ""}, 400, "body"),
        ("comments/", "client", {"body": "x" * 20_001}, 400, "body"),
        ("comments/", "client", {"body": "ok", "internal": "maybe"}, 400, "internal"),
        ("comments/", "client", {"body": "sneaky", "internal": True}, 403, None),
    ],
)
def test_actions_refuse(
    api: Api,
    callers: dict[str, Caller],
    ticket: Ticket,
    path: str,
    role: str,
    body: dict[str, Any],
    code: int,
    field: str | None,
) -> None:
    DirectoryUserFactory(id="23", role=Role.TECHNICIAN, is_active=False)
    before = counts()
    response = api.post(f"/api/tickets/{ticket.pk}/{path}", body, as_=callers[role])
    assert_error(response, code, field)
    assert counts() == before
    ticket.refresh_from_db()
    assert ticket.version == 1


@pytest.mark.parametrize(
    ("role", "body", "code", "field"),
    [
        ("client", {}, 400, "non_field_errors"),
        ("client", {"title": ""}, 400, "title"),
        ("client", {"priority": "whenever"}, 400, "priority"),
        ("technician", {"title": "ok", "version": 9}, 409, None),
        ("technician", {"title": "ok", "version": "one"}, 400, "version"),
    ],
)
def test_edit_refuses(
    api: Api,
    callers: dict[str, Caller],
    ticket: Ticket,
    role: str,
    body: dict[str, Any],
    code: int,
    field: str | None,
) -> None:
    before = counts()
    assert_error(api.patch(f"/api/tickets/{ticket.pk}/", body, as_=callers[role]), code, field)
    assert counts() == before


def test_a_client_cannot_edit_once_work_started(
    api: Api, callers: dict[str, Caller], ticket: Ticket
) -> None:
    api.post(f"/api/tickets/{ticket.pk}/status/", {"status": "in_progress"}, as_=callers["admin"])
    response = api.patch(f"/api/tickets/{ticket.pk}/", {"title": "x"}, as_=callers["client"])
    assert_error(response, 409)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": "eyJ2IjoxfQ"}, "cursor"),  # {"v":1}: valid base64 JSON, not a cursor
        ({"cursor": "eyJ2Ijoibm90IGEgZGF0ZSIsImkiOjEsInIiOmZhbHNlfQ"}, "cursor"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2026-13-45"}, "created_before"),
        ({"created_before": "0001-01-01T00:00+05:00"}, "created_before"),  # before year 1 in UTC
        ({"updated_after": "2026-02-30T10:00"}, "updated_after"),
        ({"status": "archived"}, "status"),
        ({"priority": "asap"}, "priority"),
        ({"category": "nope"}, "category"),
        ({"unassigned": "maybe"}, "unassigned"),
        ({"breached": "yes please"}, "breached"),
        ({"ordering": "title"}, "ordering"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "1000"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_list_refuses_bad_parameters(
    api: Api, callers: dict[str, Caller], params: dict[str, str], field: str
) -> None:
    assert_error(api.get("/api/tickets/", as_=callers["technician"], **params), 400, field)


@pytest.mark.parametrize(
    "path",
    [
        "/api/tickets/0/",
        "/api/tickets/-1/",
        "/api/tickets/abc/",
        "/api/tickets/99999999999999999999999/",
        "/api/tickets/123456789012345678/",
        "/api/tickets/1/status",
    ],
)
def test_odd_ids_are_json_404s(api: Api, callers: dict[str, Caller], path: str) -> None:
    assert_error(api.get(path, as_=callers["admin"]), 404)


@pytest.mark.parametrize("q", ["'", "a & | ! b", "(((", ":*", "\\", "SD-", "é", "%_"])
def test_search_survives_any_text(api: Api, callers: dict[str, Caller], q: str) -> None:
    assert api.get("/api/tickets/", as_=callers["technician"], q=q).status_code == 200


def test_sla_target_refuses_nonsense(api: Api, callers: dict[str, Caller]) -> None:
    admin = callers["admin"]
    url = "/api/tickets/sla-targets/high/"
    assert_error(api.put(url, {"first_response_hours": 0, "resolution_hours": 4}, as_=admin), 400)
    body = {"first_response_hours": 8, "resolution_hours": 4}
    assert_error(api.put(url, body, as_=admin), 400, "resolution_hours")
    assert_error(api.put("/api/tickets/sla-targets/whenever/", body, as_=admin), 404)


def test_category_refuses_duplicates_and_deleting_one_in_use(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    admin = callers["admin"]
    category = CategoryFactory(slug="network")
    assert_error(
        api.post("/api/tickets/categories/", {"slug": "network", "name": "Again"}, as_=admin),
        400,
        "slug",
    )
    assert_error(
        api.post("/api/tickets/categories/", {"slug": "no spaces!", "name": "x"}, as_=admin),
        400,
        "slug",
    )
    open_ticket("client", category=category)
    body = assert_error(api.delete("/api/tickets/categories/network/", as_=admin), 409)
    assert body["extra"]["code"] == "category_in_use"
