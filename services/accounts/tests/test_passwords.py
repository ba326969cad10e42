"""Password change and password reset by email."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient
from servidesk_testing.contract import assert_error_shape

from tests.factories import PASSWORD, ClientFactory
from users.models import User

TOKEN = "/api/accounts/auth/token/"
REFRESH = "/api/accounts/auth/token/refresh/"
CHANGE = "/api/accounts/me/password/"
RESET = "/api/accounts/auth/password/reset/"
CONFIRM = "/api/accounts/auth/password/reset/confirm/"
NEW = "a-brand-new-secret"

pytestmark = pytest.mark.django_db


def sign_in(username: str, password: str = PASSWORD) -> Any:
    return APIClient().post(TOKEN, {"username": username, "password": password})


class TestChange:
    def test_changes_it_and_ends_other_sessions(
        self, as_user: Callable[[User], APIClient], client_user: User
    ) -> None:
        old_refresh = sign_in("carla").json()["refresh"]
        response = as_user(client_user).post(
            CHANGE, {"current_password": PASSWORD, "new_password": NEW}
        )
        assert response.status_code == 200, response.json()
        assert set(response.json()) == {"access", "refresh"}
        assert sign_in("carla", NEW).status_code == 200
        assert sign_in("carla").status_code == 401
        assert APIClient().post(REFRESH, {"refresh": old_refresh}).status_code == 401
        new_refresh = response.json()["refresh"]
        assert APIClient().post(REFRESH, {"refresh": new_refresh}).status_code == 200

    def test_needs_the_current_password(
        self, as_user: Callable[[User], APIClient], client_user: User
    ) -> None:
        response = as_user(client_user).post(
            CHANGE, {"current_password": "not-it-at-all", "new_password": NEW}
        )
        assert response.status_code == 400
        assert "current_password" in response.json()["extra"]["fields"]

    def test_refuses_a_weak_one(
        self, as_user: Callable[[User], APIClient], client_user: User
    ) -> None:
        response = as_user(client_user).post(
            CHANGE, {"current_password": PASSWORD, "new_password": "carla"}
        )
        assert response.status_code == 400
        assert "new_password" in response.json()["extra"]["fields"]
        assert sign_in("carla").status_code == 200

    def test_a_social_only_user_sets_one_without_a_current_one(
        self, as_user: Callable[[User], APIClient]
    ) -> None:
        user = ClientFactory(username="social")
        user.set_unusable_password()
        user.save()
        response = as_user(user).post(CHANGE, {"new_password": NEW})
        assert response.status_code == 200
        assert sign_in("social", NEW).status_code == 200


def reset_link(django_capture_on_commit_callbacks: Any, email: str, **headers: Any) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(RESET, {"email": email}, **headers)
    return response


def link_parts(message: Any) -> tuple[str, str]:
    match = re.search(r"http://web\.test/password-reset/confirm/([^/]+)/([^/]+)/", message.body)
    assert match, message.body
    return match.group(1), match.group(2)


class TestReset:
    def test_emails_a_link_to_the_web_ui(
        self, client_user: User, django_capture_on_commit_callbacks: Any
    ) -> None:
        response = reset_link(django_capture_on_commit_callbacks, "Carla@Example.com")
        assert response.status_code == 202
        assert response.json()["message"]
        (message,) = mail.outbox
        assert message.to == ["carla@example.com"]
        link_parts(message)
        assert message.alternatives  # an HTML part as well
        assert "Servidesk" in message.subject

    def test_the_email_is_in_the_users_language(
        self, django_capture_on_commit_callbacks: Any
    ) -> None:
        ClientFactory(email="en@example.com", language="en")
        ClientFactory(email="es@example.com", language="es")
        reset_link(django_capture_on_commit_callbacks, "en@example.com")
        reset_link(django_capture_on_commit_callbacks, "es@example.com")
        english, spanish = mail.outbox
        assert english.subject == "Choose a new Servidesk password"
        assert spanish.subject != english.subject

    @pytest.mark.parametrize("email", ["nobody@example.com", "inactive@example.com"])
    def test_the_answer_does_not_tell_who_has_an_account(
        self, client_user: User, django_capture_on_commit_callbacks: Any, email: str
    ) -> None:
        ClientFactory(email="inactive@example.com", is_active=False)
        known = reset_link(django_capture_on_commit_callbacks, "carla@example.com")
        unknown = reset_link(django_capture_on_commit_callbacks, email)
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
        assert len(mail.outbox) == 1

    def test_the_link_sets_a_password_once(
        self, client_user: User, django_capture_on_commit_callbacks: Any
    ) -> None:
        old_refresh = sign_in("carla").json()["refresh"]
        reset_link(django_capture_on_commit_callbacks, "carla@example.com")
        uid, token = link_parts(mail.outbox[0])
        response = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
        assert response.status_code == 204, response.content
        assert sign_in("carla", NEW).status_code == 200
        assert APIClient().post(REFRESH, {"refresh": old_refresh}).status_code == 401
        client_user.refresh_from_db()
        assert client_user.email_verified
        again = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW + "2"})
        assert again.status_code == 400
        assert "token" in again.json()["extra"]["fields"]

    def test_the_link_expires(
        self, client_user: User, django_capture_on_commit_callbacks: Any, settings: Any
    ) -> None:
        reset_link(django_capture_on_commit_callbacks, "carla@example.com")
        uid, token = link_parts(mail.outbox[0])
        settings.PASSWORD_RESET_TIMEOUT = -1
        response = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
        assert response.status_code == 400
        assert "token" in response.json()["extra"]["fields"]

    @pytest.mark.parametrize(
        ("uid", "token"), [("garbage", "x-y"), ("MQ", "bad-token"), ("", ""), ("!!", "??")]
    )
    def test_bad_links_are_400(self, client_user: User, uid: str, token: str) -> None:
        response = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
        assert response.status_code == 400
        assert_error_shape(response.json())

    def test_a_weak_new_password_keeps_the_link_usable(
        self, client_user: User, django_capture_on_commit_callbacks: Any
    ) -> None:
        reset_link(django_capture_on_commit_callbacks, "carla@example.com")
        uid, token = link_parts(mail.outbox[0])
        weak = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": "123"})
        assert weak.status_code == 400
        assert "new_password" in weak.json()["extra"]["fields"]
        ok = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
        assert ok.status_code == 204

    def test_a_reset_lifts_the_failed_login_lock(
        self, client_user: User, django_capture_on_commit_callbacks: Any, settings: Any
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 1
        sign_in("carla", "wrong-password")
        assert sign_in("carla").status_code == 429
        reset_link(django_capture_on_commit_callbacks, "carla@example.com")
        uid, token = link_parts(mail.outbox[0])
        APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
        assert sign_in("carla", NEW).status_code == 200

    def test_a_mail_server_failure_is_not_the_callers_problem(
        self, client_user: User, django_capture_on_commit_callbacks: Any, settings: Any
    ) -> None:
        settings.EMAIL_BACKEND = "tests.test_passwords.BrokenBackend"
        response = reset_link(django_capture_on_commit_callbacks, "carla@example.com")
        assert response.status_code == 202


class BrokenBackend:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError("smtp down")
