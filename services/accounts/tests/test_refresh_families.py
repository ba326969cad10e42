"""Sign-in sessions as refresh-token families: theft ends the family, tabs get a grace.

Each attack is played through the API as a client would, and where the rule is the
session's own (``users.sessions``), also against the service function.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from servidesk_testing.contract import assert_error_shape

from tests.factories import PASSWORD, AdminFactory, ClientFactory
from users import services
from users.models import RefreshTokenFamily, Role, User
from users.tokens import RefreshToken

pytestmark = pytest.mark.django_db


TOKEN = "/api/accounts/auth/token/"
REFRESH = "/api/accounts/auth/token/refresh/"
LOGOUT = "/api/accounts/auth/logout/"


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def sign_in(user: User) -> dict[str, str]:
    response = APIClient().post(TOKEN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def refresh(token: str) -> Any:
    return APIClient().post(REFRESH, {"refresh": token})


def after_the_grace(settings: Any) -> None:
    """Move every rotation back past the grace, as if the seconds had passed."""
    grace = timedelta(seconds=settings.JWT_REFRESH_REUSE_GRACE_SECONDS + 1)
    RefreshTokenFamily.objects.update(rotated_at=F("rotated_at") - grace)


@pytest.fixture
def user(db: None) -> User:
    return ClientFactory(username="rita", email="rita@example.com")


class TestTheft:
    def test_a_reused_token_ends_the_thiefs_chain_too(self, user: User, settings: Any) -> None:
        """The thief refreshes first with a stolen token; the owner's retry ends it all."""
        stolen = sign_in(user)["refresh"]
        thief = refresh(stolen).json()
        after_the_grace(settings)
        owner = refresh(stolen)
        assert owner.status_code == 401
        assert_error_shape(owner.json())
        assert refresh(thief["refresh"]).status_code == 401

    def test_a_reused_token_ends_every_descendant(self, user: User, settings: Any) -> None:
        first = sign_in(user)["refresh"]
        second = refresh(first).json()["refresh"]
        third = refresh(second).json()["refresh"]
        after_the_grace(settings)
        assert refresh(first).status_code == 401
        assert refresh(third).status_code == 401
        family = RefreshTokenFamily.objects.get(user=user)
        assert family.revoked_at is not None
        assert BlacklistedToken.objects.filter(token__jti=claims(third)["jti"]).exists()

    def test_the_service_revokes_before_refusing(self, user: User, settings: Any) -> None:
        """The rule itself, without the view around it."""
        first = services.token_pair_for(user).refresh
        second = services.auth_refresh(refresh=first).refresh
        after_the_grace(settings)
        with pytest.raises(InvalidToken):
            services.auth_refresh(refresh=first)
        with pytest.raises(InvalidToken):
            services.auth_refresh(refresh=second)

    def test_the_service_keeps_a_thief_in_the_grace_on_one_chain(
        self, user: User, settings: Any
    ) -> None:
        token = services.token_pair_for(user).refresh
        owner = services.auth_refresh(refresh=token).refresh
        assert services.auth_refresh(refresh=token).refresh == owner
        services.auth_refresh(refresh=owner)
        after_the_grace(settings)
        with pytest.raises(InvalidToken):
            services.auth_refresh(refresh=owner)
        assert RefreshTokenFamily.objects.get(user=user).revoked_at is not None

    def test_the_service_adopts_a_token_from_before_sessions(
        self, user: User, settings: Any
    ) -> None:
        legacy = str(RefreshToken.for_user(user))
        adopted = services.auth_refresh(refresh=legacy).refresh
        assert "fam" in claims(adopted)
        after_the_grace(settings)
        with pytest.raises(InvalidToken):
            services.auth_refresh(refresh=legacy)
        with pytest.raises(InvalidToken):
            services.auth_refresh(refresh=adopted)

    def test_theft_is_logged_with_the_user(
        self, user: User, settings: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        first = sign_in(user)["refresh"]
        refresh(first)
        after_the_grace(settings)
        with caplog.at_level(logging.WARNING, logger="users.sessions"):
            refresh(first)
        [record] = [r for r in caplog.records if r.name == "users.sessions"]
        assert record.levelno == logging.WARNING
        assert record.user_id == user.pk  # type: ignore[attr-defined]

    def test_other_sessions_of_the_user_go_on(self, user: User, settings: Any) -> None:
        stolen = sign_in(user)["refresh"]
        phone = sign_in(user)["refresh"]
        refresh(stolen)
        after_the_grace(settings)
        assert refresh(stolen).status_code == 401
        assert refresh(phone).status_code == 200

    def test_a_token_of_another_session_is_not_a_reuse(self, user: User) -> None:
        one = sign_in(user)["refresh"]
        two = sign_in(user)["refresh"]
        assert claims(one)["fam"] != claims(two)["fam"]
        assert refresh(one).status_code == 200
        assert refresh(two).status_code == 200


class TestGrace:
    def test_two_tabs_refreshing_at_once_both_go_on(self, user: User) -> None:
        """Web's tabs send the same refresh token twice: no theft, one chain."""
        token = sign_in(user)["refresh"]
        tab_one = refresh(token)
        tab_two = refresh(token)
        assert tab_one.status_code == tab_two.status_code == 200
        assert tab_two.json()["refresh"] == tab_one.json()["refresh"]
        assert claims(tab_two.json()["access"])["user_id"] == str(user.pk)
        assert RefreshTokenFamily.objects.get(user=user).revoked_at is None
        assert refresh(tab_two.json()["refresh"]).status_code == 200

    def test_after_the_grace_the_second_tab_is_a_reuse(self, user: User, settings: Any) -> None:
        token = sign_in(user)["refresh"]
        assert refresh(token).status_code == 200
        after_the_grace(settings)
        assert refresh(token).status_code == 401

    def test_only_the_token_rotated_last_has_a_grace(self, user: User) -> None:
        first = sign_in(user)["refresh"]
        second = refresh(first).json()["refresh"]
        third = refresh(second).json()["refresh"]
        assert refresh(first).status_code == 401
        assert refresh(third).status_code == 401

    def test_a_thief_in_the_grace_shares_the_owners_chain(self, user: User, settings: Any) -> None:
        """Whoever comes second in the grace gets the same token, so it cannot fork."""
        token = sign_in(user)["refresh"]
        owner = refresh(token).json()["refresh"]
        thief = refresh(token).json()["refresh"]
        assert thief == owner
        newer = refresh(owner).json()["refresh"]
        after_the_grace(settings)
        assert refresh(thief).status_code == 401
        assert refresh(newer).status_code == 401


class TestLifetime:
    def test_a_session_ends_after_its_absolute_lifetime(self, user: User, settings: Any) -> None:
        token = sign_in(user)["refresh"]
        for _ in range(3):
            token = refresh(token).json()["refresh"]
        days = timedelta(days=settings.JWT_SESSION_MAX_DAYS)
        RefreshTokenFamily.objects.update(
            created_at=F("created_at") - days, expires_at=timezone.now() - timedelta(seconds=1)
        )
        response = APIClient().post(REFRESH, {"refresh": token}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 401
        assert response.json()["message"] == "This session has expired. Sign in again."

    def test_ended_sessions_are_deleted_at_the_next_sign_in(self, user: User) -> None:
        sign_in(user)
        RefreshTokenFamily.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        other = ClientFactory()
        sign_in(other)
        RefreshTokenFamily.objects.filter(user=other).update(expires_at=timezone.now())
        token = sign_in(user)["refresh"]
        assert list(RefreshTokenFamily.objects.filter(user=user).values_list("pk", flat=True)) == [
            int(claims(token)["fam"])
        ]
        assert RefreshTokenFamily.objects.filter(user=other).count() == 1

    def test_the_lifetime_is_thirty_days_and_caps_each_token(
        self, user: User, settings: Any
    ) -> None:
        assert settings.JWT_SESSION_MAX_DAYS == 30
        settings.JWT_SESSION_MAX_DAYS = 3  # shorter than a refresh token's own 7 days
        token = sign_in(user)["refresh"]
        family = RefreshTokenFamily.objects.get(user=user)
        assert family.expires_at - family.created_at == timedelta(days=3)
        assert claims(token)["exp"] == int(family.expires_at.timestamp())
        rotated = refresh(token).json()["refresh"]
        assert claims(rotated)["exp"] == int(family.expires_at.timestamp())


class TestSignOut:
    def test_sign_out_ends_the_whole_session(self, user: User) -> None:
        first = sign_in(user)["refresh"]
        second = refresh(first).json()["refresh"]
        assert APIClient().post(LOGOUT, {"refresh": first}).status_code == 204
        assert refresh(second).status_code == 401
        assert RefreshTokenFamily.objects.get(user=user).revoked_at is not None

    def test_sign_out_leaves_the_other_sessions(self, user: User) -> None:
        laptop = sign_in(user)["refresh"]
        phone = sign_in(user)["refresh"]
        assert APIClient().post(LOGOUT, {"refresh": laptop}).status_code == 204
        assert refresh(phone).status_code == 200

    def test_deactivation_ends_every_session(self, user: User) -> None:
        laptop = sign_in(user)["refresh"]
        phone = refresh(sign_in(user)["refresh"]).json()["refresh"]
        assert services.user_revoke_tokens(user=user) == 2
        assert refresh(laptop).status_code == 401
        assert refresh(phone).status_code == 401
        assert not RefreshTokenFamily.objects.filter(user=user, revoked_at__isnull=True).exists()


class TestCurrentClaims:
    def test_a_demoted_user_gets_the_new_role_at_the_next_refresh(self) -> None:
        boss = AdminFactory()
        pair = sign_in(boss)
        assert claims(pair["access"])["role"] == "admin"
        User.objects.filter(pk=boss.pk).update(role=Role.CLIENT)
        response = refresh(pair["refresh"])
        assert response.status_code == 200
        assert claims(response.json()["access"])["role"] == "client"

    def test_the_grace_answer_has_the_current_role_too(self) -> None:
        boss = AdminFactory()
        token = sign_in(boss)["refresh"]
        refresh(token)
        User.objects.filter(pk=boss.pk).update(role=Role.TECHNICIAN)
        assert claims(refresh(token).json()["access"])["role"] == "technician"

    def test_a_deactivated_user_is_refused(self, user: User) -> None:
        token = sign_in(user)["refresh"]
        User.objects.filter(pk=user.pk).update(is_active=False)
        response = refresh(token)
        assert response.status_code == 401
        assert_error_shape(response.json())


def test_a_token_from_before_sessions_joins_one(user: User, settings: Any) -> None:
    """Refresh tokens issued before families existed (no ``fam``) keep working, once."""
    legacy = RefreshToken.for_user(user)
    assert "fam" not in legacy.payload
    response = refresh(str(legacy))
    assert response.status_code == 200
    assert "fam" in claims(response.json()["refresh"])
    assert refresh(str(legacy)).status_code == 200  # the grace, as for any rotation
    after_the_grace(settings)
    assert refresh(str(legacy)).status_code == 401
    assert refresh(response.json()["refresh"]).status_code == 401


def test_a_token_naming_a_foreign_session_is_refused(user: User) -> None:
    """``fam`` is signed, but even so a session is only ever its own user's."""
    other = ClientFactory()
    token = sign_in(user)["refresh"]
    other_family = claims(sign_in(other)["refresh"])["fam"]
    RefreshTokenFamily.objects.filter(pk=claims(token)["fam"]).update(user=other)
    assert other_family != claims(token)["fam"]
    assert refresh(token).status_code == 401
    assert OutstandingToken.objects.filter(user=user).count() == 1
