"""Google and Facebook sign-in through allauth, the providers' HTTP calls mocked.

As allauth tests its own providers: start the login, read the redirect to the provider,
then call our callback with ``code`` and ``state`` while ``requests`` answers with canned
responses (token endpoint, then profile). The flow must end at web with a one-time code
that ``auth/social/exchange/`` turns into the same token pair a password login gives.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from servidesk_testing import test_keypair as keypair

from servidesk_shared.outbox.models import OutboxMessage
from tests.factories import PASSWORD, ClientFactory
from users.models import Role, SocialLoginCode, User

EXCHANGE = "/api/accounts/auth/social/exchange/"
WEB_COMPLETE = "http://web.test/login/social/"
#: What web keeps in its session and sends along as ``web_nonce``.
NONCE = "web-nonce-0123456789abcdefghijklmnop"

pytestmark = pytest.mark.django_db


class MockedResponse:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code = status
        self.text = json.dumps(body)
        self.content = self.text.encode()
        self.headers = {"content-type": "application/json"}
        self.ok = status < 400

    def json(self) -> Any:
        return json.loads(self.text)

    def raise_for_status(self) -> None:
        if not self.ok:
            raise requests.HTTPError(f"{self.status_code}", response=self)  # type: ignore[arg-type]


@contextmanager
def mocked_response(*responses: MockedResponse) -> Iterator[list[tuple[str, str]]]:
    """``requests`` answers with ``responses`` in order; yields the calls made."""
    queue = list(responses)
    calls: list[tuple[str, str]] = []

    def fake(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> MockedResponse:
        calls.append((method.upper(), url))
        assert queue, f"unexpected request {method} {url}"
        return queue.pop(0)

    with patch("requests.Session.request", fake):
        yield calls
    assert not queue, f"responses not used: {queue}"


def google_id_token(*, sub: str, email: str, verified: bool = True, name: str = "") -> str:
    """An ID token as Google's token endpoint returns it (checked for iss, aud, exp)."""
    now = int(time.time())
    claims = {
        "iss": "https://accounts.google.com",
        "aud": "google-client-id",
        "sub": sub,
        "email": email,
        "email_verified": verified,
        "name": name,
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, keypair().private_pem, algorithm="RS256", headers={"kid": "g1"})


def google_login(
    browser: Client,
    *,
    sub: str = "108204268033311374519",
    email: str,
    verified: bool = True,
    name: str = "Gloria Fuentes",
    start_params: dict[str, str] | None = None,
) -> Any:
    """The whole Google round trip; returns the response of our callback."""
    start = browser.get("/accounts/google/login/", {"web_nonce": NONCE, **(start_params or {})})
    assert start.status_code == 302, start.content
    target = urlsplit(start["Location"])
    assert target.netloc == "accounts.google.com"
    query = parse_qs(target.query)
    assert query["redirect_uri"][0].endswith("/accounts/google/login/callback/")
    assert query["code_challenge_method"] == ["S256"]
    token_response = MockedResponse(
        200,
        {
            "access_token": "ya29.test",
            "expires_in": 3599,
            "token_type": "Bearer",
            "id_token": google_id_token(sub=sub, email=email, verified=verified, name=name),
        },
    )
    with mocked_response(token_response) as calls:
        response = browser.get(
            "/accounts/google/login/callback/", {"code": "test-code", "state": query["state"][0]}
        )
    assert calls == [("POST", "https://oauth2.googleapis.com/token")]
    return response


def facebook_login(
    browser: Client, *, email: str, fb_id: str = "10154", name: str = "Félix"
) -> Any:
    start = browser.get("/accounts/facebook/login/", {"web_nonce": NONCE})
    assert start.status_code == 302, start.content
    query = parse_qs(urlsplit(start["Location"]).query)
    assert "facebook.com" in start["Location"]
    with mocked_response(
        MockedResponse(200, {"access_token": "fb-token", "expires_in": 3600}),
        MockedResponse(200, {"id": fb_id, "email": email, "name": name}),
    ) as calls:
        response = browser.get(
            "/accounts/facebook/login/callback/", {"code": "test-code", "state": query["state"][0]}
        )
    assert [method for method, _ in calls] == ["GET", "GET"]
    assert calls[1][1].endswith("/me")
    return response


def finish(browser: Client, response: Any) -> dict[str, list[str]]:
    """Follow our redirects to web; return web's query parameters."""
    while response.status_code == 302 and not response["Location"].startswith("http://web.test"):
        response = browser.get(response["Location"])
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(WEB_COMPLETE), response["Location"]
    return parse_qs(urlsplit(response["Location"]).query)


def exchange(code: str, nonce: str = NONCE) -> Any:
    return APIClient().post(EXCHANGE, {"code": code, "nonce": nonce})


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(
        token,
        keypair().public_pem,
        algorithms=["RS256"],
        audience="servidesk",
        issuer="servidesk-accounts",
    )


class TestGoogle:
    def test_a_new_person_becomes_a_client_and_gets_a_token_pair(self, client: Client) -> None:
        params = finish(client, google_login(client, email="Gloria@Gmail.com"))
        assert set(params) == {"code", "nonce"}
        assert params["nonce"] == [NONCE]
        code = params["code"][0]
        response = exchange(code)
        assert response.status_code == 200, response.json()
        pair = response.json()
        assert set(pair) == {"access", "refresh"}
        user = User.objects.get(email="gloria@gmail.com")
        assert user.role == Role.CLIENT
        assert user.full_name == "Gloria Fuentes"
        assert user.email_verified
        assert not user.has_usable_password()
        access = claims(pair["access"])
        assert access["user_id"] == str(user.pk)
        assert access["role"] == "client"
        assert access["username"] == user.username
        assert (
            APIClient()
            .post("/api/accounts/auth/token/refresh/", {"refresh": pair["refresh"]})
            .status_code
            == 200
        )
        assert OutboxMessage.objects.filter(
            event_type="user.registered", aggregate_id=str(user.pk)
        ).exists()

    def test_the_code_works_once(self, client: Client) -> None:
        code = finish(client, google_login(client, email="gloria@gmail.com"))["code"][0]
        assert exchange(code).status_code == 200
        again = exchange(code)
        assert again.status_code == 401
        assert set(again.json()) == {"message", "extra"}

    def test_the_code_expires(self, client: Client) -> None:
        code = finish(client, google_login(client, email="gloria@gmail.com"))["code"][0]
        SocialLoginCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert exchange(code).status_code == 401

    def test_only_a_hash_of_the_code_is_stored(self, client: Client) -> None:
        code = finish(client, google_login(client, email="gloria@gmail.com"))["code"][0]
        stored = SocialLoginCode.objects.get()
        assert code not in stored.code_hash
        assert len(code) >= 40

    @pytest.mark.parametrize("code", ["", "made-up", "x" * 129])
    def test_bad_codes(self, code: str) -> None:
        assert exchange(code).status_code in {400, 401}

    def test_the_browser_session_ends_with_the_flow(self, client: Client) -> None:
        finish(client, google_login(client, email="gloria@gmail.com"))
        assert "_auth_user_id" not in client.session

    def test_no_tokens_in_any_url(self, client: Client) -> None:
        response = google_login(client, email="gloria@gmail.com")
        locations = []
        while response.status_code == 302:
            locations.append(response["Location"])
            if response["Location"].startswith("http://web.test"):
                break
            response = client.get(response["Location"])
        assert all("eyJ" not in location for location in locations), locations

    def test_a_next_parameter_cannot_redirect_elsewhere(self, client: Client) -> None:
        response = google_login(
            client, email="gloria@gmail.com", start_params={"next": "/api/accounts/me/"}
        )
        assert "code" in finish(client, response)

    def test_a_verified_email_signs_into_the_existing_account(
        self, client: Client, client_user: User
    ) -> None:
        User.objects.filter(pk=client_user.pk).update(email_verified=True)
        params = finish(client, google_login(client, email="carla@example.com"))
        pair = exchange(params["code"][0]).json()
        assert claims(pair["access"])["user_id"] == str(client_user.pk)
        assert SocialAccount.objects.get(provider="google").user == client_user
        assert User.objects.count() == 1

    def test_an_unconfirmed_account_is_never_joined_silently(
        self, client: Client, client_user: User
    ) -> None:
        """Whoever registered this address may not own the inbox, and the inbox's owner
        may not own the password: the flow stops, the account stays as it is (the inbox's
        owner can take it back with a password reset, then sign in and link)."""
        squatter = (
            APIClient()
            .post("/api/accounts/auth/token/", {"username": "carla", "password": PASSWORD})
            .json()
        )
        params = finish(client, google_login(client, email="carla@example.com"))
        assert params == {"error": ["email_in_use"]}
        assert not SocialAccount.objects.exists()
        assert User.objects.count() == 1
        client_user.refresh_from_db()
        assert client_user.check_password(PASSWORD)
        assert not client_user.email_verified
        assert not BlacklistedToken.objects.filter(
            token__jti=claims(squatter["refresh"])["jti"]
        ).exists()

    def test_a_proven_email_keeps_its_password(self, client: Client) -> None:
        user = ClientFactory(email="proven@example.com", email_verified=True)
        finish(client, google_login(client, email="proven@example.com"))
        user.refresh_from_db()
        assert user.check_password(PASSWORD)

    def test_an_unverified_email_cannot_take_over_an_account(
        self, client: Client, client_user: User
    ) -> None:
        params = finish(client, google_login(client, email="carla@example.com", verified=False))
        assert params == {"error": ["email_in_use"]}
        assert not SocialAccount.objects.exists()
        client_user.refresh_from_db()
        assert client_user.check_password(PASSWORD)

    def test_a_connected_account_signs_in_again(self, client: Client) -> None:
        first = finish(client, google_login(client, email="gloria@gmail.com"))
        user_id = claims(exchange(first["code"][0]).json()["access"])["user_id"]
        browser = Client()
        second = finish(browser, google_login(browser, email="gloria@gmail.com"))
        assert claims(exchange(second["code"][0]).json()["access"])["user_id"] == user_id
        assert User.objects.count() == 1

    def test_an_inactive_account_is_refused(self, client: Client) -> None:
        ClientFactory(email="gone@example.com", is_active=False)
        params = finish(client, google_login(client, email="gone@example.com"))
        assert params == {"error": ["inactive"]}

    def test_an_account_deactivated_after_connecting_is_refused(self, client: Client) -> None:
        finish(client, google_login(client, email="gloria@gmail.com"))
        User.objects.filter(email="gloria@gmail.com").update(is_active=False)
        browser = Client()
        assert finish(browser, google_login(browser, email="gloria@gmail.com")) == {
            "error": ["inactive"]
        }

    def test_cancelling_at_the_provider(self, client: Client) -> None:
        start = client.get("/accounts/google/login/", {"web_nonce": NONCE})
        state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
        response = client.get(
            "/accounts/google/login/callback/", {"error": "access_denied", "state": state}
        )
        assert finish(client, response) == {"error": ["cancelled"]}

    def test_a_provider_failure(self, client: Client) -> None:
        start = client.get("/accounts/google/login/", {"web_nonce": NONCE})
        state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
        with mocked_response(MockedResponse(400, {"error": "invalid_grant"})):
            response = client.get(
                "/accounts/google/login/callback/", {"code": "bad", "state": state}
            )
        assert finish(client, response) == {"error": ["failed"]}
        assert not User.objects.exists()

    def test_a_forged_state_is_refused(self, client: Client) -> None:
        client.get("/accounts/google/login/", {"web_nonce": NONCE})
        response = client.get(
            "/accounts/google/login/callback/", {"code": "test-code", "state": "forged"}
        )
        assert finish(client, response) == {"error": ["failed"]}

    def test_the_session_cookie_does_not_clash_with_web(self, client: Client) -> None:
        """web keeps its nonce in ``servidesk_session`` (and ``servidesk_csrftoken``) on
        the same host; accounts' own cookies have other names, so neither overwrites the
        other during the flow."""
        response = client.get("/accounts/google/login/", {"web_nonce": NONCE})
        assert "servidesk_accounts_session" in response.cookies
        assert not {"sessionid", "servidesk_session", "servidesk_csrftoken"} & set(response.cookies)


class TestFacebook:
    def test_a_new_person_becomes_a_client(self, client: Client) -> None:
        params = finish(client, facebook_login(client, email="felix@example.org"))
        pair = exchange(params["code"][0]).json()
        user = User.objects.get(email="felix@example.org")
        assert claims(pair["access"])["user_id"] == str(user.pk)
        assert user.role == Role.CLIENT
        assert not user.email_verified  # allauth does not trust Facebook's emails

    def test_an_email_facebook_does_not_vouch_for_cannot_join_an_account(
        self, client: Client, client_user: User
    ) -> None:
        assert finish(client, facebook_login(client, email="carla@example.com")) == {
            "error": ["email_in_use"]
        }

    def test_no_email_no_account(self, client: Client) -> None:
        start = client.get("/accounts/facebook/login/", {"web_nonce": NONCE})
        state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
        with mocked_response(
            MockedResponse(200, {"access_token": "fb-token", "expires_in": 3600}),
            MockedResponse(200, {"id": "10155", "name": "No Mail"}),
        ):
            response = client.get(
                "/accounts/facebook/login/callback/", {"code": "c", "state": state}
            )
        assert finish(client, response) == {"error": ["email_required"]}
        assert not User.objects.exists()


def test_configured_providers_are_listed(api_client: APIClient) -> None:
    response = api_client.get("/api/accounts/auth/social/providers/")
    assert response.status_code == 200
    assert response.json() == [
        {"id": "google", "name": "Google", "login_url": "/accounts/google/login/"},
        {"id": "facebook", "name": "Facebook", "login_url": "/accounts/facebook/login/"},
    ]


def test_unconfigured_providers_are_not_listed(api_client: APIClient, settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "facebook": {**settings.SOCIALACCOUNT_PROVIDERS["facebook"], "APPS": []},
    }
    ids = [p["id"] for p in api_client.get("/api/accounts/auth/social/providers/").json()]
    assert ids == ["google"]


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/login/",
        "/accounts/3rdparty/signup/",
        "/accounts/3rdparty/",
        "/accounts/inactive/",
    ],
)
def test_allauth_pages_lead_back_to_web(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(WEB_COMPLETE)


def test_the_completion_page_without_a_login(client: Client) -> None:
    assert finish(client, client.get("/accounts/social/complete/")) == {"error": ["failed"]}


def test_an_unconfigured_provider_sends_the_browser_back(client: Client, settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {
        **settings.SOCIALACCOUNT_PROVIDERS,
        "facebook": {**settings.SOCIALACCOUNT_PROVIDERS["facebook"], "APPS": []},
    }
    response = client.get("/accounts/facebook/login/", {"web_nonce": NONCE})
    assert finish(client, response) == {"error": ["unavailable"]}


def test_a_username_differing_only_in_case_is_not_reused(client: Client) -> None:
    ClientFactory(username="Gloria", email="someone@example.com")
    params = finish(client, google_login(client, email="gloria@gmail.com"))
    assert "code" in params
    user = User.objects.get(email="gloria@gmail.com")
    assert user.username.lower() != "gloria"


def google_round_trip(browser: Client, start: Any, *, sub: str, email: str) -> Any:
    """From a redirect to Google (``start``), through our callback; returns its response."""
    assert start.status_code == 302, start.content
    target = urlsplit(start["Location"])
    assert target.netloc == "accounts.google.com", start["Location"]
    state = parse_qs(target.query)["state"][0]
    token_response = MockedResponse(
        200,
        {
            "access_token": "ya29.test",
            "expires_in": 3599,
            "token_type": "Bearer",
            "id_token": google_id_token(sub=sub, email=email),
        },
    )
    with mocked_response(token_response):
        return browser.get(
            "/accounts/google/login/callback/", {"code": "test-code", "state": state}
        )


class TestTheTakeoverOfTheIssue:
    """Sign up with Google, set the victim's email and your phone, wait for the victim to
    "Continue with Google", keep access through your own Google link."""

    def test_the_victims_google_sign_in_never_reaches_the_attackers_account(self) -> None:
        attacker_browser = Client()
        params = finish(
            attacker_browser,
            google_login(attacker_browser, sub="attacker-sub", email="mallory@gmail.com"),
        )
        attacker_pair = exchange(params["code"][0]).json()
        attacker_id = claims(attacker_pair["access"])["user_id"]
        attacker_api = APIClient()
        attacker_api.credentials(HTTP_AUTHORIZATION=f"Bearer {attacker_pair['access']}")
        # No password to give (a social sign-up): the address only waits for confirmation.
        response = attacker_api.patch(
            "/api/accounts/me/", {"email": "victim@gmail.com", "phone": "+34600999888"}
        )
        assert response.status_code == 200, response.json()
        assert response.json()["email"] == "mallory@gmail.com"
        assert response.json()["pending_email"] == "victim@gmail.com"

        victim_browser = Client()
        params = finish(
            victim_browser,
            google_login(victim_browser, sub="victim-sub", email="victim@gmail.com"),
        )
        victim_id = claims(exchange(params["code"][0]).json()["access"])["user_id"]
        assert victim_id != attacker_id
        victim = User.objects.get(pk=victim_id)
        assert victim.email == "victim@gmail.com"
        assert victim.phone == ""  # nothing of the attacker's came along
        assert SocialAccount.objects.get(uid="victim-sub").user_id == victim.pk


class TestLoginCsrf:
    """A code from a flow another browser started (the attacker's own sign-in, handed to
    the victim as ``/login/social/?code=...``) must not sign the victim's browser in."""

    def test_a_code_exchanged_with_another_browsers_nonce_is_refused(self) -> None:
        attacker = Client()
        params = finish(attacker, google_login(attacker, email="mallory@gmail.com"))
        victims_nonce = "victims-own-nonce-kept-by-web-0123"
        response = exchange(params["code"][0], nonce=victims_nonce)
        assert response.status_code == 401
        assert response.json()["message"] == exchange("made-up-code").json()["message"]
        # The right nonce still works: the code was not spent by the refusal.
        assert exchange(params["code"][0]).status_code == 200

    def test_a_missing_nonce_is_refused(self, client: Client) -> None:
        code = finish(client, google_login(client, email="gloria@gmail.com"))["code"][0]
        response = APIClient().post(EXCHANGE, {"code": code})
        assert response.status_code == 400
        assert "nonce" in response.json()["extra"]["fields"]
        assert exchange(code, nonce="").status_code == 400

    def test_only_a_hash_of_the_nonce_is_stored(self, client: Client) -> None:
        finish(client, google_login(client, email="gloria@gmail.com"))
        stored = SocialLoginCode.objects.get()
        assert stored.nonce_hash
        assert NONCE not in stored.nonce_hash

    @pytest.mark.parametrize("params", [{}, {"web_nonce": "short"}, {"web_nonce": "a b" * 10}])
    def test_a_flow_started_without_web_nonce_goes_back(
        self, client: Client, params: dict[str, str]
    ) -> None:
        response = client.get("/accounts/google/login/", params)
        assert finish(client, response) == {"error": ["failed"]}

    def test_the_redirect_process_is_not_offered(self, client: Client) -> None:
        response = client.get(
            "/accounts/google/login/", {"web_nonce": NONCE, "process": "redirect"}
        )
        assert finish(client, response) == {"error": ["failed"]}


class TestNoAutomaticLinks:
    @pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ADMIN])
    def test_staff_accounts_are_never_linked_by_email(self, client: Client, role: str) -> None:
        staff = ClientFactory(email="staff@example.com", role=role, email_verified=True)
        params = finish(client, google_login(client, email="staff@example.com"))
        assert params == {"error": ["email_in_use"]}
        assert not SocialAccount.objects.exists()
        staff.refresh_from_db()
        assert staff.check_password(PASSWORD)

    def test_linking_by_email_copies_nothing(self, client: Client) -> None:
        user = ClientFactory(
            email="proven@example.com",
            email_verified=True,
            phone="+34600111222",
            phone_verified=True,
            notify_sms=True,
            notify_email=False,
            full_name="Prudencia",
        )
        finish(client, google_login(client, email="proven@example.com", name="Someone Else"))
        user.refresh_from_db()
        assert (user.phone, user.phone_verified, user.notify_sms, user.notify_email) == (
            "+34600111222",
            True,
            True,
            False,
        )
        assert user.full_name == "Prudencia"


LINK = "/api/accounts/me/social/link/"
CONFIRM = "/api/accounts/me/social/link/confirm/"
PROFILE = "http://web.test/profile/"
#: The nonce web keeps in the session of the browser that starts a link.
LINK_NONCE = "web-link-nonce-0123456789abcdefghijkl"


def bearer_client(user: User) -> APIClient:
    from users.tokens import token_pair_for  # noqa: PLC0415

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_for(user).access}")
    return api


def back_at_profile(browser: Client, response: Any) -> dict[str, list[str]]:
    while response.status_code == 302 and not response["Location"].startswith("http://web.test"):
        response = browser.get(response["Location"])
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(PROFILE), response["Location"]
    return parse_qs(urlsplit(response["Location"]).query)


def link_url(user: User) -> str:
    """What ``me/social/link/`` answers ``user``."""
    response = bearer_client(user).post(LINK, {"provider": "google"})
    assert response.status_code == 200, response.json()
    url: str = response.json()["url"]
    assert url.startswith("/accounts/social/link/?token=")
    return url


def with_nonce(url: str, nonce: str = LINK_NONCE) -> str:
    """The link URL as web sends the browser to it."""
    return f"{url}&web_nonce={nonce}"


def link_google(
    browser: Client,
    user: User,
    *,
    sub: str,
    email: str,
    url: str | None = None,
    nonce: str = LINK_NONCE,
) -> dict[str, list[str]]:
    """Open ``user``'s link URL (or ``url``) in ``browser`` and log in at Google as
    ``sub``; returns the query of the profile the flow ends at."""
    start = browser.get(with_nonce(url or link_url(user), nonce))
    while start.status_code == 302 and start["Location"].startswith("/accounts/"):
        start = browser.get(start["Location"])
    callback = google_round_trip(browser, start, sub=sub, email=email)
    return back_at_profile(browser, callback)


def confirm(user: User, code: str, nonce: str = LINK_NONCE) -> Any:
    """What web's profile does with ``?link_code=``, as its signed-in ``user``."""
    return bearer_client(user).post(CONFIRM, {"code": code, "nonce": nonce})


class TestLinkFromTheProfile:
    def test_a_technician_links_google_and_then_signs_in_with_it(self, client: Client) -> None:
        tech = ClientFactory(
            email="tech@example.com",
            role=Role.TECHNICIAN,
            phone="+34600111222",
            notify_sms=True,
            notify_email=False,
        )
        params = link_google(client, tech, sub="tech-sub", email="tech.personal@gmail.com")
        assert list(params) == ["link_code"]
        assert not SocialAccount.objects.exists()  # nothing until web confirms
        assert "_auth_user_id" not in client.session  # the browser was never signed in here
        response = confirm(tech, params["link_code"][0])
        assert response.status_code == 200, response.json()
        assert response.json() == {"provider": "google"}
        assert SocialAccount.objects.get(uid="tech-sub").user_id == tech.pk
        tech.refresh_from_db()
        assert (tech.phone, tech.notify_sms, tech.notify_email) == ("+34600111222", True, False)
        assert tech.email == "tech@example.com"
        browser = Client()
        params = finish(browser, google_login(browser, sub="tech-sub", email="x@gmail.com"))
        assert claims(exchange(params["code"][0]).json()["access"])["user_id"] == str(tech.pk)

    def test_a_provider_login_of_another_user_is_not_moved(self, client: Client) -> None:
        first = Client()
        finish(first, google_login(first, sub="taken-sub", email="owner@gmail.com"))
        owner = User.objects.get(email="owner@gmail.com")
        other = ClientFactory(email="other@example.com")
        params = link_google(client, other, sub="taken-sub", email="owner@gmail.com")
        assert params == {"link_error": ["already_linked"]}
        assert SocialAccount.objects.get(uid="taken-sub").user_id == owner.pk
        assert "_auth_user_id" not in client.session

    def test_the_link_url_works_once(self, client: Client) -> None:
        url = with_nonce(link_url(ClientFactory()))
        assert client.get(url)["Location"].startswith("/accounts/google/login/")
        assert back_at_profile(Client(), Client().get(url)) == {"link_error": ["expired"]}

    def test_the_link_url_expires(self, client: Client) -> None:
        from users.models import SocialLinkToken  # noqa: PLC0415

        url = with_nonce(link_url(ClientFactory()))
        SocialLinkToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert back_at_profile(client, client.get(url)) == {"link_error": ["expired"]}

    def test_a_made_up_token(self, client: Client) -> None:
        response = client.get("/accounts/social/link/", {"token": "made-up", "web_nonce": NONCE})
        assert back_at_profile(client, response) == {"link_error": ["expired"]}

    def test_connect_cannot_be_started_without_a_link(self, client: Client) -> None:
        response = client.get("/accounts/google/login/", {"process": "connect"})
        assert finish(client, response) == {"error": ["failed"]}

    def test_cancelling_a_link_goes_back_to_the_profile(self, client: Client) -> None:
        url = with_nonce(link_url(ClientFactory()))
        start = client.get(client.get(url)["Location"])
        state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
        response = client.get(
            "/accounts/google/login/callback/", {"error": "access_denied", "state": state}
        )
        assert back_at_profile(client, response) == {"link_error": ["cancelled"]}
        assert not SocialAccount.objects.exists()

    def test_an_unconfigured_provider_is_a_400(self, settings: Any) -> None:
        settings.SOCIALACCOUNT_PROVIDERS = {
            **settings.SOCIALACCOUNT_PROVIDERS,
            "facebook": {**settings.SOCIALACCOUNT_PROVIDERS["facebook"], "APPS": []},
        }
        response = bearer_client(ClientFactory()).post(LINK, {"provider": "facebook"})
        assert response.status_code == 400
        assert "provider" in response.json()["extra"]["fields"]

    def test_signed_in_only(self) -> None:
        assert APIClient().post(LINK, {"provider": "google"}).status_code == 401


def pending_code(browser: Client, user: User, *, sub: str, email: str) -> str:
    """The ``link_code`` a link flow of ``user`` ends with, as ``sub`` at Google."""
    return link_google(browser, user, sub=sub, email=email)["link_code"][0]


class TestLinkCsrf:
    """An attacker asks ``me/social/link/`` for a link URL for their OWN account and gets
    a victim to open it: the victim's Google login must not end up linked to the
    attacker's account (the victim's next "Continue with Google" would sign them in as
    the attacker)."""

    def test_the_victims_browser_finishing_the_attackers_link_links_nothing(self) -> None:
        attacker = ClientFactory(email="mallory@example.com", role=Role.TECHNICIAN)
        victim = ClientFactory(email="victim@example.com", email_verified=True)
        url = link_url(attacker)  # the attacker's own link, never opened by the attacker
        attackers_nonce = "nonce-the-attacker-put-in-the-url-0123"

        victim_browser = Client()
        params = link_google(
            victim_browser,
            attacker,
            sub="victim-sub",
            email="victim@gmail.com",
            url=url,
            nonce=attackers_nonce,
        )
        assert list(params) == ["link_code"]
        assert not SocialAccount.objects.exists()  # the callback linked nothing
        # Web, signed in as the victim, confirms with the victim's session (which never
        # started a link: no nonce of its own).
        response = confirm(victim, params["link_code"][0], nonce="")
        assert response.status_code == 400
        assert response.json()["extra"]["code"] == "not_yours"
        assert not SocialAccount.objects.exists()
        # Used up by that refusal: the code, should it leak, is of no use to the attacker.
        response = confirm(attacker, params["link_code"][0], nonce=attackers_nonce)
        assert response.status_code == 400
        assert response.json()["extra"]["code"] == "expired"
        assert not SocialAccount.objects.exists()
        # The victim's "Continue with Google" reaches the victim's own account.
        browser = Client()
        params = finish(browser, google_login(browser, sub="victim-sub", email="victim@gmail.com"))
        user_id = claims(exchange(params["code"][0]).json()["access"])["user_id"]
        assert user_id != str(attacker.pk)

    def test_the_refusal_is_in_the_users_language(self) -> None:
        attacker = ClientFactory(role=Role.TECHNICIAN)
        code = pending_code(Client(), attacker, sub="victim-sub", email="v@gmail.com")
        api = bearer_client(ClientFactory())
        english = api.post(CONFIRM, {"code": code, "nonce": ""}, HTTP_ACCEPT_LANGUAGE="en")
        assert english.json()["message"] == (
            "This link was started from another account, so nothing was linked."
        )
        code = pending_code(Client(), attacker, sub="victim-sub", email="v@gmail.com")
        spanish = api.post(CONFIRM, {"code": code, "nonce": ""}, HTTP_ACCEPT_LANGUAGE="es")
        assert spanish.json()["message"] != english.json()["message"]

    def test_the_attackers_own_completion_works(self, client: Client) -> None:
        attacker = ClientFactory(role=Role.TECHNICIAN)
        code = pending_code(client, attacker, sub="own-sub", email="own@gmail.com")
        assert confirm(attacker, code).status_code == 200
        assert SocialAccount.objects.get(uid="own-sub").user_id == attacker.pk

    def test_a_code_finished_in_another_browser_is_refused(self, client: Client) -> None:
        """The same user, but web's session in that browser did not start the link (its
        nonce differs): refused, and used up."""
        tech = ClientFactory(role=Role.TECHNICIAN)
        code = pending_code(client, tech, sub="tech-sub", email="tech@gmail.com")
        response = confirm(tech, code, nonce="another-browsers-nonce-0123456789")
        assert response.status_code == 400
        assert response.json()["extra"]["code"] == "other_browser"
        assert confirm(tech, code).json()["extra"]["code"] == "expired"
        assert not SocialAccount.objects.exists()

    @pytest.mark.parametrize("params", [{}, {"web_nonce": "short"}, {"web_nonce": "a b" * 10}])
    def test_a_link_opened_without_webs_nonce_goes_back_unspent(
        self, client: Client, params: dict[str, str]
    ) -> None:
        url = link_url(ClientFactory())
        query = parse_qs(urlsplit(url).query)
        response = client.get("/accounts/social/link/", {"token": query["token"][0], **params})
        assert back_at_profile(client, response) == {"link_error": ["failed"]}
        assert Client().get(with_nonce(url))["Location"].startswith("/accounts/google/login/")

    def test_the_code_works_once(self, client: Client) -> None:
        tech = ClientFactory(role=Role.TECHNICIAN)
        code = pending_code(client, tech, sub="tech-sub", email="tech@gmail.com")
        assert confirm(tech, code).status_code == 200
        response = confirm(tech, code)
        assert response.status_code == 400
        assert response.json()["extra"]["code"] == "expired"

    def test_the_code_expires(self, client: Client) -> None:
        from users.models import SocialLinkPending  # noqa: PLC0415

        tech = ClientFactory(role=Role.TECHNICIAN)
        code = pending_code(client, tech, sub="tech-sub", email="tech@gmail.com")
        SocialLinkPending.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert confirm(tech, code).json()["extra"]["code"] == "expired"
        assert not SocialAccount.objects.exists()

    def test_only_hashes_are_stored(self, client: Client) -> None:
        from users.models import SocialLinkPending  # noqa: PLC0415

        tech = ClientFactory(role=Role.TECHNICIAN)
        code = pending_code(client, tech, sub="tech-sub", email="tech@gmail.com")
        stored = SocialLinkPending.objects.get()
        assert (stored.user_id, stored.provider, stored.uid) == (tech.pk, "google", "tech-sub")
        assert code not in stored.code_hash
        assert LINK_NONCE not in stored.nonce_hash

    def test_a_provider_login_linked_to_someone_else_meanwhile_is_not_moved(
        self, client: Client
    ) -> None:
        tech = ClientFactory(role=Role.TECHNICIAN)
        code = pending_code(client, tech, sub="race-sub", email="race@gmail.com")
        first = Client()
        finish(first, google_login(first, sub="race-sub", email="race@gmail.com"))
        owner = SocialAccount.objects.get(uid="race-sub").user_id
        response = confirm(tech, code)
        assert response.status_code == 400
        assert response.json()["extra"]["code"] == "already_linked"
        assert SocialAccount.objects.get(uid="race-sub").user_id == owner != tech.pk

    def test_linking_again_what_is_already_yours(self, client: Client) -> None:
        tech = ClientFactory(role=Role.TECHNICIAN)
        code = pending_code(client, tech, sub="tech-sub", email="tech@gmail.com")
        assert confirm(tech, code).status_code == 200
        code = pending_code(Client(), tech, sub="tech-sub", email="tech@gmail.com")
        assert confirm(tech, code).json() == {"provider": "google"}
        assert SocialAccount.objects.filter(user_id=tech.pk).count() == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"nonce": LINK_NONCE}, "code"),
            ({"code": "x"}, "nonce"),
            ({"code": "x" * 129, "nonce": ""}, "code"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, body: dict[str, str], field: str) -> None:
        response = bearer_client(ClientFactory()).post(CONFIRM, body)
        assert response.status_code == 400
        assert field in response.json()["extra"]["fields"]

    def test_signed_in_only(self) -> None:
        assert APIClient().post(CONFIRM, {"code": "x", "nonce": LINK_NONCE}).status_code == 401
