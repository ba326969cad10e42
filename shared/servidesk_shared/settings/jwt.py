"""simplejwt configuration for services that verify tokens but never issue them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from servidesk_shared.keys import local_keypair, require_pem
from servidesk_shared.settings import env

JWT_ISSUER = "servidesk-accounts"
JWT_AUDIENCE = "servidesk"


def verifying_settings(public_key: str, **overrides: Any) -> dict[str, Any]:
    """``SIMPLE_JWT`` for a verifying service: RS256 with the public key, stateless users."""
    settings: dict[str, Any] = {
        "ALGORITHM": "RS256",
        # The private key never leaves accounts; an empty signing key makes a mistaken
        # attempt to sign here fail loudly instead of using SECRET_KEY.
        "SIGNING_KEY": "",
        "VERIFYING_KEY": public_key,
        "AUDIENCE": JWT_AUDIENCE,
        "ISSUER": JWT_ISSUER,
        "LEEWAY": 5,
        "AUTH_HEADER_TYPES": ("Bearer",),
        "USER_ID_CLAIM": "user_id",
        "USER_ID_FIELD": "id",
        "TOKEN_USER_CLASS": "servidesk_shared.auth.ServideskTokenUser",
        "UPDATE_LAST_LOGIN": False,
    }
    settings.update(overrides)
    return settings


def public_key(var: Path, *, local: bool) -> str:
    """``JWT_PUBLIC_KEY`` from the environment; in local use the generated pair's public half."""
    configured = env.str("JWT_PUBLIC_KEY", default="")
    if configured or not local:
        return require_pem("JWT_PUBLIC_KEY", configured)
    return local_keypair(var).public_pem


def private_key(var: Path, *, local: bool) -> str:
    """``JWT_PRIVATE_KEY`` (accounts only); in local use the generated pair's private half."""
    configured = env.str("JWT_PRIVATE_KEY", default="")
    if configured or not local:
        return require_pem("JWT_PRIVATE_KEY", configured)
    return local_keypair(var).private_pem
