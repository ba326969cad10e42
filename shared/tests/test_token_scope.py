"""A read-only token (``scope`` ``read``, a read-only API key's) may only read, in every
service: the shared authentication answers 403 to any other method, whatever the view's
own permissions say."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.test import APIClient

from servidesk_shared.auth import READ_SCOPE, ServideskTokenUser, StatelessJWTAuthentication
from servidesk_testing import auth_header

pytestmark = pytest.mark.django_db

READ_ONLY_MESSAGE = (
    "This token may only read (GET, HEAD, OPTIONS): it comes from a read-only API key. "
    "Use a key that is not read-only to make changes."
)


def _headers(**claims: Any) -> dict[str, str]:
    return {**auth_header(**claims), "Accept-Language": "en"}


def test_a_read_only_token_reads() -> None:
    client = APIClient()
    headers = _headers(user_id="apikey:4", role="admin", scope=READ_SCOPE)
    assert client.get("/api/test/whoami/", headers=headers).status_code == 200
    assert client.get("/api/test/admin-only/", headers=headers).status_code == 200
    assert client.head("/api/test/whoami/", headers=headers).status_code == 200
    assert client.options("/api/test/whoami/", headers=headers).status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_read_only_token_is_refused_any_write(method: str) -> None:
    headers = _headers(user_id="apikey:4", role="admin", scope=READ_SCOPE)

    response = getattr(APIClient(), method)("/api/test/echo/", {"title": "x"}, headers=headers)

    assert response.status_code == 403
    assert response.json() == {"message": READ_ONLY_MESSAGE, "extra": {"code": "read_only_scope"}}


def test_a_view_with_permissions_of_its_own_cannot_forget_the_scope() -> None:
    # admin-only replaces the default permission classes; the scope still holds (and comes
    # before the view's 405: the caller learns nothing about which writes exist).
    headers = _headers(user_id="apikey:4", role="admin", scope=READ_SCOPE)
    response = APIClient().post("/api/test/admin-only/", {}, headers=headers)
    assert response.status_code == 403
    assert response.json()["extra"] == {"code": "read_only_scope"}


def test_a_token_without_a_scope_writes() -> None:
    for user_id in (7, "apikey:5"):  # a person, a key that is not read-only
        response = APIClient().post(
            "/api/test/echo/", {"title": "x"}, headers=_headers(user_id=user_id, role="admin")
        )
        assert response.status_code == 201


@pytest.mark.parametrize("scope", ["write", "", "READ", ["read"]])
def test_a_scope_this_code_does_not_know_never_grants_writes(scope: object) -> None:
    headers = _headers(user_id="apikey:4", role="admin", scope=scope)
    response = APIClient().post("/api/test/echo/", {"title": "x"}, headers=headers)
    assert response.status_code == 403
    assert APIClient().get("/api/test/whoami/", headers=headers).status_code == 200


def test_a_read_only_token_says_so() -> None:
    headers = _headers(user_id="apikey:4", role="technician", scope=READ_SCOPE)
    request = Request(RequestFactory().get("/", headers=headers))
    result = StatelessJWTAuthentication().authenticate(request)
    assert result is not None
    user = result[0]
    assert isinstance(user, ServideskTokenUser)
    assert (user.is_api_key, user.is_read_only, user.role) == (True, True, "technician")
