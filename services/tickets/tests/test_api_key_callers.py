"""An API key's access token here (issue 20): ``user_id`` ``apikey:<id>``, in no directory,
acts with the token's role; a read-only key's (``scope`` ``read``) may read and never write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from tickets.models import Ticket

from servidesk_testing import make_access_token
from tests.conftest import Caller

pytestmark = pytest.mark.django_db

READ_ONLY_MESSAGE = (
    "This token may only read (GET, HEAD, OPTIONS): it comes from a read-only API key. "
    "Use a key that is not read-only to make changes."
)


def _key_headers(*, role: str = "admin", read_only: bool) -> dict[str, str]:
    claims: dict[str, Any] = {"scope": "read"} if read_only else {}
    token = make_access_token(user_id="apikey:7", role=role, username="CRM sync", **claims)
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def _post(client: Client, url: str, data: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post(url, data, content_type="application/json", headers=headers)


def test_a_read_only_keys_token_reads_tickets_and_writes_nothing(
    client: Client, callers: dict[str, Caller], open_ticket: Callable[..., Any]
) -> None:
    ticket = open_ticket("client")
    before = (ticket.status, ticket.title, ticket.comments.count())
    headers = _key_headers(read_only=True)

    listed = client.get("/api/tickets/", headers=headers)
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [ticket.pk]
    assert client.get(f"/api/tickets/{ticket.pk}/", headers=headers).status_code == 200

    body = {"title": "From the CRM", "description": "Printer.", "client_id": 11}
    for response in (
        _post(client, "/api/tickets/", body, headers),
        _post(client, f"/api/tickets/{ticket.pk}/status/", {"status": "in_progress"}, headers),
        _post(client, f"/api/tickets/{ticket.pk}/comments/", {"body": "Hi"}, headers),
        client.patch(
            f"/api/tickets/{ticket.pk}/",
            {"title": "Changed"},
            content_type="application/json",
            headers=headers,
        ),
        client.delete(f"/api/tickets/{ticket.pk}/", headers=headers),
    ):
        assert response.status_code == 403
        assert response.json() == {
            "message": READ_ONLY_MESSAGE,
            "extra": {"code": "read_only_scope"},
        }
    assert Ticket.objects.count() == 1
    ticket.refresh_from_db()
    assert (ticket.status, ticket.title, ticket.comments.count()) == before


def test_a_keys_token_that_may_write_works_with_its_role(
    client: Client, callers: dict[str, Caller]
) -> None:
    body = {"title": "From the CRM", "description": "Printer.", "client_id": 11}

    response = _post(client, "/api/tickets/", body, _key_headers(read_only=False))

    assert response.status_code == 201, response.json()
    assert response.json()["client_id"] == 11
    assert Ticket.objects.get().pk == response.json()["id"]


def test_a_technician_keys_token_keeps_the_technicians_limits(
    client: Client, callers: dict[str, Caller]
) -> None:
    # Staff-only reads work; admin-only writes do not (the key's role, not more).
    headers = _key_headers(role="technician", read_only=False)
    assert client.get("/api/tickets/", headers=headers).status_code == 200
    response = _post(client, "/api/tickets/categories/", {"slug": "x", "name": "X"}, headers)
    assert response.status_code == 403
    assert response.json()["extra"] != {"code": "read_only_scope"}
