"""The tokens accounts signs: simplejwt's, RS256 with a ``kid`` header and our claims.

simplejwt encodes without any header of its own, so, as Saleor's ``jwt_manager`` does,
the token backend here adds ``kid`` (the RFC 7638 thumbprint of the public key, the same
value the JWK set publishes). The backend and lifetimes are read from the current
settings, so ``override_settings(SIMPLE_JWT=...)`` takes effect in tests.

Access tokens carry ``user_id``, ``role``, ``username`` plus ``iss``, ``aud``, ``exp``,
``iat``, ``jti`` and ``token_type``. Refresh tokens carry only ``user_id``: a refresh
reads the user again, so a new access token always has the current role and name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import jwt
from django.core.signals import setting_changed
from rest_framework_simplejwt import settings as jwt_settings
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from servidesk_shared.keys import key_id, public_jwk
from users.models import User


class KeyIdTokenBackend(TokenBackend):
    """simplejwt's backend, signing with a ``kid`` header."""

    def __init__(self, *args: Any, kid: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kid = kid

    def encode(self, payload: dict[str, Any]) -> str:
        claims = dict(payload)
        if self.audience is not None:
            claims["aud"] = self.audience
        if self.issuer is not None:
            claims["iss"] = self.issuer
        return jwt.encode(
            claims,
            self.prepared_signing_key,
            algorithm=self.algorithm,
            headers={"kid": self.kid},
            json_encoder=self.json_encoder,
        )


@cache
def token_backend() -> KeyIdTokenBackend:
    """One backend per settings value: parsing the RSA keys is the expensive part."""
    api = jwt_settings.api_settings
    return KeyIdTokenBackend(
        api.ALGORITHM,
        api.SIGNING_KEY,
        api.VERIFYING_KEY,
        api.AUDIENCE,
        api.ISSUER,
        api.JWK_URL,
        api.LEEWAY,
        api.JSON_ENCODER,
        kid=key_id(api.VERIFYING_KEY),
    )


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "SIMPLE_JWT":
        token_backend.cache_clear()


setting_changed.connect(_reset)


def jwk_set() -> dict[str, list[dict[str, str]]]:
    """The public JWK set served at ``.well-known/jwks.json``."""
    return {"keys": [public_jwk(jwt_settings.api_settings.VERIFYING_KEY)]}


class _Lifetime:
    """A class attribute read from the current settings, not frozen at import time."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type) -> timedelta:
        value: timedelta = getattr(jwt_settings.api_settings, self.name)
        return value


class AccessToken(tokens.AccessToken):
    lifetime = _Lifetime("ACCESS_TOKEN_LIFETIME")

    @property
    def token_backend(self) -> TokenBackend:
        return token_backend()


class RefreshToken(tokens.RefreshToken):
    lifetime = _Lifetime("REFRESH_TOKEN_LIFETIME")
    access_token_class = AccessToken

    @property
    def token_backend(self) -> TokenBackend:
        return token_backend()


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def token_pair_for(user: User) -> TokenPair:
    """A new refresh token (recorded as outstanding) and an access token for ``user``.

    What ``RefreshToken.for_user`` does, signing the refresh token once instead of twice
    (RS256 signing is most of a refresh's CPU time).
    """
    refresh = RefreshToken()
    refresh["user_id"] = str(user.pk)
    encoded_refresh = str(refresh)
    OutstandingToken.objects.create(
        user=user,
        jti=refresh["jti"],
        token=encoded_refresh,
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    access = refresh.access_token
    access["role"] = user.role
    access["username"] = user.username
    return TokenPair(access=str(access), refresh=encoded_refresh)
