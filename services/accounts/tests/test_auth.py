"""Register, sign in, refresh, sign out: the happy paths and what each refuses."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from servidesk_testing import test_keypair as keypair
from servidesk_testing.contract import assert_error_shape

from servidesk_shared.keys import key_id
from tests.factories import PASSWORD, ClientFactory
from users.models import Role, User

REGISTER = "/api/accounts/auth/register/"
TOKEN = "/api/accounts/auth/token/"
REFRESH = "/api/accounts/auth/token/refresh/"
LOGOUT = "/api/accounts/auth/logout/"
ME = "/api/accounts/me/"

pytestmark = pytest.mark.django_db


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(
        token,
        keypair().public_pem,
        algorithms=["RS256"],
        audience="servidesk",
        issuer="servidesk-accounts",
    )


def login(api: APIClient, username: str, password: str = PASSWORD) -> Any:
    return api.post(TOKEN, {"username": username, "password": password})


class TestRegister:
    def test_creates_a_client_and_returns_the_profile(self, api_client: APIClient) -> None:
        response = api_client.post(
            REGISTER,
            {
                "username": "nuria",
                "email": "Nuria@Example.COM",
                "password": "a-long-enough-secret",
                "full_name": "Nuria Vidal",
                "phone": "600 11 12 22",
                "language": "en",
            },
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert set(body) == {
            "id",
            "username",
            "email",
            "full_name",
            "phone",
            "role",
            "language",
            "notify_email",
            "notify_sms",
            "email_verified",
            "phone_verified",
            "pending_email",
        }
        assert body["role"] == "client"
        assert body["email"] == "nuria@example.com"
        assert body["phone"] == "+34600111222"
        assert body["language"] == "en"
        assert (body["email_verified"], body["phone_verified"], body["pending_email"]) == (
            False,
            False,
            "",
        )
        user = User.objects.get(username="nuria")
        assert user.check_password("a-long-enough-secret")
        assert not user.email_verified

    def test_self_registration_never_grants_a_role(self, api_client: APIClient) -> None:
        response = api_client.post(
            REGISTER,
            {
                "username": "sneaky",
                "email": "sneaky@example.com",
                "password": "a-long-enough-secret",
                "role": "admin",
            },
        )
        assert response.status_code == 201
        assert User.objects.get(username="sneaky").role == Role.CLIENT

    def test_then_the_new_user_can_sign_in(self, api_client: APIClient) -> None:
        api_client.post(
            REGISTER,
            {"username": "nuria", "email": "nuria@example.com", "password": "a-long-enough-secret"},
        )
        response = login(api_client, "nuria", "a-long-enough-secret")
        assert response.status_code == 200


class TestLogin:
    @pytest.mark.parametrize(
        "identifier", ["carla", "CARLA", "carla@example.com", "Carla@Example.com"]
    )
    def test_by_username_or_email_in_any_case(
        self, api_client: APIClient, client_user: User, identifier: str
    ) -> None:
        response = login(api_client, identifier)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert set(body) == {"access", "refresh"}
        access = claims(body["access"])
        assert access["user_id"] == str(client_user.pk)
        assert access["role"] == "client"
        assert access["username"] == "carla"
        assert access["token_type"] == "access"
        assert {"exp", "iat", "jti"} <= set(access)
        assert access["exp"] - access["iat"] == 15 * 60
        refresh = claims(body["refresh"])
        assert refresh["token_type"] == "refresh"
        assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600
        assert "role" not in refresh

    def test_tokens_carry_a_kid_header(self, api_client: APIClient, client_user: User) -> None:
        body = login(api_client, "carla").json()
        for token in body.values():
            header = jwt.get_unverified_header(token)
            assert header["alg"] == "RS256"
            assert header["kid"] == key_id(keypair().public_pem)

    def test_records_last_login(self, api_client: APIClient, client_user: User) -> None:
        login(api_client, "carla")
        client_user.refresh_from_db()
        assert client_user.last_login is not None

    @pytest.mark.parametrize(
        ("username", "password"),
        [("carla", "wrong-password"), ("nobody", PASSWORD), ("nobody@example.com", PASSWORD)],
    )
    def test_wrong_credentials_get_one_answer(
        self, api_client: APIClient, client_user: User, username: str, password: str
    ) -> None:
        """A wrong password and an unknown account are indistinguishable."""
        response = login(api_client, username, password)
        assert response.status_code == 401
        assert_error_shape(response.json())
        assert response.json()["extra"]["code"] == "no_active_account"

    def test_wrong_credentials_messages_are_identical(
        self, api_client: APIClient, client_user: User
    ) -> None:
        wrong_password = login(api_client, "carla", "wrong-password").json()
        unknown = login(api_client, "nobody@example.com", "wrong-password").json()
        assert wrong_password == unknown

    def test_a_deactivated_user_cannot_sign_in(
        self, api_client: APIClient, client_user: User
    ) -> None:
        client_user.is_active = False
        client_user.save()
        response = login(api_client, "carla")
        assert response.status_code == 401
        assert response.json() == login(api_client, "nobody").json()


class TestRefresh:
    def test_rotates_and_blacklists_the_old_token(
        self, api_client: APIClient, client_user: User
    ) -> None:
        first = login(api_client, "carla").json()
        response = api_client.post(REFRESH, {"refresh": first["refresh"]})
        assert response.status_code == 200, response.json()
        second = response.json()
        assert set(second) == {"access", "refresh"}
        assert second["refresh"] != first["refresh"]
        old_jti = claims(first["refresh"])["jti"]
        assert BlacklistedToken.objects.filter(token__jti=old_jti).exists()
        assert OutstandingToken.objects.filter(jti=claims(second["refresh"])["jti"]).exists()

    def test_the_new_access_token_has_the_current_role(
        self, api_client: APIClient, client_user: User
    ) -> None:
        refresh = login(api_client, "carla").json()["refresh"]
        client_user.role = Role.TECHNICIAN
        client_user.save()
        access = api_client.post(REFRESH, {"refresh": refresh}).json()["access"]
        assert claims(access)["role"] == "technician"

    def test_the_new_refresh_token_works_too(
        self, api_client: APIClient, client_user: User
    ) -> None:
        refresh = login(api_client, "carla").json()["refresh"]
        for _ in range(3):
            response = api_client.post(REFRESH, {"refresh": refresh})
            assert response.status_code == 200
            refresh = response.json()["refresh"]


class TestLogout:
    def test_blacklists_the_refresh_token(self, api_client: APIClient, client_user: User) -> None:
        refresh = login(api_client, "carla").json()["refresh"]
        response = api_client.post(LOGOUT, {"refresh": refresh})
        assert response.status_code == 204
        assert api_client.post(REFRESH, {"refresh": refresh}).status_code == 401

    def test_an_invalid_token_is_401(self, api_client: APIClient) -> None:
        response = api_client.post(LOGOUT, {"refresh": "not-a-token"})
        assert response.status_code == 401
        assert_error_shape(response.json())

    def test_needs_the_token(self, api_client: APIClient) -> None:
        response = api_client.post(LOGOUT, {})
        assert response.status_code == 400
        assert "refresh" in response.json()["extra"]["fields"]


class TestFailedLoginLock:
    def test_locks_after_repeated_failures_even_with_the_right_password(
        self, api_client: APIClient, client_user: User, settings: Any
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 3
        for _ in range(3):
            assert login(api_client, "carla", "wrong-password").status_code == 401
        response = login(api_client, "carla")
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
        assert_error_shape(response.json())

    def test_an_unknown_account_locks_the_same_way(
        self, api_client: APIClient, settings: Any
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 3
        for _ in range(3):
            assert login(api_client, "ghost", "wrong-password").status_code == 401
        assert login(api_client, "ghost", "wrong-password").status_code == 429

    def test_the_lock_covers_the_name_however_it_is_typed(
        self, api_client: APIClient, client_user: User, settings: Any
    ) -> None:
        """Case and spaces make no new name (username and email share it: test_lockout)."""
        settings.LOGIN_FAILURE_LIMIT = 2
        login(api_client, "carla", "wrong-password")
        login(api_client, " CARLA ", "wrong-password")
        assert login(api_client, "carla").status_code == 429

    def test_a_success_resets_the_count(
        self, api_client: APIClient, client_user: User, settings: Any
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 3
        login(api_client, "carla", "wrong-password")
        login(api_client, "carla", "wrong-password")
        assert login(api_client, "carla").status_code == 200
        login(api_client, "carla", "wrong-password")
        login(api_client, "carla", "wrong-password")
        assert login(api_client, "carla").status_code == 200

    def test_the_lock_expires(
        self, api_client: APIClient, client_user: User, settings: Any, monkeypatch: Any
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 1
        login(api_client, "carla", "wrong-password")
        assert login(api_client, "carla").status_code == 429
        now = time.time()
        monkeypatch.setattr(time, "time", lambda: now + settings.LOGIN_LOCKOUT_SECONDS + 1)
        assert login(api_client, "carla").status_code == 200

    def test_the_django_admin_login_shares_the_lock(self, client: Any, settings: Any) -> None:
        ClientFactory(username="staffer", is_staff=True)
        settings.LOGIN_FAILURE_LIMIT = 2
        for _ in range(2):
            client.post(
                "/api/accounts/admin/login/", {"username": "staffer", "password": "wrong-password"}
            )
        response = client.post(
            "/api/accounts/admin/login/", {"username": "staffer", "password": PASSWORD}
        )
        assert response.status_code == 200  # the form again: not signed in
        assert "_auth_user_id" not in client.session
