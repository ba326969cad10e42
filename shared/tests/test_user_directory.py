"""The token against the service's own user directory (``SERVIDESK_USER_DIRECTORY``).

The services' own tests run this against their real directories and event handlers;
here a plain dict stands in for the directory so that the rule itself is pinned.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from servidesk_shared.auth import DirectoryEntry
from servidesk_testing import auth_header

pytestmark = pytest.mark.django_db

#: user id -> (is_active, role), as a service's directory would answer.
DIRECTORY: dict[str, DirectoryEntry] = {}
ASKED: list[str] = []


def lookup(*, user_id: str) -> DirectoryEntry | None:
    ASKED.append(user_id)
    return DIRECTORY.get(user_id)


@pytest.fixture
def directory(settings: Any) -> Iterator[dict[str, DirectoryEntry]]:
    settings.SERVIDESK_USER_DIRECTORY = "tests.test_user_directory.lookup"
    DIRECTORY.clear()
    ASKED.clear()
    yield DIRECTORY
    DIRECTORY.clear()
    ASKED.clear()


def test_without_a_directory_the_token_is_the_user(api_client: APIClient) -> None:
    response = api_client.get("/api/test/staff-only/", headers=auth_header(role="technician"))
    assert response.status_code == 200
    assert not ASKED


def test_a_user_the_directory_has_not_heard_of_is_taken_as_the_token_says(
    api_client: APIClient, directory: dict[str, DirectoryEntry]
) -> None:
    response = api_client.get(
        "/api/test/staff-only/", headers=auth_header(user_id=7, role="technician")
    )  # not registered yet
    assert response.status_code == 200
    assert ASKED == ["7"]


def test_an_api_keys_caller_is_in_no_directory_and_acts_with_the_tokens_role(
    api_client: APIClient, directory: dict[str, DirectoryEntry]
) -> None:
    # Even a row under that id (no user of accounts can have it) would not be read.
    directory["apikey:3"] = (False, "client")
    headers = auth_header(user_id="apikey:3", role="admin", username="CRM sync")
    assert api_client.get("/api/test/admin-only/", headers=headers).status_code == 200
    assert api_client.get("/api/test/whoami/", headers=headers).json() == {
        "id": "apikey:3",
        "role": "admin",
        "username": "CRM sync",
    }
    assert ASKED == []


def test_a_deactivated_users_unexpired_token_is_refused(
    api_client: APIClient, directory: dict[str, DirectoryEntry]
) -> None:
    headers = auth_header(user_id=7, role="admin")
    directory["7"] = (True, "admin")
    assert api_client.get("/api/test/whoami/", headers=headers).status_code == 200

    directory["7"] = (False, "admin")
    response = api_client.get("/api/test/whoami/", headers={**headers, "Accept-Language": "en"})

    assert response.status_code == 401
    assert response.json() == {
        "message": "This account has been deactivated. Ask an administrator to reactivate it.",
        "extra": {"code": "user_inactive"},
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_the_directorys_role_wins_over_the_tokens(
    api_client: APIClient, directory: dict[str, DirectoryEntry]
) -> None:
    directory["7"] = (True, "client")  # demoted after the token was issued
    demoted = auth_header(user_id=7, role="technician", username="ana")
    assert api_client.get("/api/test/whoami/", headers=demoted).json() == {
        "id": 7,
        "role": "client",
        "username": "ana",
    }
    assert api_client.get("/api/test/staff-only/", headers=demoted).status_code == 403

    directory["8"] = (True, "admin")  # promoted
    promoted = auth_header(user_id=8, role="client")
    assert api_client.get("/api/test/admin-only/", headers=promoted).status_code == 200


def test_a_role_the_directory_does_not_know_leaves_the_tokens(
    api_client: APIClient, directory: dict[str, DirectoryEntry]
) -> None:
    directory["7"] = (True, "")  # a card that carries no role
    response = api_client.get("/api/test/whoami/", headers=auth_header(user_id=7, role="admin"))
    assert response.json()["role"] == "admin"
