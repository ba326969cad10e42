"""NUL and lone surrogates in any request string: a 400 naming the field, never a 500.

PostgreSQL refuses NUL in text and a lone surrogate (JSON ``"\\ud800"``) has no UTF-8
form; the shared ``InvalidTextMiddleware`` refuses both before any view runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from users.models import User

pytestmark = pytest.mark.django_db


def assert_field(response: Any, field: str, code: str = "U+0000") -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert list(body["extra"]["fields"]) == [field]
    assert code in body["extra"]["fields"][field][0]


def post_raw(client: APIClient, url: str, raw: bytes) -> Any:
    return client.post(url, raw, content_type="application/json")


def test_lone_surrogate_in_registration_is_a_400(api_client: APIClient) -> None:
    raw = b'{"username": "eve", "email": "eve@example.com", "password": "S3cure-pass-123",'
    response = post_raw(
        api_client, "/api/accounts/auth/register/", raw + b' "full_name": "E\\ud800"}'
    )
    assert_field(response, "full_name", "U+D800")
    assert not User.objects.filter(username="eve").exists()


def test_lone_surrogate_in_the_login_name_was_a_500_is_a_400(api_client: APIClient) -> None:
    response = post_raw(
        api_client, "/api/accounts/auth/token/", b'{"username": "a\\ud800", "password": "x"}'
    )
    assert_field(response, "username", "U+D800")


def test_lone_surrogate_in_a_password_reset_was_a_500_is_a_400(api_client: APIClient) -> None:
    response = post_raw(
        api_client, "/api/accounts/auth/password/reset/", b'{"email": "a\\ud800@example.com"}'
    )
    assert_field(response, "email", "U+D800")


def test_nul_in_the_user_list_filters_is_a_400(
    admin_user: User, as_user: Callable[[User], APIClient]
) -> None:
    client = as_user(admin_user)
    for param in ("search", "role", "q"):
        assert_field(client.get("/api/accounts/users/", {param: "a\x00b"}), param)


def test_nul_in_a_user_id_in_the_path_is_a_400(
    admin_user: User, as_user: Callable[[User], APIClient]
) -> None:
    assert_field(as_user(admin_user).get("/api/accounts/users/1%002/"), "user_id")
