"""The permission matrix, NetBox style: each endpoint by caller by own/other's object, one table.

``{own}`` is the caller's own user id, ``{other}`` another client's. Anything a caller may
not see is 404 (ids cannot be probed); an endpoint a role may not use at all is 403;
no token is 401. Public endpoints answer every caller the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import PASSWORD, AdminFactory, ClientFactory, TechnicianFactory
from users.models import User
from users.tokens import token_pair_for

CALLERS = ("anonymous", "client", "technician", "admin")


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expected: dict[str, int]
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def same_for_all(status: int) -> dict[str, int]:
    return dict.fromkeys(CALLERS, status)


def signed_in(status: int) -> dict[str, int]:
    return {"anonymous": 401, "client": status, "technician": status, "admin": status}


def admin_only(status: int, *, others: int) -> dict[str, int]:
    return {"anonymous": 401, "client": others, "technician": others, "admin": status}


P = "/api/accounts/"
MATRIX = [
    # Public: the token (if any) is not even read.
    Case("GET", f"{P}.well-known/jwks.json", same_for_all(200)),
    Case("GET", f"{P}auth/social/providers/", same_for_all(200)),
    Case(
        "POST",
        f"{P}auth/register/",
        same_for_all(201),
        {"username": "fresh{caller}", "email": "fresh{caller}@example.com", "password": PASSWORD},
    ),
    Case("POST", f"{P}auth/token/", same_for_all(200), {"username": "other", "password": PASSWORD}),
    Case("POST", f"{P}auth/password/reset/", same_for_all(202), {"email": "other@example.com"}),
    # Your own profile.
    Case("GET", f"{P}me/", signed_in(200)),
    Case("PATCH", f"{P}me/", signed_in(200), {"full_name": "New Name"}),
    Case(
        "POST",
        f"{P}me/password/",
        signed_in(200),
        {"current_password": PASSWORD, "new_password": "another-long-secret"},
    ),
    # Users: admins only. The list is an endpoint (403); a user is an object (404).
    Case("GET", f"{P}users/", admin_only(200, others=403)),
    Case(
        "POST",
        f"{P}users/",
        admin_only(201, others=403),
        {"username": "made{caller}", "email": "made{caller}@example.com", "password": PASSWORD},
    ),
    Case("GET", f"{P}users/{{own}}/", admin_only(200, others=404)),
    Case("GET", f"{P}users/{{other}}/", admin_only(200, others=404)),
    Case("PATCH", f"{P}users/{{own}}/", admin_only(200, others=404), {"full_name": "Renamed"}),
    Case("PATCH", f"{P}users/{{other}}/", admin_only(200, others=404), {"role": "technician"}),
    Case("PATCH", f"{P}users/{{other}}/", admin_only(200, others=404), {"is_active": False}),
]


@pytest.fixture
def people(db: None) -> dict[str, User | None]:
    ClientFactory(username="other", email="other@example.com")
    return {
        "anonymous": None,
        "client": ClientFactory(),
        "technician": TechnicianFactory(),
        "admin": AdminFactory(),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("case", MATRIX, ids=str)
def test_permission_matrix(case: Case, caller: str, people: dict[str, User | None]) -> None:
    user = people[caller]
    other = User.objects.get(username="other")
    path = case.path.format(own=user.pk if user else other.pk, other=other.pk)
    data = {
        key: value.format(caller=caller) if isinstance(value, str) else value
        for key, value in case.data.items()
    }
    api = APIClient()
    if user is not None:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_for(user).access}")

    response = api.generic(
        case.method, path, data=json.dumps(data), content_type="application/json"
    )

    assert response.status_code == case.expected[caller], (
        f"{case} as {caller}: {response.status_code} {response.content[:300]!r}"
    )
    if response.status_code >= 400:
        assert set(response.json()) == {"message", "extra"}
