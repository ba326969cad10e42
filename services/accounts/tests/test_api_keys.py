"""API keys (issue 20): admins create them (shown once, stored hashed), list them with their
last use and revoke them; an integration trades one for a short-lived access token whose
``user_id`` is ``apikey:<id>``, with the key's role and ``scope`` ``read`` when read-only.
Every exchange is recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from servidesk_testing.contract import assert_error_shape

from tests.factories import PASSWORD, AdminFactory
from users import api_keys
from users.models import ApiKey, ApiKeyExchange, User

pytestmark = pytest.mark.django_db

KEYS = "/api/accounts/api-keys/"
TOKEN = "/api/accounts/auth/token/"


@pytest.fixture(autouse=True)
def _throttles_off(settings: Any) -> None:
    rest = {**settings.REST_FRAMEWORK}
    rest["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(rest["DEFAULT_THROTTLE_RATES"])
    settings.REST_FRAMEWORK = rest


@pytest.fixture
def admin_api(admin_user: User, as_user: Callable[[User], APIClient]) -> APIClient:
    return as_user(admin_user)


def _create(api: APIClient, **data: Any) -> dict[str, Any]:
    response = api.post(KEYS, {"name": "CRM sync", "role": "technician", **data}, format="json")
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def _exchange(key: str, **extra: Any) -> Any:
    return APIClient().post(
        TOKEN, {"api_key": key, **extra}, format="json", headers={"Accept-Language": "en"}
    )


def _claims(access: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(access, options={"verify_signature": False})
    return claims


def _key_client(key: str) -> APIClient:
    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {_exchange(key).json()['access']}", HTTP_ACCEPT_LANGUAGE="en"
    )
    return api


def test_an_admin_creates_a_key_shown_once_and_stored_hashed(
    admin_api: APIClient, admin_user: User
) -> None:
    body = _create(admin_api, read_only=True)

    key = body.pop("key")
    assert key.startswith("sdk_")
    assert len(key) == len("sdk_") + 12 + 1 + 43
    assert body["name"] == "CRM sync"
    assert (body["role"], body["read_only"], body["expires_at"], body["last_used_at"]) == (
        "technician",
        True,
        None,
        None,
    )
    assert body["prefix"] == key[4:16]
    assert body["created_by"] == str(admin_user.pk)
    row = ApiKey.objects.get(pk=body["id"])
    assert row.key_hash == api_keys.hash_key(key)
    assert key not in row.key_hash
    listed = admin_api.get(KEYS).json()["results"]
    assert listed == [body]  # the same shape, never the key


def test_read_only_defaults_to_false_and_expiry_is_kept(admin_api: APIClient) -> None:
    later = timezone.now() + timedelta(days=30)
    body = _create(admin_api, role="admin", expires_at=later.isoformat())
    assert body["read_only"] is False
    assert body["role"] == "admin"
    assert ApiKey.objects.get(pk=body["id"]).expires_at == later


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x", "role": "client"}, "role"),
        ({"name": "x", "role": "owner"}, "role"),
        ({"name": "", "role": "admin"}, "name"),
        ({"name": "x" * 101, "role": "admin"}, "name"),
        ({"role": "admin"}, "name"),
        ({"name": "x", "role": "admin", "read_only": "perhaps"}, "read_only"),
        ({"name": "x", "role": "admin", "expires_at": "tomorrow"}, "expires_at"),
        ({"name": "x", "role": "admin", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    admin_api: APIClient, data: dict[str, Any], field: str
) -> None:
    response = admin_api.post(KEYS, data, format="json")
    assert response.status_code == 400
    assert_error_shape(response.json())
    assert field in response.json()["extra"]["fields"]
    assert not ApiKey.objects.exists()


def test_only_admins_manage_keys(
    technician: User, client_user: User, as_user: Callable[[User], APIClient]
) -> None:
    for user in (technician, client_user):
        api = as_user(user)
        assert api.get(KEYS).status_code == 403
        assert api.post(KEYS, {"name": "x", "role": "admin"}, format="json").status_code == 403
        assert api.delete(f"{KEYS}1/").status_code == 403
    assert APIClient().get(KEYS).status_code == 401


def test_a_key_cannot_manage_keys_even_an_admins(admin_api: APIClient) -> None:
    key = _create(admin_api, role="admin")["key"]
    api = _key_client(key)

    for response in (
        api.get(KEYS),
        api.post(KEYS, {"name": "more", "role": "admin"}, format="json"),
        api.get("/api/accounts/users/"),
        api.get("/api/accounts/me/"),
    ):
        assert response.status_code == 403
        assert response.json()["extra"] == {"code": "person_required"}
    assert ApiKey.objects.count() == 1


def test_the_exchange_gives_an_access_token_with_the_keys_role_and_scope(
    admin_api: APIClient,
) -> None:
    body = _create(admin_api, read_only=True)

    response = APIClient().post(
        TOKEN, {"api_key": body["key"]}, format="json", REMOTE_ADDR="192.0.2.7"
    )

    assert response.status_code == 200
    assert set(response.json()) == {"access"}
    claims = _claims(response.json()["access"])
    assert claims["user_id"] == f"apikey:{body['id']}"
    assert (claims["role"], claims["scope"], claims["username"]) == (
        "technician",
        "read",
        "CRM sync",
    )
    assert claims["token_type"] == "access"
    assert claims["exp"] - claims["iat"] <= 15 * 60
    exchange = ApiKeyExchange.objects.get()
    assert (exchange.api_key_id, exchange.outcome) == (body["id"], "issued")
    assert exchange.address == "192.0.2.7"
    listed = admin_api.get(KEYS).json()["results"][0]
    assert listed["last_used_at"] is not None


def test_a_key_that_may_write_has_no_scope(admin_api: APIClient) -> None:
    key = _create(admin_api, role="admin")["key"]
    claims = _claims(_exchange(key).json()["access"])
    assert "scope" not in claims
    assert claims["role"] == "admin"


def test_the_token_never_outlives_the_key(admin_api: APIClient) -> None:
    soon = timezone.now() + timedelta(minutes=2)
    key = _create(admin_api, expires_at=soon.isoformat())["key"]
    claims = _claims(_exchange(key).json()["access"])
    assert claims["exp"] <= int(soon.timestamp()) + 1


def test_a_revoked_key_gets_401_and_leaves_the_list(admin_api: APIClient) -> None:
    body = _create(admin_api)
    api = _key_client(body["key"])  # a token issued before the revocation
    assert api.get("/api/accounts/auth/social/providers/").status_code == 200

    assert admin_api.delete(f"{KEYS}{body['id']}/").status_code == 204

    response = _exchange(body["key"])
    assert response.status_code == 401
    assert response.json() == {
        "message": "This API key has been revoked.",
        "extra": {"code": "api_key_revoked"},
    }
    assert admin_api.get(KEYS).json()["results"] == []
    assert admin_api.delete(f"{KEYS}{body['id']}/").status_code == 404
    # Accounts reads the key's row: its tokens already issued stop working here at once.
    assert api.get(KEYS).status_code == 401
    outcomes = list(ApiKeyExchange.objects.order_by("at").values_list("outcome", flat=True))
    assert outcomes == ["issued", "revoked"]


def test_an_expired_key_gets_401(admin_api: APIClient) -> None:
    body = _create(admin_api, expires_at=(timezone.now() + timedelta(hours=1)).isoformat())
    ApiKey.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = _exchange(body["key"])

    assert response.status_code == 401
    assert response.json()["extra"] == {"code": "api_key_expired"}
    assert ApiKeyExchange.objects.get().outcome == "expired"
    assert admin_api.get(KEYS).json()["results"][0]["id"] == body["id"]  # still listed


@pytest.mark.parametrize(
    "key",
    [
        "sdk_000000000000_" + "A" * 43,  # well formed, no such key
        "nonsense",
        "",
        "sdk_",
        "sdk_0123456789ab_short",
        "x" * 128,
        "<script>alert(1)</script>",
    ],
)
def test_an_unknown_or_malformed_key_gets_401_and_is_recorded(
    admin_api: APIClient, key: str
) -> None:
    _create(admin_api)

    response = _exchange(key)

    assert response.status_code in (400, 401)  # blank or too long: 400, else 401
    assert_error_shape(response.json())
    if response.status_code == 401:
        assert response.json()["extra"] == {"code": "api_key_invalid"}
        exchange = ApiKeyExchange.objects.get()
        assert (exchange.api_key_id, exchange.outcome) == (None, "invalid")
        assert exchange.prefix in ("", "000000000000")


def test_a_wrong_secret_for_a_real_prefix_is_recorded_against_the_key(
    admin_api: APIClient,
) -> None:
    body = _create(admin_api)
    forged = body["key"][:-1] + ("A" if body["key"][-1] != "A" else "B")

    response = _exchange(forged)

    assert response.status_code == 401
    assert response.json()["extra"] == {"code": "api_key_invalid"}
    exchange = ApiKeyExchange.objects.get()
    assert (exchange.api_key_id, exchange.outcome) == (body["id"], "invalid")
    assert admin_api.get(KEYS).json()["results"][0]["last_used_at"] is None


def test_wrong_keys_count_against_the_address_like_wrong_passwords(
    admin_api: APIClient, settings: Any
) -> None:
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    key = _create(admin_api)["key"]
    for _attempt in range(3):
        assert _exchange("sdk_000000000000_" + "A" * 43).status_code == 401

    response = _exchange(key)  # the right key waits too, from that address

    assert response.status_code == 429
    assert "Retry-After" in response


def test_a_key_or_a_password_not_both(admin_api: APIClient, admin_user: User) -> None:
    key = _create(admin_api)["key"]
    response = _exchange(key, username=admin_user.username, password=PASSWORD)
    assert response.status_code == 400
    assert "api_key" in response.json()["extra"]["fields"]
    assert not ApiKeyExchange.objects.exists()


def test_a_read_only_keys_token_may_only_read_in_accounts_too(admin_api: APIClient) -> None:
    key = _create(admin_api, role="admin", read_only=True)["key"]
    api = _key_client(key)

    response = api.post(KEYS, {"name": "more", "role": "admin"}, format="json")

    assert response.status_code == 403
    assert response.json()["extra"] == {"code": "read_only_scope"}
    assert api.get("/api/accounts/auth/social/providers/").status_code == 200


def test_revoking_an_unknown_id_is_404(admin_api: APIClient) -> None:
    assert admin_api.delete(f"{KEYS}999/").status_code == 404
    assert admin_api.delete(f"{KEYS}99999999999999999999999/").status_code == 404
    assert admin_api.delete(f"{KEYS}abc/").status_code == 404


def test_the_django_admin_shows_the_exchanges_read_only(
    admin_api: APIClient, client: Client
) -> None:
    key = _create(admin_api)["key"]
    _exchange(key)
    _exchange("sdk_000000000000_" + "A" * 43)
    client.force_login(AdminFactory(username="root", is_staff=True, is_superuser=True))

    page = client.get("/api/accounts/admin/users/apikeyexchange/")

    assert page.status_code == 200
    assert b"000000000000" in page.content
    assert client.get("/api/accounts/admin/users/apikeyexchange/add/").status_code == 403
