"""Failed sign-ins: one counter per account and one per client address, a doubling wait.

The throttles are off here (they have their own tests), so what answers 429 is the
lockout alone. Time is moved by patching ``time.time``, which the cache reads as well.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.core.cache import caches
from django.core.management import call_command
from rest_framework.test import APIClient
from servidesk_testing.contract import assert_error_shape

from tests.factories import PASSWORD
from tests.test_passwords import link_parts
from users import lockout
from users.models import User

pytestmark = pytest.mark.django_db

TOKEN = "/api/accounts/auth/token/"


@pytest.fixture(autouse=True)
def _throttles_off(settings: Any) -> None:
    rest = {**settings.REST_FRAMEWORK}
    rest["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(rest["DEFAULT_THROTTLE_RATES"])
    settings.REST_FRAMEWORK = rest


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """``clock(seconds)`` moves the time forward."""
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def login(
    identifier: str, password: str = PASSWORD, address: str = "203.0.113.7", language: str = "es"
) -> Any:
    api = APIClient(HTTP_X_FORWARDED_FOR=address, HTTP_ACCEPT_LANGUAGE=language)
    return api.post(TOKEN, {"username": identifier, "password": password})


def reset_link(django_capture_on_commit_callbacks: Any, email: str) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        APIClient().post("/api/accounts/auth/password/reset/", {"email": email})
    return mail.outbox[-1]


def fail(identifier: str, address: str = "203.0.113.7") -> int:
    return int(login(identifier, "wrong-password", address).status_code)


class TestPerAccount:
    def test_username_and_email_share_one_counter(self, client_user: User, settings: Any) -> None:
        """Alternating the two names must not give an attacker twice the free tries."""
        settings.LOGIN_FAILURE_LIMIT = 3
        assert fail("carla") == 401
        assert fail("carla@example.com") == 401
        assert fail(" CARLA ") == 401
        assert login("carla").status_code == 429
        assert login("Carla@Example.com").status_code == 429

    def test_an_unknown_identifier_answers_exactly_like_an_account(
        self, client_user: User, settings: Any
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 2
        known = [login("carla", "wrong-password") for _ in range(4)]
        unknown = [login("ghost", "wrong-password", "198.51.100.1") for _ in range(4)]
        assert [r.status_code for r in known] == [r.status_code for r in unknown]
        assert [r.status_code for r in known] == [401, 401, 429, 429]
        assert [r.json() for r in known] == [r.json() for r in unknown]
        assert [r["Retry-After"] for r in known[2:]] == [r["Retry-After"] for r in unknown[2:]]

    def test_the_wait_is_logged_with_the_account(
        self, client_user: User, settings: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 2
        with caplog.at_level(logging.WARNING, logger="users.lockout"):
            fail("carla")
            assert not caplog.records
            fail("carla@example.com")
        [record] = caplog.records
        assert "sign-in locked for 1s after 2 failures of one account" in record.getMessage()
        assert record.lockout_id == str(client_user.pk)  # type: ignore[attr-defined]

    def test_other_accounts_are_not_affected(self, client_user: User, settings: Any) -> None:
        settings.LOGIN_FAILURE_LIMIT = 1
        fail("ghost", address="198.51.100.1")
        assert login("carla", address="198.51.100.2").status_code == 200


class TestWait:
    def test_each_failure_doubles_the_wait(
        self, client_user: User, settings: Any, clock: Callable[[float], None]
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 2
        assert fail("carla") == 401
        waits = []
        for _ in range(5):
            assert fail("carla") == 401
            refused = login("carla")
            assert refused.status_code == 429
            waits.append(int(refused["Retry-After"]))
            clock(waits[-1])
        assert waits == [1, 2, 4, 8, 16]

    def test_the_wait_is_capped(
        self, client_user: User, settings: Any, clock: Callable[[float], None]
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 1
        settings.LOGIN_LOCKOUT_SECONDS = 60
        for _ in range(12):
            assert fail("carla") == 401
            clock(61)
        fail("carla")
        assert int(login("carla")["Retry-After"]) == 60
        assert lockout.delay_after(10_000, limit=5) == 60

    def test_the_right_password_waits_too_and_the_message_says_so(
        self, client_user: User, settings: Any
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 1
        fail("carla")
        response = login("carla", language="en")
        assert response.status_code == 429
        assert_error_shape(response.json())
        message = response.json()["message"]
        assert "even the correct password" in message
        assert "1 second " in message
        assert login("carla", language="es").json()["message"] != message  # translated

    def test_tries_during_the_wait_are_not_counted(
        self, client_user: User, settings: Any, clock: Callable[[float], None]
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 1
        fail("carla")
        for _ in range(10):
            assert fail("carla") == 429
        clock(1)
        assert fail("carla") == 401
        assert int(login("carla")["Retry-After"]) == 2

    def test_failures_are_forgotten_after_the_window(
        self, client_user: User, settings: Any, clock: Callable[[float], None]
    ) -> None:
        settings.LOGIN_FAILURE_LIMIT = 3
        fail("carla")
        fail("carla")
        clock(settings.LOGIN_FAILURE_WINDOW_SECONDS + 1)
        fail("carla")
        fail("carla")
        assert login("carla").status_code == 200

    def test_a_stranger_cannot_keep_the_owner_out(
        self,
        client_user: User,
        settings: Any,
        clock: Callable[[float], None],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        """However long a stranger keeps trying, the owner waits at most the cap, and a
        password reset lets them in at once."""
        settings.LOGIN_FAILURE_LIMIT = 5
        for _ in range(30):  # a stranger, trying whenever the wait allows
            assert fail("carla@example.com", address="192.0.2.66") == 401
            clock(int(login("carla", address="192.0.2.66").get("Retry-After", 0)))
        fail("carla@example.com", address="192.0.2.66")
        owner = login("carla", address="198.51.100.20")
        assert owner.status_code == 429
        assert int(owner["Retry-After"]) <= settings.LOGIN_LOCKOUT_SECONDS
        uid, token = link_parts(reset_link(django_capture_on_commit_callbacks, "carla@example.com"))
        confirmed = APIClient().post(
            "/api/accounts/auth/password/reset/confirm/",
            {"uid": uid, "token": token, "new_password": "a-brand-new-secret"},
        )
        assert confirmed.status_code == 204
        assert login("carla", "a-brand-new-secret", address="198.51.100.20").status_code == 200


class TestPerAddress:
    def test_one_address_trying_many_accounts_is_slowed(
        self, client_user: User, settings: Any
    ) -> None:
        """Password spraying: one guess for each of many accounts, from one address."""
        settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
        for name in ("ana", "bruno", "ghost"):
            assert fail(name, address="203.0.113.50") == 401
        assert login("carla", address="203.0.113.50").status_code == 429
        assert login("carla", address="198.51.100.9").status_code == 200

    def test_the_address_is_the_one_nginx_appended(self, client_user: User, settings: Any) -> None:
        """A caller's own X-Forwarded-For entries change nothing: nginx's last one counts."""
        settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
        for forged in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
            assert fail(f"ghost-{forged}", address=f"{forged}, 203.0.113.60") == 401
        assert login("carla", address="10.0.0.9, 203.0.113.60").status_code == 429

    def test_a_success_does_not_clear_the_address(self, client_user: User, settings: Any) -> None:
        settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
        fail("ghost-1")
        fail("ghost-2")
        assert login("carla").status_code == 200
        fail("ghost-3")
        assert login("carla").status_code == 429


@pytest.fixture
def database_cache(settings: Any) -> None:
    """The production shape: the database cache every replica shares (the default)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "servidesk_shared.cache.backends.DatabaseCache",
            "LOCATION": "accounts_cache_test",
        }
    }
    call_command("createcachetable", verbosity=0)
    caches["default"].clear()


class TestWithADatabaseCache:
    def test_failures_are_counted(
        self,
        database_cache: None,
        client_user: User,
        settings: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The counters are rows: ``auth_login`` commits them before it refuses with 401
        (a refusal raised inside its transaction would take them back)."""
        settings.LOGIN_FAILURE_LIMIT = 2
        # A minute's wait, not the first doubling's second: a loaded machine may take
        # longer than that between the second failure and the next try.
        monkeypatch.setattr(
            lockout, "delay_after", lambda failures, *, limit: 60 if failures >= limit else 0
        )
        assert fail("carla") == 401
        assert fail("carla") == 401
        assert login("carla").status_code == 429

    def test_the_login_throttle_counts_failures(
        self, database_cache: None, client_user: User, settings: Any
    ) -> None:
        rest = {**settings.REST_FRAMEWORK}
        rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], "login_ip": "2/min"}
        settings.REST_FRAMEWORK = rest
        settings.LOGIN_ADDRESS_FAILURE_LIMIT = settings.LOGIN_FAILURE_LIMIT = 100
        assert fail("ghost-1") == 401
        assert fail("ghost-2") == 401
        assert login("carla").status_code == 429

    def test_a_success_is_counted(
        self, database_cache: None, client_user: User, settings: Any
    ) -> None:
        """What already worked: the writes of an accepted request stand."""
        rest = {**settings.REST_FRAMEWORK}
        rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], "login_ip": "1/min"}
        settings.REST_FRAMEWORK = rest
        assert login("carla").status_code == 200
        assert login("carla").status_code == 429
