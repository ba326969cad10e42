"""What a token must prove: verifiable elsewhere with the public key, and every forgery 401.

Each forged token is tried twice: on accounts' own ``me/`` and with the verifier another
service runs (simplejwt's backend configured by ``verifying_settings``, public key only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.db import OperationalError, connection
from django.db.models import F
from rest_framework.test import APIClient
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from servidesk_testing import make_access_token
from servidesk_testing import test_keypair as keypair
from servidesk_testing.contract import assert_error_shape

from servidesk_shared.auth import ServideskTokenUser
from servidesk_shared.keys import generate_keypair, key_id
from servidesk_shared.settings.jwt import verifying_settings
from tests.factories import PASSWORD, ClientFactory
from users.models import RefreshTokenFamily, User

ME = "/api/accounts/me/"
TOKEN = "/api/accounts/auth/token/"
REFRESH = "/api/accounts/auth/token/refresh/"
JWKS = "/api/accounts/.well-known/jwks.json"


def other_service_backend(**overrides: Any) -> TokenBackend:
    """The verifier of tickets, notifier, reports and web: the public key and nothing else."""
    conf = verifying_settings(keypair().public_pem)
    return TokenBackend(
        conf["ALGORITHM"],
        conf["SIGNING_KEY"],
        conf["VERIFYING_KEY"],
        conf["AUDIENCE"],
        conf["ISSUER"],
        overrides.get("jwk_url"),
        conf["LEEWAY"],
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(
    header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def good_claims(user: User) -> dict[str, Any]:
    return jwt.decode(
        make_access_token(user_id=user.pk, role=user.role, username=user.username),
        options={"verify_signature": False},
    )


def sign_in(api: APIClient, user: User) -> dict[str, str]:
    response = api.post(TOKEN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.json()
    body: dict[str, str] = response.json()
    return body


@pytest.fixture
def user(db: None) -> User:
    return ClientFactory(username="victor", email="victor@example.com")


# --- A good token verifies anywhere ------------------------------------------------------


@pytest.mark.django_db
class TestVerification:
    def test_another_service_verifies_it_with_the_public_key_only(
        self, api_client: APIClient, user: User
    ) -> None:
        access = sign_in(api_client, user)["access"]
        payload = other_service_backend().decode(access)
        caller = ServideskTokenUser(payload)  # type: ignore[arg-type]
        assert caller.id == str(user.pk)
        assert caller.role == "client"
        assert caller.username == "victor"
        assert caller.is_client
        assert payload["iss"] == "servidesk-accounts"
        assert payload["aud"] == "servidesk"

    def test_the_served_jwk_set_verifies_it(self, api_client: APIClient, user: User) -> None:
        access = sign_in(api_client, user)["access"]
        response = api_client.get(JWKS)
        assert response.status_code == 200
        assert "max-age" in response["Cache-Control"]
        jwks = jwt.PyJWKSet.from_dict(response.json())
        kid = jwt.get_unverified_header(access)["kid"]
        key = next(k for k in jwks.keys if k.key_id == kid)
        payload = jwt.decode(
            access,
            key.key,
            algorithms=["RS256"],
            audience="servidesk",
            issuer="servidesk-accounts",
        )
        assert payload["user_id"] == str(user.pk)

    def test_the_jwk_set_publishes_no_private_part(self, api_client: APIClient) -> None:
        (key,) = api_client.get(JWKS).json()["keys"]
        assert set(key) == {"kty", "use", "alg", "kid", "n", "e"}
        assert key["kid"] == key_id(keypair().public_pem)

    def test_tokens_from_the_shared_test_helper_are_accepted(self, user: User) -> None:
        """Other services' tests forge tokens with servidesk_testing: same key, claims."""
        api = APIClient()
        token = make_access_token(user_id=user.pk, role="client", username=user.username)
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert api.get(ME).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_pyjwkclient_against_the_live_jwk_set(live_server: Any) -> None:
    user = ClientFactory()
    api = APIClient()
    access = sign_in(api, user)["access"]
    url = f"{live_server.url}{JWKS}"

    signing_key = jwt.PyJWKClient(url).get_signing_key_from_jwt(access)
    payload = jwt.decode(
        access,
        signing_key.key,
        algorithms=["RS256"],
        audience="servidesk",
        issuer="servidesk-accounts",
    )
    assert payload["role"] == "client"
    # simplejwt's own JWK_URL mode, as a verifying service may configure it.
    assert other_service_backend(jwk_url=url).decode(access)["user_id"] == str(user.pk)


# --- Forgeries: 401 on accounts, rejected by the other services' verifier -------------------


def expired(user: User) -> str:
    return make_access_token(user_id=user.pk, role=user.role, lifetime=timedelta(seconds=-60))


def bad_signature(user: User) -> str:
    """Signed by another key but claiming ours (same kid)."""
    return make_access_token(
        user_id=user.pk, role="admin", private_pem=generate_keypair().private_pem
    )


def alg_none(user: User) -> str:
    claims = {**good_claims(user), "role": "admin"}
    return handmade({"alg": "none", "typ": "JWT"}, claims, lambda _: b"")


def hs256_with_public_key(user: User) -> str:
    """The classic key confusion: HMAC keyed with the (public) RSA key's PEM."""
    claims = {**good_claims(user), "role": "admin"}
    secret = keypair().public_pem.encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": key_id(keypair().public_pem)}
    return handmade(header, claims, lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def wrong_issuer(user: User) -> str:
    return make_access_token(user_id=user.pk, role=user.role, iss="someone-else")


def wrong_audience(user: User) -> str:
    return make_access_token(user_id=user.pk, role=user.role, aud="another-system")


def no_audience(user: User) -> str:
    return make_access_token(user_id=user.pk, role=user.role, aud=None)


def tampered_payload(user: User) -> str:
    """A real token whose payload was edited to say admin."""
    header, _, signature = make_access_token(user_id=user.pk, role="client").split(".")
    payload = b64(json.dumps({**good_claims(user), "role": "admin"}).encode())
    return f"{header}.{payload}.{signature}"


FORGERIES = [
    expired,
    bad_signature,
    alg_none,
    hs256_with_public_key,
    wrong_issuer,
    wrong_audience,
    no_audience,
    tampered_payload,
]


@pytest.mark.django_db
@pytest.mark.parametrize("forge", FORGERIES, ids=lambda f: f.__name__)
def test_forged_access_tokens_are_401(forge: Callable[[User], str], user: User) -> None:
    token = forge(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.get(ME)
    assert response.status_code == 401, response.json()
    assert_error_shape(response.json())
    with pytest.raises(TokenBackendError):
        other_service_backend().decode(token)


@pytest.mark.django_db
def test_a_refresh_token_is_not_an_access_token(api_client: APIClient, user: User) -> None:
    refresh = sign_in(api_client, user)["refresh"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh}")
    response = api_client.get(ME)
    assert response.status_code == 401
    assert_error_shape(response.json())


@pytest.mark.django_db
def test_an_access_token_is_not_a_refresh_token(api_client: APIClient, user: User) -> None:
    access = sign_in(api_client, user)["access"]
    assert api_client.post(REFRESH, {"refresh": access}).status_code == 401


@pytest.mark.django_db
def test_a_forged_refresh_token_is_401(api_client: APIClient, user: User) -> None:
    refresh = sign_in(api_client, user)["refresh"]
    claims = jwt.decode(refresh, options={"verify_signature": False})
    forged = jwt.encode(claims, generate_keypair().private_pem, algorithm="RS256")
    assert api_client.post(REFRESH, {"refresh": forged}).status_code == 401


@pytest.mark.django_db
def test_a_reused_rotated_refresh_token_is_401(
    api_client: APIClient, user: User, settings: Any
) -> None:
    """After the few seconds' grace for a second tab (``test_refresh_families``)."""
    refresh = sign_in(api_client, user)["refresh"]
    assert api_client.post(REFRESH, {"refresh": refresh}).status_code == 200
    grace = timedelta(seconds=settings.JWT_REFRESH_REUSE_GRACE_SECONDS + 1)
    RefreshTokenFamily.objects.update(rotated_at=F("rotated_at") - grace)
    response = api_client.post(REFRESH, {"refresh": refresh})
    assert response.status_code == 401
    assert_error_shape(response.json())


@pytest.mark.django_db
def test_a_deactivated_user_cannot_refresh_or_call(
    api_client: APIClient, user: User, admin_user: User, as_user: Callable[[User], APIClient]
) -> None:
    pair = sign_in(api_client, user)
    response = as_user(admin_user).patch(f"/api/accounts/users/{user.pk}/", {"is_active": False})
    assert response.status_code == 200
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert api_client.get(ME).status_code == 401


@pytest.mark.django_db
def test_deactivation_outside_the_api_still_stops_refresh(
    api_client: APIClient, user: User
) -> None:
    """Even without revocation (e.g. a database edit), refresh checks the active flag."""
    refresh = sign_in(api_client, user)["refresh"]
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = api_client.post(REFRESH, {"refresh": refresh})
    assert response.status_code == 401
    assert_error_shape(response.json())


@pytest.mark.django_db
def test_a_token_for_a_user_that_does_not_exist_is_401() -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_access_token(user_id=987654)}")
    assert api.get(ME).status_code == 401


@pytest.mark.django_db
def test_a_token_with_a_nonsense_user_id_is_401() -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_access_token(user_id='../etc')}")
    assert api.get(ME).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_yield_one_pair() -> None:
    """Requests racing with the same refresh token: one rotation, one pair for them all.

    The session's row lock decides them one after another: the first rotates, the others
    (within the grace) get the refresh token it got. Nothing is revoked.
    """
    user = ClientFactory()
    refresh = sign_in(APIClient(), user)["refresh"]
    barrier = threading.Barrier(4)
    results: list[tuple[int, str | None]] = []

    def attempt() -> None:
        try:
            barrier.wait()
            response = APIClient().post(REFRESH, {"refresh": refresh})
            results.append((response.status_code, response.json().get("refresh")))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [200, 200, 200, 200]
    assert len({pair for _, pair in results}) == 1
    family = RefreshTokenFamily.objects.get(user=user)
    assert family.revoked_at is None
    assert OutstandingToken.objects.filter(user=user).count() == 2
    assert BlacklistedToken.objects.filter(token__user=user).count() == 1
    fresh = results[0][1]
    assert APIClient().post(REFRESH, {"refresh": fresh}).status_code == 200


@pytest.mark.django_db
def test_the_jwk_set_is_served_while_the_database_is_down(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "ensure_connection", refuse)
    monkeypatch.setattr(connection, "cursor", refuse)
    response = api_client.get(JWKS)
    assert response.status_code == 200
    assert response.json()["keys"]
