"""The JWT attack catalog, run by every service against every operation that needs a token.

    class TestJWTAttacks(ServiceJWTAttackTests):
        pass

Each attack forges an ``Authorization`` header that claims to be an admin: a token that
is expired or not yet valid, signed by another key or by nobody (``alg: none``), keyed
with the public key (HS256 confusion), carrying its own key (``jwk``, ``jku``), a ``kid``
injection, the wrong issuer or audience, missing claims, a refresh token, an edited
payload, no signature, another scheme. Every one must be a 401 in the error shape on
every protected operation of the service's schema; a genuine token for the same user must
pass authentication on the same requests, so a 401 really comes from the forgery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import jwt
import pytest
from django.test import Client

from servidesk_shared.keys import KeyPair, generate_keypair, key_id, public_jwk
from servidesk_testing import make_access_token, test_keypair
from servidesk_testing.api_fuzzing import operations, requires_token
from servidesk_testing.contract import assert_error_shape


@dataclass(frozen=True)
class Identity:
    """Whom the forged tokens claim to be: a real user of the service under test."""

    user_id: int | str
    role: str = "admin"
    username: str = "attacker"

    def token(self, **claims: Any) -> str:
        return make_access_token(
            user_id=self.user_id, role=self.role, username=self.username, **claims
        )

    def claims(self) -> dict[str, Any]:
        payload: dict[str, Any] = jwt.decode(self.token(), options={"verify_signature": False})
        return payload


@cache
def attacker_keypair() -> KeyPair:
    """A key pair that is not the service's: what an attacker signs with."""
    return generate_keypair()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
    return (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{b64(signature)}"
    )


def hmac_signed(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def bearer(token: str) -> str:
    return f"Bearer {token}"


# --- The catalog: each entry builds the Authorization header for an identity ----------------


def expired(who: Identity) -> str:
    return bearer(make_access_token(user_id=who.user_id, role=who.role, lifetime=timedelta(-1)))


def not_yet_valid(who: Identity) -> str:
    return bearer(who.token(nbf=int(time.time()) + 3600))


def signed_by_another_key(who: Identity) -> str:
    """Claims our key id, signed with the attacker's private key."""
    return bearer(who.token(private_pem=attacker_keypair().private_pem))


def alg_none(who: Identity) -> str:
    return bearer(handmade({"alg": "none", "typ": "JWT"}, who.claims(), b""))


def alg_none_capitalised(who: Identity) -> str:
    return bearer(handmade({"alg": "None", "typ": "JWT"}, who.claims(), b""))


def hs256_keyed_with_the_public_key(who: Identity) -> str:
    """Key confusion: an HMAC whose secret is the (public) RSA key's PEM."""
    public_pem = test_keypair().public_pem
    header = {"alg": "HS256", "typ": "JWT", "kid": key_id(public_pem)}
    return bearer(hmac_signed(header, who.claims(), public_pem.encode()))


def embedded_jwk(who: Identity) -> str:
    """The token carries the attacker's public key in its header (CVE-2018-0114 style)."""
    pair = attacker_keypair()
    header = {"kid": key_id(pair.public_pem), "jwk": public_jwk(pair.public_pem)}
    return bearer(jwt.encode(who.claims(), pair.private_pem, algorithm="RS256", headers=header))


def jku_to_the_attackers_key_set(who: Identity) -> str:
    pair = attacker_keypair()
    header = {"kid": key_id(pair.public_pem), "jku": "https://attacker.example/jwks.json"}
    return bearer(jwt.encode(who.claims(), pair.private_pem, algorithm="RS256", headers=header))


def kid_injection(who: Identity) -> str:
    """A ``kid`` naming a file whose content (empty) would be the HMAC secret."""
    header = {"alg": "HS256", "typ": "JWT", "kid": "../../../../../../dev/null"}
    return bearer(hmac_signed(header, who.claims(), b""))


def wrong_issuer(who: Identity) -> str:
    return bearer(who.token(iss="someone-else"))


def no_issuer(who: Identity) -> str:
    return bearer(who.token(iss=None))


def wrong_audience(who: Identity) -> str:
    return bearer(who.token(aud="another-system"))


def no_audience(who: Identity) -> str:
    return bearer(who.token(aud=None))


def no_expiry(who: Identity) -> str:
    return bearer(who.token(exp=None))


def no_user_id(who: Identity) -> str:
    return bearer(make_access_token(role=who.role, user_id=None))


def no_token_type(who: Identity) -> str:
    return bearer(who.token(token_type=None))


def refresh_token_as_access(who: Identity) -> str:
    return bearer(who.token(token_type="refresh"))  # noqa: S106 (a claim, not a password)


def payload_edited_after_signing(who: Identity) -> str:
    """A real client token whose payload now says admin; the signature is the original."""
    header, _, signature = make_access_token(user_id=who.user_id, role="client").split(".")
    payload = b64(json.dumps({**who.claims(), "role": "admin"}).encode())
    return bearer(f"{header}.{payload}.{signature}")


def signature_stripped(who: Identity) -> str:
    header, payload, _ = who.token().split(".")
    return bearer(f"{header}.{payload}.")


def another_scheme(who: Identity) -> str:
    """A genuine token under a scheme the services do not accept: no caller at all."""
    return f"JWT {who.token()}"


ATTACKS: tuple[Callable[[Identity], str], ...] = (
    expired,
    not_yet_valid,
    signed_by_another_key,
    alg_none,
    alg_none_capitalised,
    hs256_keyed_with_the_public_key,
    embedded_jwk,
    jku_to_the_attackers_key_set,
    kid_injection,
    wrong_issuer,
    no_issuer,
    wrong_audience,
    no_audience,
    no_expiry,
    no_user_id,
    no_token_type,
    refresh_token_as_access,
    payload_edited_after_signing,
    signature_stripped,
    another_scheme,
)


# --- The test class every service runs ------------------------------------------------------


def example_path(label: str) -> str:
    """The operation's path with each parameter filled (its first enum value, else ``1``)."""
    operation = operations()[label]
    path = operation.path
    for parameter in operation.definition.raw.get("parameters", []):
        if parameter["in"] == "path":
            enum = parameter.get("schema", {}).get("enum") or ["1"]
            path = path.replace("{" + parameter["name"] + "}", str(enum[0]))
    return path


def protected_operations() -> list[str]:
    return sorted(label for label, operation in operations().items() if requires_token(operation))


def call(client: Client, label: str, authorization: str) -> Any:
    method = label.split(" ", 1)[0]
    return client.generic(
        method,
        example_path(label),
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization,
    )


@pytest.mark.django_db
class ServiceJWTAttackTests:
    """Subclass as is; override ``identity`` when the service looks token users up."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "attack" in metafunc.fixturenames:
            metafunc.parametrize("attack", ATTACKS, ids=lambda attack: attack.__name__)

    @pytest.fixture
    def identity(self) -> Identity:
        return Identity(user_id=301, role="admin", username="alba")

    def test_the_service_has_protected_operations(self) -> None:
        assert protected_operations()

    def test_a_genuine_token_is_authenticated_everywhere(
        self, client: Client, identity: Identity
    ) -> None:
        refused = [
            f"{label}: {response.status_code}"
            for label in protected_operations()
            if (response := call(client, label, bearer(identity.token()))).status_code == 401
        ]
        assert not refused, refused

    def test_attack_is_401_everywhere(
        self, client: Client, identity: Identity, attack: Callable[[Identity], str]
    ) -> None:
        authorization = attack(identity)
        accepted = []
        for label in protected_operations():
            response = call(client, label, authorization)
            if response.status_code != 401:
                accepted.append(f"{label}: {response.status_code} {response.content[:200]!r}")
                continue
            assert_error_shape(response.json())
        assert not accepted, "\n".join(accepted)
