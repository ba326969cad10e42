"""``SIMPLE_JWT`` for accounts, the one service that signs tokens.

Built on the verifying settings every other service uses (same algorithm, audience,
issuer, leeway and claims), plus the private key, lifetimes, rotation and blacklist.
Local, production and test settings all call ``issuing_settings`` with the key pair they
load through ``servidesk_shared.settings.jwt``, so the three differ only in the keys.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from servidesk_shared.settings import env
from servidesk_shared.settings.jwt import verifying_settings


def issuing_settings(*, private_key: str, public_key: str, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = verifying_settings(
        public_key,
        SIGNING_KEY=private_key,
        ACCESS_TOKEN_LIFETIME=timedelta(minutes=env.int("JWT_ACCESS_TOKEN_MINUTES", default=15)),
        REFRESH_TOKEN_LIFETIME=timedelta(days=env.int("JWT_REFRESH_TOKEN_DAYS", default=7)),
        ROTATE_REFRESH_TOKENS=True,
        BLACKLIST_AFTER_ROTATION=True,
        # Inside accounts the user table is at hand: the caller is the real, current user
        # (a deactivated or demoted user loses access at once, not when the token expires).
        AUTH_TOKEN_CLASSES=("users.tokens.AccessToken",),
        TOKEN_USER_CLASS="rest_framework_simplejwt.models.TokenUser",  # noqa: S106
    )
    settings.update(overrides)
    return settings
