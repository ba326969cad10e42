"""Signing in and out, the session-held token pair and its refresh, registration,
password reset, social sign-in and the language switch."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from portal.api.session import TOKENS_KEY, USER_KEY
from portal.views.auth import SOCIAL_NONCE_KEY

from tests.fakes import FakeApis, error, page, profile_json, sign_in_client, token

pytestmark = pytest.mark.django_db

ME = profile_json(language="en")


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


@pytest.mark.parametrize("refused", [400, 401, 403])
def test_a_deactivated_user_is_signed_out_at_the_next_refresh(
    client: Client, apis: FakeApis, refused: int
) -> None:
    # The access token is still within its lifetime, but tickets has had the
    # user.deactivated event and refuses it; accounts refuses the refresh token too.
    sign_in_client(client, refresh="r-1")
    apis.on("tickets", "GET", "", 401, error("This account is deactivated."))
    apis.on("accounts", "POST", "auth/token/refresh/", refused, error("User is inactive."))

    response = client.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Ftickets%2F"
    assert len(apis.called("accounts", "POST", "auth/token/refresh/")) == 1
    assert len(apis.called("tickets", "GET", "")) == 1  # not retried with the old token
    assert TOKENS_KEY not in client.session
    assert USER_KEY not in client.session
    page_after = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your session has ended. Please sign in again." in page_after
    # Nothing of the old session is left to use.
    assert client.get("/tickets/")["Location"] == "/login/?next=%2Ftickets%2F"


def test_a_demoted_admin_gets_the_role_of_the_refreshed_token(
    client: Client, apis: FakeApis
) -> None:
    sign_in_client(
        client,
        role="admin",
        user_id=1,
        username="admin",
        access=token(user_id=1, role="admin", username="admin", lifetime=10),
        refresh="r-old",
    )
    demoted = token(user_id=1, role="client", username="admin", lifetime=900)
    apis.on("accounts", "POST", "auth/token/refresh/", body={"access": demoted, "refresh": "r-2"})
    apis.on("tickets", "GET", "", body=page([]))
    apis.on("accounts", "GET", "users/", body=page([]))

    assert client.get("/tickets/").status_code == 200

    assert client.session[USER_KEY]["role"] == "client"
    assert client.session[USER_KEY]["name"] == "Admin"  # the rest of the session stays
    html = client.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'href="/admin/users/"' not in html
    assert client.get("/admin/users/").status_code == 403
    assert apis.called("accounts", "GET", "users/") == []


def test_a_locked_sign_in_keeps_the_429_and_says_how_long_to_wait(
    client: Client, apis: FakeApis
) -> None:
    def locked(request: httpx.Request) -> httpx.Response:
        body = error("Too many failed sign-in attempts. Try again in 42 seconds.", code="throttled")
        return httpx.Response(429, json=body, headers={"Retry-After": "42"})

    apis.handle("accounts", "POST", "auth/token/", locked)
    response = client.post(
        "/login/", {"username": "ana", "password": "right-or-wrong"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 429
    assert response["Retry-After"] == "42"
    assert "Too many attempts. Please wait 42 seconds and try again." in html
    assert "If you have forgotten your password, you can reset it." in html
    assert 'value="ana"' in html
    assert TOKENS_KEY not in client.session


@pytest.mark.parametrize(
    ("retry_after", "shown"),
    [
        ("", "Please wait a moment and try again."),
        ("1", "Please wait 1 second and try again."),
        ("600", "Please wait 10 minutes and try again."),
        ("Wed, 21 Oct 2015 07:28:00 GMT", "Please wait a moment and try again."),
    ],
)
def test_the_wait_of_a_429_is_read_from_retry_after(
    client: Client, apis: FakeApis, retry_after: str, shown: str
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    apis.handle(
        "accounts",
        "POST",
        "auth/token/",
        lambda request: httpx.Response(429, json=error("Throttled."), headers=headers),
    )
    response = client.post(
        "/login/", {"username": "ana", "password": "x"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert shown in response.content.decode()
    assert response.status_code == 429


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
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    assert response["Location"] == "/tickets/"
    assert client.session[TOKENS_KEY]["refresh"] == "r"
    # Signing in never waits for the address; the new client is told to confirm it.
    apis.on("tickets", "GET", "", body=page([]))
    html = client.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "We have sent a link to ana@example.com: open it to confirm the address" in html


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


def social_start(client: Client, provider: str = "google", next_path: str = "/tickets/41/") -> str:
    """Start a social login in ``client`` and return the nonce handed to accounts."""
    response = client.get(f"/login/social/{provider}/?next={next_path}")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == f"/accounts/{provider}/login/"
    return parse_qs(location.query)["web_nonce"][0]


def test_social_sign_in_starts_at_accounts_with_a_nonce_bound_to_this_browser(
    client: Client, apis: FakeApis
) -> None:
    nonce = social_start(client)
    assert len(nonce) >= 32
    assert client.session[SOCIAL_NONCE_KEY] == nonce
    assert social_start(client) != nonce  # a fresh one for each start
    assert client.get("/login/social/twitter/").status_code == 404


def test_social_sign_in_trades_the_code_and_the_nonce_server_side(
    client: Client, apis: FakeApis
) -> None:
    nonce = social_start(client, "facebook")
    apis.on("accounts", "POST", "auth/social/exchange/", body={"access": token(), "refresh": "r"})
    apis.on("accounts", "GET", "me/", body=ME)
    response = client.get(f"/login/social/?code=one-time-code&nonce={nonce}")
    assert response.status_code == 302
    assert response["Location"] == "/tickets/41/"
    assert apis.called("accounts", "POST", "auth/social/exchange/")[0].body == {
        "code": "one-time-code",
        "nonce": nonce,
    }
    assert client.session[TOKENS_KEY]["refresh"] == "r"
    assert SOCIAL_NONCE_KEY not in client.session


def test_a_social_code_from_a_flow_another_browser_started_is_refused(
    client: Client, apis: FakeApis
) -> None:
    # Login CSRF: the attacker starts a Google sign-in in their own browser, stops at the
    # return link (with their code and their nonce) and gets the victim to open it. The
    # victim's browser never started a flow (no nonce in its session), or started another.
    attacker = Client()
    attacker_nonce = social_start(attacker)
    apis.on("accounts", "POST", "auth/social/exchange/", body={"access": token(), "refresh": "r"})
    apis.on("accounts", "GET", "me/", body=ME)
    forged = f"/login/social/?code=attackers-code&nonce={attacker_nonce}"

    nothing_started = client.get(forged, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    social_start(client)  # the victim's own flow, with another nonce
    other_started = client.get(forged, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    without_nonce = client.get("/login/social/?code=attackers-code", HTTP_ACCEPT_LANGUAGE="en")

    for response in (nothing_started, other_started):
        assert response.redirect_chain[-1][0] == "/login/"
        assert "This sign-in was not started in this browser" in response.content.decode()
    assert without_nonce.status_code == 302
    assert apis.called("accounts", "POST", "auth/social/exchange/") == []
    assert TOKENS_KEY not in client.session


def test_a_social_nonce_is_single_use(client: Client, apis: FakeApis) -> None:
    nonce = social_start(client)
    apis.on("accounts", "POST", "auth/social/exchange/", 400, error("Invalid code."))
    client.get(f"/login/social/?code=first&nonce={nonce}")
    # Replaying the same return link (the nonce was used up by the first try).
    response = client.get(f"/login/social/?code=second&nonce={nonce}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert [c.body["code"] for c in apis.called("accounts", "POST", "auth/social/exchange/")] == [
        "first"
    ]


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
