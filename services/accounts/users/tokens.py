"""The tokens accounts signs: simplejwt's, RS256 with a ``kid`` header and our claims.

simplejwt encodes without any header of its own, so, as Saleor's ``jwt_manager`` does,
the token backend here adds ``kid`` (the RFC 7638 thumbprint of the public key, the same
value the JWK set publishes). The backend and lifetimes are read from the current
settings, so ``override_settings(SIMPLE_JWT=...)`` takes effect in tests.

Access tokens carry ``user_id``, ``role``, ``username`` (an API key's also ``scope`` when
it is read-only, see ``users.api_keys``) plus ``iss``, ``aud``, ``exp``,
``iat``, ``jti`` and ``token_type``. Refresh tokens carry ``user_id`` and ``fam``, the id
of their sign-in session (``RefreshTokenFamily``; its rules are ``users.sessions``): a
refresh reads the user again, so a new access token always has the current role and name.
A refresh token never outlives its session's absolute lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from rest_framework_simplejwt import settings as jwt_settings
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from servidesk_shared.auth import API_KEY_USER_PREFIX, READ_SCOPE, SCOPE_CLAIM
from servidesk_shared.keys import key_id, public_jwk
from users.models import ApiKey, RefreshTokenFamily, User

#: The claim of a refresh token that names its sign-in session (``RefreshTokenFamily``).
FAMILY_CLAIM = "fam"


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


class PresentedRefreshToken(RefreshToken):
    """A refresh token as a caller sent it: signature, type and expiry checked, not the blacklist.

    A rotated token is blacklisted, yet ``users.sessions`` must still recognize it, under
    its session's row lock, to tell a second tab's retry from a stolen copy.
    """

    def check_blacklist(self) -> None:
        return None


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str


def access_token_for(user: User) -> str:
    """An access token with ``user``'s current role and name."""
    access = AccessToken()
    access["user_id"] = str(user.pk)
    access["role"] = user.role
    access["username"] = user.username
    return str(access)


def access_token_for_api_key(api_key: ApiKey) -> str:
    """An access token for an API key: ``user_id`` ``apikey:<id>``, the key's role, its name
    as ``username``, ``scope`` ``read`` when read-only; never valid past the key's expiry."""
    access = AccessToken()
    access["user_id"] = f"{API_KEY_USER_PREFIX}{api_key.pk}"
    access["role"] = api_key.role
    access["username"] = api_key.name
    if api_key.read_only:
        access[SCOPE_CLAIM] = READ_SCOPE
    if api_key.expires_at is not None and datetime_from_epoch(access["exp"]) > api_key.expires_at:
        access.set_exp(lifetime=api_key.expires_at - access.current_time)
    return str(access)


def _refresh_for(user_id: int) -> RefreshToken:
    refresh = RefreshToken()
    refresh["user_id"] = str(user_id)
    return refresh


def _signed_in(refresh: RefreshToken, family: RefreshTokenFamily) -> str:
    """``refresh`` as a member of ``family``, signed and recorded as outstanding."""
    refresh[FAMILY_CLAIM] = str(family.pk)
    if datetime_from_epoch(refresh["exp"]) > family.expires_at:
        refresh.set_exp(lifetime=family.expires_at - refresh.current_time)
    encoded = str(refresh)
    OutstandingToken.objects.create(
        user_id=family.user_id,
        jti=refresh["jti"],
        token=encoded,
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return encoded


def token_pair_for(user: User) -> TokenPair:
    """A pair for ``user`` that starts a new sign-in session (a new refresh-token family).

    The session ends ``JWT_SESSION_MAX_DAYS`` after now, however often it refreshes; the
    user's sessions that ended for good (their tokens expired with them) are deleted. Each
    token is signed once (RS256 signing is most of a sign-in's CPU time).
    """
    refresh = _refresh_for(user.pk)
    RefreshTokenFamily.objects.filter(user=user, expires_at__lt=refresh.current_time).delete()
    family = RefreshTokenFamily.objects.create(
        user=user,
        created_at=refresh.current_time,
        expires_at=refresh.current_time + timedelta(days=settings.JWT_SESSION_MAX_DAYS),
        current_jti=refresh["jti"],
    )
    return TokenPair(access=access_token_for(user), refresh=_signed_in(refresh, family))


def rotated_pair(family: RefreshTokenFamily, user: User) -> TokenPair:
    """The family's next pair: its current refresh token becomes the previous one.

    The caller holds the family's row lock and blacklists the token rotated out.
    """
    refresh = _refresh_for(user.pk)
    encoded = _signed_in(refresh, family)
    family.previous_jti, family.current_jti = family.current_jti, refresh["jti"]
    family.rotated_at = refresh.current_time
    family.save(update_fields=["previous_jti", "current_jti", "rotated_at"])
    return TokenPair(access=access_token_for(user), refresh=encoded)


def current_pair(family: RefreshTokenFamily, user: User) -> TokenPair | None:
    """The family's current refresh token with a new access token; None if it is gone."""
    current = OutstandingToken.objects.filter(jti=family.current_jti).first()
    if current is None:
        return None
    return TokenPair(access=access_token_for(user), refresh=current.token)
