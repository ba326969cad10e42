"""The token pair in the session: refreshing once per session even when requests race."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest
from portal.api.session import TOKENS_KEY, current_user, expires_soon, refreshed_pair
from portal.api.types import TokenPair

from tests.fakes import signed_in_request, token

pytestmark = pytest.mark.django_db


def save_elsewhere(request: HttpRequest, pair: TokenPair) -> None:
    """What a concurrent request of the same session does after its own refresh."""
    other = SessionStore(session_key=request.session.session_key)
    other[TOKENS_KEY] = {"access": pair.access, "refresh": pair.refresh}
    other.save()


def refresh_giving(result: TokenPair | None, calls: list[str]) -> Callable[[str], TokenPair | None]:
    def refresh(token_: str) -> TokenPair | None:
        calls.append(token_)
        return result

    return refresh


def test_sign_in_reads_the_role_from_the_token() -> None:
    request = signed_in_request(TokenPair(token(user_id=3, role="technician"), "r"))
    user = current_user(request)
    assert user is not None
    assert (user.id, user.role, user.is_staff, user.is_admin) == ("3", "technician", True, False)


def test_expiry_is_read_from_the_token() -> None:
    assert expires_soon(token(lifetime=10))
    assert not expires_soon(token(lifetime=600))
    assert expires_soon("not-a-token")


def test_a_refresh_stores_and_saves_the_new_pair() -> None:
    old = TokenPair(token(lifetime=5), "r-1")
    request = signed_in_request(old)
    new = TokenPair(token(lifetime=900), "r-2")
    calls: list[str] = []
    assert refreshed_pair(request, old, refresh_giving(new, calls)) == new
    assert calls == ["r-1"]
    stored = SessionStore(session_key=request.session.session_key).load()
    assert stored[TOKENS_KEY] == {"access": new.access, "refresh": "r-2"}


def test_a_pair_another_request_stored_is_used_without_refreshing_again() -> None:
    old = TokenPair(token(lifetime=5), "r-1")
    request = signed_in_request(old)
    newer = TokenPair(token(lifetime=900), "r-2")
    save_elsewhere(request, newer)
    calls: list[str] = []
    assert refreshed_pair(request, old, refresh_giving(None, calls)) == newer
    assert calls == []
    assert request.session[TOKENS_KEY]["refresh"] == "r-2"


def test_a_refused_refresh_rechecks_the_database_before_giving_up() -> None:
    old = TokenPair(token(lifetime=5), "r-1")
    request = signed_in_request(old)
    newer = TokenPair(token(lifetime=900), "r-2")

    def refused_because_rotated(token_: str) -> TokenPair | None:
        save_elsewhere(request, newer)  # the other request commits while this one waits
        return None

    assert refreshed_pair(request, old, refused_because_rotated) == newer


def test_a_refused_refresh_with_nothing_newer_ends_the_session() -> None:
    old = TokenPair(token(lifetime=5), "r-1")
    request = signed_in_request(old)
    assert refreshed_pair(request, old, refresh_giving(None, [])) is None
