"""The permission matrix as one table (NetBox-style): endpoint x caller -> status code.

Callers: anonymous, the ticket's client, another client, a technician, an admin. The
ticket under test belongs to ``client``; for ``other_client`` it must not exist (404),
never 403, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tickets.models import Macro, SavedView, Status, Team, Ticket

from tests.conftest import Api, Caller
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "client", "other_client", "technician", "admin")


def create_body(caller: str) -> dict[str, Any]:
    body: dict[str, Any] = {"title": "Cannot log in", "description": "Password rejected."}
    if caller in ("technician", "admin"):
        body["client_id"] = 11
    return body


def assign_body(caller: str) -> dict[str, Any]:
    """To someone else: another technician (a technician may only take tickets)."""
    return {"assignee_id": 22}


# (name, method, path, body(caller) or None, expected per caller in ROLES order)
MATRIX: list[tuple[str, str, str, Callable[[str], Any] | None, tuple[int, ...]]] = [
    ("list", "get", "/api/tickets/", None, (401, 200, 200, 200, 200)),
    ("create", "post", "/api/tickets/", create_body, (401, 201, 201, 201, 201)),
    ("detail", "get", "/api/tickets/{id}/", None, (401, 200, 404, 200, 200)),
    ("edit", "patch", "/api/tickets/{id}/", lambda c: {"title": "New"}, (401, 200, 404, 200, 200)),
    (
        "start work",
        "post",
        "/api/tickets/{id}/status/",
        lambda c: {"status": Status.IN_PROGRESS},
        (401, 403, 404, 200, 200),
    ),
    ("assign", "post", "/api/tickets/{id}/assign/", assign_body, (401, 403, 404, 403, 200)),
    (
        "take",
        "post",
        "/api/tickets/{id}/assign/",
        lambda c: {"assignee_id": {"technician": 21, "admin": 31}.get(c, 11)},
        (401, 403, 404, 200, 200),
    ),
    (
        "unassign",
        "post",
        "/api/tickets/{id}/assign/",
        lambda c: {"assignee_id": None},
        (401, 403, 404, 200, 200),
    ),
    ("comments", "get", "/api/tickets/{id}/comments/", None, (401, 200, 404, 200, 200)),
    (
        "public comment",
        "post",
        "/api/tickets/{id}/comments/",
        lambda c: {"body": "Any news?"},
        (401, 201, 404, 201, 201),
    ),
    (
        "internal note",
        "post",
        "/api/tickets/{id}/comments/",
        lambda c: {"body": "Check the VPN logs", "internal": True},
        (401, 403, 404, 201, 201),
    ),
    ("history", "get", "/api/tickets/{id}/history/", None, (401, 200, 404, 200, 200)),
    ("categories", "get", "/api/tickets/categories/", None, (401, 200, 200, 200, 200)),
    (
        "add category",
        "post",
        "/api/tickets/categories/",
        lambda c: {"slug": f"net-{c}", "name": "Network"},
        (401, 403, 403, 403, 201),
    ),
    ("category", "get", "/api/tickets/categories/hardware/", None, (401, 200, 200, 200, 200)),
    (
        "edit category",
        "patch",
        "/api/tickets/categories/hardware/",
        lambda c: {"name": "Hardware and peripherals"},
        (401, 403, 403, 403, 200),
    ),
    (
        "delete category",
        "delete",
        "/api/tickets/categories/unused/",
        None,
        (401, 403, 403, 403, 204),
    ),
    ("sla targets", "get", "/api/tickets/sla-targets/", None, (401, 200, 200, 200, 200)),
    ("sla target", "get", "/api/tickets/sla-targets/high/", None, (401, 200, 200, 200, 200)),
    (
        "set sla target",
        "put",
        "/api/tickets/sla-targets/high/",
        lambda c: {"first_response_hours": 2, "resolution_hours": 12},
        (401, 403, 403, 403, 200),
    ),
    ("assignees", "get", "/api/tickets/assignees/", None, (401, 403, 403, 200, 200)),
    # Issue 18: teams, tags, availability, and the agent workspace.
    (
        "availability",
        "patch",
        "/api/tickets/assignees/me/",
        lambda c: {"available": False},
        (401, 403, 403, 200, 200),
    ),
    ("teams", "get", "/api/tickets/teams/", None, (401, 403, 403, 200, 200)),
    (
        "add team",
        "post",
        "/api/tickets/teams/",
        lambda c: {"name": f"Team {c}", "member_ids": [21]},
        (401, 403, 403, 403, 201),
    ),
    ("team", "get", "/api/tickets/teams/{team}/", None, (401, 403, 403, 200, 200)),
    (
        "edit team",
        "patch",
        "/api/tickets/teams/{team}/",
        lambda c: {"assignment": "round_robin"},
        (401, 403, 403, 403, 200),
    ),
    ("delete team", "delete", "/api/tickets/teams/{team}/", None, (401, 403, 403, 403, 204)),
    ("tags", "get", "/api/tickets/tags/", None, (401, 403, 403, 200, 200)),
    ("macros", "get", "/api/tickets/macros/", None, (401, 403, 403, 200, 200)),
    (
        "add macro",
        "post",
        "/api/tickets/macros/",
        lambda c: {"title": "Hi", "body": "Hola {cliente}"},
        (401, 403, 403, 201, 201),
    ),
    ("shared macro", "get", "/api/tickets/macros/{macro}/", None, (401, 403, 403, 200, 200)),
    (
        "edit shared macro",
        "patch",
        "/api/tickets/macros/{macro}/",
        lambda c: {"title": "Hello"},
        (401, 403, 403, 403, 200),
    ),
    (
        "delete shared macro",
        "delete",
        "/api/tickets/macros/{macro}/",
        None,
        (401, 403, 403, 403, 204),
    ),
    (
        "apply macro",
        "post",
        "/api/tickets/{id}/apply-macro/",
        lambda c: {"macro_id": "{macro}"},
        (401, 403, 403, 200, 200),
    ),
    (
        "bulk",
        "post",
        "/api/tickets/bulk/",
        lambda c: {"ids": ["{id}"], "action": "priority", "value": "high"},
        (401, 403, 403, 200, 200),
    ),
    ("views", "get", "/api/tickets/views/", None, (401, 200, 200, 200, 200)),
    (
        "add view",
        "post",
        "/api/tickets/views/",
        lambda c: {"name": "Pending", "filters": {"status": "pending"}},
        (401, 201, 201, 201, 201),
    ),
    (
        "edit shared view",
        "patch",
        "/api/tickets/views/{view}/",
        lambda c: {"name": "All of them"},
        (401, 403, 403, 403, 200),
    ),
    ("delete shared view", "delete", "/api/tickets/views/{view}/", None, (401, 403, 403, 403, 204)),
    ("status counts", "get", "/api/tickets/status-counts/", None, (401, 200, 200, 200, 200)),
    (
        "merge",
        "post",
        "/api/tickets/{id}/merge/",
        lambda c: {"into_id": "{other}"},
        (401, 403, 403, 200, 200),
    ),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    """A body with ``"{name}"`` placeholders replaced by the ids made for the test."""
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, str) and value.startswith("{") and value.strip("{}") in ids:
        return ids[value.strip("{}")]
    return value


CASES = [
    pytest.param(method, path, body, caller, expected, id=f"{name}-{caller}")
    for name, method, path, body, codes in MATRIX
    for caller, expected in zip(ROLES, codes, strict=True)
]


@pytest.mark.parametrize(("method", "path", "body", "caller", "expected"), CASES)
def test_permission_matrix(
    api: Api,
    callers: dict[str, Caller],
    open_ticket: Any,
    method: str,
    path: str,
    body: Callable[[str], Any] | None,
    caller: str,
    expected: int,
) -> None:
    CategoryFactory(slug="hardware", name="Hardware")
    CategoryFactory(slug="unused", name="Unused")
    ticket = open_ticket("client")
    ids = {
        "id": ticket.pk,
        "other": open_ticket("client").pk,
        "team": Team.objects.create(name="Redes").pk,
        "macro": Macro.objects.create(title="All", body="Hi", owner_id="31", shared=True).pk,
        "view": SavedView.objects.create(name="All", owner_id="31", shared=True).pk,
    }
    as_ = None if caller == "anonymous" else callers[caller]
    call = getattr(api, method)
    url = path.format(**ids)
    response = call(url, _fill(body(caller), ids), as_=as_) if body else call(url, as_=as_)
    assert response.status_code == expected, response.content
    if expected >= 400:
        payload = response.json()
        assert set(payload) == {"message", "extra"}
        assert payload["message"]


def test_list_shows_a_client_only_their_own_tickets(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    mine = open_ticket("client")
    open_ticket("other_client")
    for role, expected in (("client", {mine.pk}), ("other_client", None), ("technician", None)):
        ids = {row["id"] for row in api.get("/api/tickets/", as_=callers[role]).json()["results"]}
        if role == "client":
            assert ids == expected
        elif role == "other_client":
            assert mine.pk not in ids
            assert len(ids) == 1
        else:
            assert len(ids) == 2


def test_a_client_filtering_by_another_client_sees_nothing(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    open_ticket("other_client")
    response = api.get("/api/tickets/", as_=callers["client"], client_id="12")
    assert response.json()["results"] == []


def test_a_token_without_a_known_role_is_refused(api: Api, callers: dict[str, Caller]) -> None:
    stranger = Caller(99, "superhero", "x")
    assert api.get("/api/tickets/", as_=stranger).status_code == 403


class TestInternalNotesNeverReachClients:
    @pytest.fixture
    def ticket(self, api: Api, callers: dict[str, Caller], open_ticket: Any) -> Ticket:
        ticket = open_ticket("client")
        technician = callers["technician"]
        url = f"/api/tickets/{ticket.pk}/comments/"
        assert api.post(url, {"body": "On it"}, as_=technician).status_code == 201
        note = {"body": "zebracorn password is in the vault", "internal": True}
        assert api.post(url, note, as_=technician).status_code == 201
        return ticket

    def test_not_in_the_conversation(
        self, api: Api, callers: dict[str, Caller], ticket: Ticket
    ) -> None:
        url = f"/api/tickets/{ticket.pk}/comments/"
        client_view = api.get(url, as_=callers["client"]).json()["results"]
        staff_view = api.get(url, as_=callers["technician"]).json()["results"]
        assert [c["internal"] for c in client_view] == [False]
        assert "zebracorn" not in str(client_view)
        assert [c["internal"] for c in staff_view] == [False, True]

    def test_not_in_the_ticket_a_client_reads(
        self, api: Api, callers: dict[str, Caller], ticket: Ticket
    ) -> None:
        before = api.get(f"/api/tickets/{ticket.pk}/", as_=callers["client"]).json()
        note = {"body": "another zebracorn note", "internal": True}
        api.post(f"/api/tickets/{ticket.pk}/comments/", note, as_=callers["admin"])
        after = api.get(f"/api/tickets/{ticket.pk}/", as_=callers["client"]).json()
        # Nothing a client sees moves because of a note: no counter, no timestamp, no version.
        assert after == before
        assert "version" not in after

    def test_not_found_by_search(
        self, api: Api, callers: dict[str, Caller], ticket: Ticket
    ) -> None:
        for role in ("client", "technician"):
            found = api.get("/api/tickets/", as_=callers[role], q="zebracorn").json()
            assert found["results"] == []

    def test_not_in_history(self, api: Api, callers: dict[str, Caller], ticket: Ticket) -> None:
        history = api.get(f"/api/tickets/{ticket.pk}/history/", as_=callers["client"]).json()
        assert "zebracorn" not in str(history)

    def test_flagged_in_the_event(self, ticket: Ticket) -> None:
        from servidesk_shared.outbox.models import OutboxMessage  # noqa: PLC0415

        comments = [
            message.envelope["data"]["comment"]
            for message in OutboxMessage.objects.filter(event_type="ticket.commented")
        ]
        assert [comment["internal"] for comment in comments] == [False, True]
