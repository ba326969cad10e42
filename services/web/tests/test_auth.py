"""Signing in and out, the session-held token pair and its refresh, registration,
password reset, social sign-in and the language switch."""

from __future__ import annotations

import httpx
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from portal.api.session import TOKENS_KEY

from tests.fakes import FakeApis, error, page, sign_in_client, token

pytestmark = pytest.mark.django_db

ME = {
    "id": 7,
    "username": "ana",
    "email": "ana@example.com",
    "full_name": "Ana Cliente",
    "phone": "",
    "role": "client",
    "language": "en",
    "notify_email": True,
    "notify_sms": False,
}


def test_sign_in_page_has_both_social_buttons_and_a_csrf_token(
    client: Client, apis: FakeApis
) -> None:
    response = client.get("/login/?next=/tickets/41/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in html
    assert "/login/social/google/?next=/tickets/41/" in html
    assert "/login/social/facebook/?next=/tickets/41/" in html
    assert 'for="id_username"' in html
    assert 'autocomplete="current-password"' in html


def test_signing_in_keeps_the_pair_server_side_and_goes_to_next(
    client: Client, apis: FakeApis
) -> None:
    access = token(user_id=7, role="client")
    apis.on("accounts", "POST", "auth/token/", body={"access": access, "refresh": "r-1"})
    apis.on("accounts", "GET", "me/", body=ME)

    response = client.post(
        "/login/",
        {"username": "ana", "password": "secret-pass", "next": "/tickets/41/"},
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_X_REQUEST_ID="req-123",
    )

    assert response.status_code == 302
    assert response["Location"] == "/tickets/41/"
    login = apis.called("accounts", "POST", "auth/token/")[0]
    assert login.body == {"username": "ana", "password": "secret-pass"}
    assert login.headers["X-Forwarded-For"] == "203.0.113.9"
    assert login.headers["X-Request-ID"] == "req-123"
    assert "Authorization" not in login.headers
    # The browser gets an opaque, httpOnly session id; the tokens stay in the database.
    cookie = response.cookies["servidesk_session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert access not in str(response.cookies)
    stored = SessionStore(session_key=cookie.value).load()
    assert stored[TOKENS_KEY] == {"access": access, "refresh": "r-1"}
    # The profile's language becomes the UI's.
    assert response.cookies["servidesk_language"].value == "en"


def test_a_wrong_password_shows_the_api_message_and_keeps_the_username(
    client: Client, apis: FakeApis
) -> None:
    apis.on(
        "accounts",
        "POST",
        "auth/token/",
        401,
        error("No se ha encontrado una cuenta activa con esas credenciales."),
    )
    response = client.post("/login/", {"username": "ana", "password": "wrong"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "No se ha encontrado una cuenta activa con esas credenciales." in html
    assert 'value="ana"' in html
    assert "servidesk_session" not in response.cookies or not client.session.get(TOKENS_KEY)


def test_signing_in_while_accounts_is_down_says_so(client: Client, apis: FakeApis) -> None:
    apis.down.add("accounts")
    response = client.post(
        "/login/", {"username": "ana", "password": "x"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Accounts and sign-in is not available right now" in html


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/login/"])
def test_next_never_leaves_the_site(client: Client, apis: FakeApis, target: str) -> None:
    apis.on("accounts", "POST", "auth/token/", body={"access": token(), "refresh": "r"})
    apis.on("accounts", "GET", "me/", body=ME)
    response = client.post("/login/", {"username": "ana", "password": "p", "next": target})
    assert response["Location"] == "/"


def test_a_page_that_needs_a_user_sends_to_sign_in_and_back(client: Client, apis: FakeApis) -> None:
    response = client.get("/tickets/?status=pending")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Ftickets%2F%3Fstatus%3Dpending"


def test_an_expiring_access_token_is_refreshed_transparently(
    client: Client, apis: FakeApis
) -> None:
    sign_in_client(client, access=token(lifetime=10), refresh="r-old")
    fresh = token(lifetime=900)
    apis.on("accounts", "POST", "auth/token/refresh/", body={"access": fresh, "refresh": "r-new"})
    apis.on("tickets", "GET", "", body=page([]))

    response = client.get("/tickets/")

    assert response.status_code == 200
    assert apis.called("accounts", "POST", "auth/token/refresh/")[0].body == {"refresh": "r-old"}
    assert apis.called("tickets", "GET", "")[0].headers["Authorization"] == f"Bearer {fresh}"
    assert client.session[TOKENS_KEY] == {"access": fresh, "refresh": "r-new"}


def test_a_refused_access_token_is_refreshed_and_the_call_retried(
    client: Client, apis: FakeApis
) -> None:
    sign_in_client(client, refresh="r-old")
    fresh = token(lifetime=901, role="client", user_id=7)
    apis.on("accounts", "POST", "auth/token/refresh/", body={"access": fresh, "refresh": "r-new"})

    def tickets(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == f"Bearer {fresh}":
            return httpx.Response(200, json=page([]))
        return httpx.Response(401, json=error("Token is invalid or expired"))

    apis.handle("tickets", "GET", "", tickets)
    assert client.get("/tickets/").status_code == 200
    assert len(apis.called("tickets", "GET", "")) == 2


def test_an_expired_refresh_token_sends_to_sign_in_with_the_page_kept(
    client: Client, apis: FakeApis
) -> None:
    sign_in_client(client, access=token(lifetime=-60), refresh="r-expired")
    apis.on("accounts", "POST", "auth/token/refresh/", 401, error("Token is invalid or expired"))

    response = client.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Ftickets%2F41%2F"
    assert TOKENS_KEY not in client.session
    follow = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert "Your session has ended" in follow.content.decode()


def test_sign_out_revokes_the_refresh_token_and_ends_the_session(
    client: Client, apis: FakeApis
) -> None:
    sign_in_client(client, refresh="r-9")
    apis.on("accounts", "POST", "auth/logout/", 204)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert apis.called("accounts", "POST", "auth/logout/")[0].body == {"refresh": "r-9"}
    assert TOKENS_KEY not in client.session


def test_forms_need_the_csrf_token(apis: FakeApis) -> None:
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/login/", {"username": "ana", "password": "x"})
    assert response.status_code == 403
    assert apis.called("accounts", "POST", "auth/token/") == []


# --- Registration -----------------------------------------------------------------------


def test_register_shows_the_api_field_errors_next_to_their_fields(
    client: Client, apis: FakeApis
) -> None:
    apis.on(
        "accounts",
        "POST",
        "auth/register/",
        400,
        error(
            "Los datos enviados no son válidos.",
            {
                "username": ["Ya existe un usuario con ese nombre."],
                "password": ["La contraseña es demasiado común."],
            },
        ),
    )
    response = client.post(
        "/register/",
        {
            "username": "ana",
            "email": "ana@example.com",
            "password": "password123",
            "password_again": "password123",
            "language": "es",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert '<ul class="errors" id="id_username-errors">' in html
    assert "Ya existe un usuario con ese nombre." in html
    assert 'aria-describedby="id_username-help id_username-errors"' in html
    assert 'aria-invalid="true"' in html
    assert "La contraseña es demasiado común." in html
    sent = apis.called("accounts", "POST", "auth/register/")[0].body
    assert sent == {
        "username": "ana",
        "email": "ana@example.com",
        "password": "password123",
        "language": "es",
    }


def test_register_checks_the_repeated_password_before_calling_accounts(
    client: Client, apis: FakeApis
) -> None:
    response = client.post(
        "/register/",
        {
            "username": "ana",
            "email": "ana@example.com",
            "password": "password123",
            "password_again": "password124",
            "language": "es",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "The two passwords do not match." in response.content.decode()
    assert apis.calls == []


def test_register_signs_the_new_client_in(client: Client, apis: FakeApis) -> None:
    apis.on("accounts", "POST", "auth/register/", 201, ME)
    apis.on("accounts", "POST", "auth/token/", body={"access": token(), "refresh": "r"})
    apis.on("accounts", "GET", "me/", body=ME)
    response = client.post(
        "/register/",
        {
            "username": "ana",
            "email": "ana@example.com",
            "full_name": "Ana Cliente",
            "phone": "+34600111222",
            "password": "a-long-passphrase",
            "password_again": "a-long-passphrase",
            "language": "en",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/tickets/"
    assert client.session[TOKENS_KEY]["refresh"] == "r"


# --- Password reset ---------------------------------------------------------------------


def test_password_reset_request_shows_the_same_answer_for_any_address(
    client: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "POST", "auth/password/reset/", 202, {"message": "Si una cuenta usa..."})
    response = client.post("/password-reset/", {"email": "who@example.com"})
    assert "Si una cuenta usa..." in response.content.decode()
    assert apis.called("accounts", "POST", "auth/password/reset/")[0].body == {
        "email": "who@example.com"
    }


def test_password_reset_confirm_posts_uid_token_and_the_new_password(
    client: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "POST", "auth/password/reset/confirm/", 204)
    response = client.post(
        "/password-reset/confirm/MTI/abc-123/",
        {"password": "a-long-passphrase", "password_again": "a-long-passphrase"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert apis.called("accounts", "POST", "auth/password/reset/confirm/")[0].body == {
        "uid": "MTI",
        "token": "abc-123",
        "new_password": "a-long-passphrase",
    }


def test_password_reset_confirm_with_a_stale_link_says_so(client: Client, apis: FakeApis) -> None:
    apis.on(
        "accounts",
        "POST",
        "auth/password/reset/confirm/",
        400,
        error("Invalid.", {"token": ["Invalid or expired."]}),
    )
    response = client.post(
        "/password-reset/confirm/MTI/abc-123/",
        {"password": "a-long-passphrase", "password_again": "a-long-passphrase"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "This link is not valid any more" in response.content.decode()


# --- Social sign-in ---------------------------------------------------------------------


def test_social_sign_in_starts_at_accounts_and_remembers_next(
    client: Client, apis: FakeApis
) -> None:
    response = client.get("/login/social/google/?next=/tickets/41/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/google/login/"
    assert client.get("/login/social/twitter/").status_code == 404


def test_social_sign_in_trades_the_code_server_side(client: Client, apis: FakeApis) -> None:
    client.get("/login/social/facebook/?next=/tickets/41/")
    apis.on("accounts", "POST", "auth/social/exchange/", body={"access": token(), "refresh": "r"})
    apis.on("accounts", "GET", "me/", body=ME)
    response = client.get("/login/social/?code=one-time-code")
    assert response.status_code == 302
    assert response["Location"] == "/tickets/41/"
    assert apis.called("accounts", "POST", "auth/social/exchange/")[0].body == {
        "code": "one-time-code"
    }
    assert client.session[TOKENS_KEY]["refresh"] == "r"


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("email_in_use", "An account already uses this email address"),
        ("unavailable", "Signing in with this provider is not available right now."),
        ("nonsense", "The provider could not sign you in."),
    ],
)
def test_social_sign_in_errors_are_explained(
    client: Client, apis: FakeApis, reason: str, shown: str
) -> None:
    response = client.get(f"/login/social/?error={reason}", HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert shown in response.content.decode()


# --- Language -------------------------------------------------------------------------


def test_the_language_switch_is_remembered_in_the_profile(client: Client, apis: FakeApis) -> None:
    sign_in_client(client)
    apis.on("accounts", "PATCH", "me/", body=ME | {"language": "en"})
    apis.on("tickets", "GET", "", body=page([]))
    response = client.post("/language/", {"language": "en", "next": "/tickets/"})
    assert response["Location"] == "/tickets/"
    assert response.cookies["servidesk_language"].value == "en"
    assert apis.called("accounts", "PATCH", "me/")[0].body == {"language": "en"}
    html = client.get("/tickets/").content.decode()
    assert '<html lang="en">' in html
    assert "My tickets" in html


def test_the_language_switch_works_without_an_account(client: Client, apis: FakeApis) -> None:
    response = client.post("/language/", {"language": "en", "next": "/"})
    assert response.cookies["servidesk_language"].value == "en"
    assert "Welcome to Servidesk" in client.get("/").content.decode()
    assert apis.calls == []
