"""The signed-in user's JWT pair, held server-side in the session.

The browser only ever holds the session id (an httpOnly cookie). The access token is
refreshed a little before it runs out; accounts rotates refresh tokens (the old one is
blacklisted), so two requests of one session refreshing at once would have one of them
fail. A refresh therefore locks the session's row, reads what is stored, and uses a pair
another request stored meanwhile instead of refreshing again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

import jwt
import msgspec
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest

from portal.api.types import TokenPair
from servidesk_shared.vocabulary import Role

TOKENS_KEY: Final = "servidesk.tokens"
USER_KEY: Final = "servidesk.user"
#: Refresh when the access token has less than this many seconds left.
REFRESH_MARGIN: Final = 30


@dataclass(frozen=True)
class SessionUser:
    """Who is signed in, as far as the UI needs to know (the APIs decide what they may do)."""

    id: str
    username: str
    role: str
    name: str = ""
    language: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.username

    @property
    def is_client(self) -> bool:
        return self.role == Role.CLIENT

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.TECHNICIAN, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def claims(token: str) -> dict[str, Any]:
    """The token's claims, unverified: web received it from accounts itself over the
    internal network and only reads it to know the role and the expiry; every API
    verifies the signature on each call."""
    try:
        data: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return data


def user_from_claims(access: str, *, name: str = "", language: str = "") -> SessionUser:
    data = claims(access)
    return SessionUser(
        id=str(data.get("user_id", "")),
        username=str(data.get("username", "")),
        role=str(data.get("role", "")),
        name=name,
        language=language,
    )


def stored_pair(request: HttpRequest) -> TokenPair | None:
    return _pair(request.session.get(TOKENS_KEY))


def _pair(data: Any) -> TokenPair | None:
    try:
        return msgspec.convert(data, TokenPair)
    except msgspec.ValidationError:  # nothing stored (or not a pair): signed out
        return None


def current_user(request: HttpRequest) -> SessionUser | None:
    data = request.session.get(USER_KEY)
    if not isinstance(data, dict) or stored_pair(request) is None:
        return None
    return SessionUser(**data)


def user_from_session(session: Mapping[str, Any]) -> SessionUser | None:
    """``current_user`` from a session's stored data (the live stream, which loads the
    session itself: it runs outside Django's request handling)."""
    data = session.get(USER_KEY)
    if not isinstance(data, dict) or _pair(session.get(TOKENS_KEY)) is None:
        return None
    return SessionUser(**data)


def sign_in(request: HttpRequest, pair: TokenPair, *, name: str = "", language: str = "") -> None:
    """Start a fresh session (a new id: no fixation) holding ``pair``."""
    request.session.cycle_key()
    request.session[TOKENS_KEY] = msgspec.structs.asdict(pair)
    request.session[USER_KEY] = asdict(user_from_claims(pair.access, name=name, language=language))


def update_user(request: HttpRequest, **changes: str) -> None:
    user = current_user(request)
    if user is not None:
        request.session[USER_KEY] = {**asdict(user), **changes}


def store_pair(request: HttpRequest, pair: TokenPair) -> None:
    request.session[TOKENS_KEY] = msgspec.structs.asdict(pair)
    user = current_user(request)
    fresh = user_from_claims(pair.access)
    if user is not None:
        # The new access token carries the current role (an admin may have changed it).
        fresh = SessionUser(
            id=fresh.id,
            username=fresh.username,
            role=fresh.role,
            name=user.name,
            language=user.language,
        )
    request.session[USER_KEY] = asdict(fresh)


def sign_out(request: HttpRequest) -> None:
    request.session.flush()


def expires_soon(access: str, *, now: float | None = None) -> bool:
    exp = claims(access).get("exp")
    if not isinstance(exp, int | float):
        return True
    return float(exp) - (now if now is not None else time.time()) < REFRESH_MARGIN


def refreshed_pair(
    request: HttpRequest,
    used: TokenPair,
    refresh: Callable[[str], TokenPair | None],
) -> TokenPair | None:
    """A pair newer than ``used``: one another request stored meanwhile, or a new one from
    ``refresh`` (which returns None when accounts refuses the refresh token)."""
    session_key = request.session.session_key
    if not session_key:
        return None
    with transaction.atomic():
        # Serializes the refreshes of one session (PostgreSQL; SQLite ignores the lock and
        # relies on the re-read after a refused refresh below).
        Session.objects.select_for_update().filter(session_key=session_key).exists()
        stored = _pair_in_database(request)
        if stored is not None and stored.refresh != used.refresh:
            store_pair(request, stored)
            return stored
        fresh = refresh(used.refresh)
        if fresh is None:
            # Refused: maybe rotated by a concurrent request that has just saved.
            stored = _pair_in_database(request)
            if stored is not None and stored.refresh != used.refresh:
                store_pair(request, stored)
                return stored
            return None
        store_pair(request, fresh)
        request.session.save()
        return fresh


def _pair_in_database(request: HttpRequest) -> TokenPair | None:
    engine = type(request.session)
    data = engine(session_key=request.session.session_key).load()
    return _pair(data.get(TOKENS_KEY))
