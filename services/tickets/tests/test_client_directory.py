"""``GET /api/tickets/clients/?q=``: staff look up a client to open a ticket for them."""

from __future__ import annotations

from typing import Any

import pytest
from tickets.models import Role
from tickets.selectors import CLIENT_SEARCH_LIMIT

from tests.conftest import Api, Caller
from tests.factories import DirectoryUserFactory

pytestmark = pytest.mark.django_db

URL = "/api/tickets/clients/"


@pytest.mark.parametrize(
    ("caller", "expected"),
    [(None, 401), ("client", 403), ("technician", 200), ("admin", 200)],
)
def test_only_staff_list_clients(
    api: Api, callers: dict[str, Caller], caller: str | None, expected: int
) -> None:
    response = api.get(URL, as_=callers[caller] if caller else None, q="ana")
    assert response.status_code == expected


def test_matches_username_name_or_email_in_any_case(api: Api, callers: dict[str, Caller]) -> None:
    DirectoryUserFactory(
        id="40",
        username="mlopez",
        full_name="María López",
        email="maria@acme.example",
        role=Role.CLIENT,
    )
    DirectoryUserFactory(
        id="41",
        username="pgarcia",
        full_name="Pablo García",
        email="pablo@MLOPEZ.example",
        role=Role.CLIENT,
    )
    staff = callers["technician"]
    by_name = api.get(URL, as_=staff, q="lópez").json()
    assert [c["id"] for c in by_name] == [40]
    assert by_name[0] == {
        "id": 40,
        "username": "mlopez",
        "name": "María López",
        "email": "maria@acme.example",
    }
    assert [c["id"] for c in api.get(URL, as_=staff, q="MLOPEZ").json()] == [40, 41]
    assert [c["id"] for c in api.get(URL, as_=staff, q="acme.EXAMPLE").json()] == [40]


def test_only_active_clients_answer(api: Api, callers: dict[str, Caller]) -> None:
    DirectoryUserFactory(
        id="42", username="gone", full_name="Zoe Gone", role=Role.CLIENT, is_active=False
    )
    names = [c["name"] for c in api.get(URL, as_=callers["admin"]).json()]
    # Staff and deactivated clients are left out; the rest come by name.
    assert names == ["Ana Example", "Bruno Example"]


def test_a_search_answers_at_most_the_limit_by_name(
    api: Api, callers: dict[str, Caller], assert_queries: Any
) -> None:
    for n in range(CLIENT_SEARCH_LIMIT + 5):
        DirectoryUserFactory(
            id=str(100 + n),
            username=f"cliente{n}",
            full_name=f"Cliente {n:02d}",
            role=Role.CLIENT,
        )
    with assert_queries(2):  # the caller, then the clients
        found = api.get(URL, as_=callers["technician"], q="cliente").json()
    assert len(found) == CLIENT_SEARCH_LIMIT
    assert [c["name"] for c in found] == [f"Cliente {n:02d}" for n in range(CLIENT_SEARCH_LIMIT)]


def test_like_wildcards_are_plain_text(api: Api, callers: dict[str, Caller]) -> None:
    assert api.get(URL, as_=callers["technician"], q="%").json() == []
    assert api.get(URL, as_=callers["technician"], q="_").json() == []


@pytest.mark.parametrize(("q", "code"), [("a" * 101, "100"), ("an\x00a", "U+0000")])
def test_bad_queries_are_a_400_naming_the_field(
    api: Api, callers: dict[str, Caller], q: str, code: str
) -> None:
    response = api.get(URL, as_=callers["technician"], q=q)
    assert response.status_code == 400, response.content
    assert list(response.json()["extra"]["fields"]) == ["q"]
    assert code in response.json()["extra"]["fields"]["q"][0]
