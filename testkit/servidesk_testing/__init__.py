"""Test helpers for every service: a throwaway RSA key pair and tokens signed with it.

Test settings point ``JWT_PUBLIC_KEY`` (and accounts' private key) at this pair, so a
test can act as any role without the accounts service.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import jwt

from servidesk_shared.keys import KeyPair, generate_keypair, key_id
from servidesk_shared.settings.jwt import JWT_AUDIENCE, JWT_ISSUER


@cache
def test_keypair() -> KeyPair:
    """One pair per test process; generated, never committed."""
    return generate_keypair()


def make_access_token(
    *,
    user_id: int | str | None = 1,
    role: str = "client",
    username: str | None = None,
    lifetime: timedelta = timedelta(minutes=15),
    private_pem: str | None = None,
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    """An access token as accounts issues it; override any claim to build a bad one."""
    pair = test_keypair()
    now = datetime.now(tz=UTC)
    payload: dict[str, Any] = {
        "token_type": "access",
        "user_id": user_id,
        "role": role,
        "username": username or f"user{user_id}",
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    payload.update(claims)
    return jwt.encode(
        {key: value for key, value in payload.items() if value is not None},
        private_pem or pair.private_pem,
        algorithm="RS256",
        headers={"kid": key_id(pair.public_pem), **(headers or {})},
    )


def auth_header(**token_claims: Any) -> dict[str, str]:
    """``Authorization`` header for a test client: ``client.get(url, headers=auth_header())``."""
    return {"Authorization": f"Bearer {make_access_token(**token_claims)}"}


def consume(data: Any, *, registry: Any, queue: str, sequence: int) -> bool:
    """Apply one event as ``consume_events`` does with a message from its owner: build
    and parse the envelope, record the id in the inbox and run the service's handler, in
    one transaction. ``True`` when it was applied (not a copy)."""
    from servidesk_shared.events import envelope
    from servidesk_shared.events.consumer import EventConsumer

    raw = envelope.build(data, producer=type(data).producer, sequence=sequence)
    event = envelope.decode(envelope.parse_envelope(raw))
    handler = registry.get(event.type)
    assert handler is not None, f"{queue} has no handler for {event.type}"
    applied: bool = EventConsumer(None, registry=registry, queue=queue).apply(event, handler)
    return applied
