"""Abuse limits: per client address and per account, 429 with Retry-After, same for all."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient
from servidesk_testing.contract import assert_error_shape

from tests.factories import PASSWORD
from users.models import User

pytestmark = pytest.mark.django_db

TOKEN = "/api/accounts/auth/token/"
REGISTER = "/api/accounts/auth/register/"
RESET = "/api/accounts/auth/password/reset/"


@pytest.fixture
def rates(settings: Any) -> dict[str, str | None]:
    """Throttles off unless a test switches one on."""
    rest = {**settings.REST_FRAMEWORK}
    rest["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(rest["DEFAULT_THROTTLE_RATES"])
    settings.REST_FRAMEWORK = rest
    return rest["DEFAULT_THROTTLE_RATES"]  # type: ignore[no-any-return]


def with_rates(settings: Any, **scopes: str) -> None:
    rest = {**settings.REST_FRAMEWORK}
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **scopes}
    settings.REST_FRAMEWORK = rest


def from_ip(ip: str) -> APIClient:
    """A client behind nginx, which puts the client address in X-Forwarded-For."""
    return APIClient(HTTP_X_FORWARDED_FOR=ip)


def assert_throttled(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert_error_shape(response.json())


class TestLogin:
    def test_per_address(self, settings: Any, rates: Any, client_user: User) -> None:
        with_rates(settings, login_ip="3/min")
        api = from_ip("203.0.113.7")
        for name in ("a", "b", "c"):
            assert api.post(TOKEN, {"username": name, "password": "x"}).status_code == 401
        assert_throttled(api.post(TOKEN, {"username": "carla", "password": PASSWORD}))
        other = from_ip("198.51.100.9")
        assert other.post(TOKEN, {"username": "carla", "password": PASSWORD}).status_code == 200

    def test_per_account_across_addresses(
        self, settings: Any, rates: Any, client_user: User
    ) -> None:
        with_rates(settings, login_account="2/min")
        for ip in ("203.0.113.1", "203.0.113.2"):
            from_ip(ip).post(TOKEN, {"username": "carla", "password": "x"})
        assert_throttled(from_ip("203.0.113.3").post(TOKEN, {"username": "Carla", "password": "x"}))
        other = from_ip("203.0.113.3").post(TOKEN, {"username": "nobody", "password": "x"})
        assert other.status_code == 401

    def test_known_and_unknown_accounts_are_throttled_alike(
        self, settings: Any, rates: Any, client_user: User
    ) -> None:
        with_rates(settings, login_account="1/min")
        answers = []
        for name in ("carla", "nobody"):
            from_ip("203.0.113.5").post(TOKEN, {"username": name, "password": "x"})
            response = from_ip("203.0.113.5").post(TOKEN, {"username": name, "password": "x"})
            assert_throttled(response)
            answers.append(response.json()["extra"]["code"])
        assert answers[0] == answers[1]


def test_register_per_address(settings: Any, rates: Any) -> None:
    with_rates(settings, register_ip="2/hour")
    api = from_ip("203.0.113.8")
    for n in range(2):
        body = {"username": f"u{n}", "email": f"u{n}@example.com", "password": "long-enough-pw"}
        assert api.post(REGISTER, body).status_code == 201
    body = {"username": "u9", "email": "u9@example.com", "password": "long-enough-pw"}
    assert_throttled(api.post(REGISTER, body))


def test_register_per_email(settings: Any, rates: Any) -> None:
    with_rates(settings, register_account="1/hour")
    body = {"username": "u1", "email": "same@example.com", "password": "x"}
    from_ip("203.0.113.1").post(REGISTER, body)
    assert_throttled(from_ip("203.0.113.2").post(REGISTER, {**body, "username": "u2"}))


def test_password_reset_per_address_and_per_email(
    settings: Any, rates: Any, client_user: User
) -> None:
    with_rates(settings, password_reset_account="1/hour", password_reset_ip="3/hour")
    assert from_ip("203.0.113.1").post(RESET, {"email": "carla@example.com"}).status_code == 202
    assert_throttled(from_ip("203.0.113.2").post(RESET, {"email": "carla@example.com"}))
    api = from_ip("203.0.113.9")
    for n in range(3):
        assert api.post(RESET, {"email": f"x{n}@example.com"}).status_code == 202
    assert_throttled(api.post(RESET, {"email": "y@example.com"}))


def test_the_defaults_are_on(client_user: User) -> None:
    """Without overrides, a burst of logins from one address is stopped."""
    api = from_ip("203.0.113.50")
    codes = [api.post(TOKEN, {"username": f"n{n}", "password": "x"}).status_code for n in range(40)]
    assert 429 in codes
