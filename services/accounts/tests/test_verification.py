"""Proving contacts: the email change that waits for the new address, confirmation links,
and phone numbers verified with a texted code (sent as ``verification.phone_code``)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from servidesk_shared.outbox.models import OutboxMessage
from tests.factories import PASSWORD, AdminFactory, ClientFactory
from users import verification
from users.models import PhoneCode, User

ME = "/api/accounts/me/"
CONFIRM = "/api/accounts/me/email/confirm/"
RESEND = "/api/accounts/me/email/send-confirmation/"
SEND_CODE = "/api/accounts/me/phone/send-code/"
VERIFY = "/api/accounts/me/phone/verify/"
REGISTER = "/api/accounts/auth/register/"
USERS = "/api/accounts/users/"
LINK = re.compile(r"http://web\.test/confirm-email/([0-9a-z-]+)/")

pytestmark = pytest.mark.django_db

AsUser = Callable[[User], APIClient]


@pytest.fixture
def mails(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    """A context manager that runs the on-commit callbacks (the mails) of what it wraps."""

    @contextmanager
    def sending() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True):
            yield

    return sending


def token_in(message: Any) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


def code_events(user: User) -> list[dict[str, Any]]:
    return [
        message.envelope["data"]
        for message in OutboxMessage.objects.filter(
            aggregate_id=str(user.pk), event_type="verification.phone_code"
        ).order_by("id")
    ]


def last_code(user: User) -> str:
    code: str = code_events(user)[-1]["code"]
    return code


def card_events(user: User) -> list[dict[str, Any]]:
    return [
        message.envelope
        for message in OutboxMessage.objects.filter(
            aggregate_id=str(user.pk), event_type__startswith="user."
        ).order_by("id")
    ]


# --- Changing the email -------------------------------------------------------------------


class TestEmailChange:
    def test_the_new_address_gets_a_link_and_the_old_one_a_notice(
        self, as_user: AsUser, client_user: User, mails: Any
    ) -> None:
        with mails():
            response = as_user(client_user).patch(
                ME, {"email": "Nueva@Example.com", "current_password": PASSWORD}
            )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["email"], body["pending_email"]) == ("carla@example.com", "nueva@example.com")
        link, notice = sorted(mail.outbox, key=lambda m: m.to != ["nueva@example.com"])
        assert link.to == ["nueva@example.com"]
        assert token_in(link)
        assert notice.to == ["carla@example.com"]
        assert "nueva@example.com" in notice.body
        assert "http" not in notice.body  # a plain notice: nothing in it to act on
        assert card_events(client_user) == []  # the card has not changed

    def test_confirming_makes_it_the_accounts_email(
        self, as_user: AsUser, client_user: User, mails: Any
    ) -> None:
        api = as_user(client_user)
        with mails():
            api.patch(ME, {"email": "nueva@example.com", "current_password": PASSWORD})
        token = token_in(mail.outbox[0])
        response = api.post(CONFIRM, {"token": token})
        assert response.status_code == 200, response.json()
        body = response.json()
        assert (body["email"], body["email_verified"], body["pending_email"]) == (
            "nueva@example.com",
            True,
            "",
        )
        (updated,) = card_events(client_user)
        assert updated["type"] == "user.updated"
        assert updated["data"]["email"] == "nueva@example.com"
        assert updated["data"]["email_verified"] is True
        # Single use.
        again = api.post(CONFIRM, {"token": token})
        assert again.status_code == 400
        assert "token" in again.json()["extra"]["fields"]

    def test_a_link_for_an_older_pending_address_is_refused(
        self, as_user: AsUser, client_user: User, mails: Any
    ) -> None:
        api = as_user(client_user)
        with mails():
            api.patch(ME, {"email": "first@example.com", "current_password": PASSWORD})
            api.patch(ME, {"email": "second@example.com", "current_password": PASSWORD})
        first = token_in(next(m for m in mail.outbox if m.to == ["first@example.com"]))
        second = token_in(next(m for m in mail.outbox if m.to == ["second@example.com"]))
        assert api.post(CONFIRM, {"token": first}).status_code == 400
        client_user.refresh_from_db()
        assert client_user.email == "carla@example.com"
        assert api.post(CONFIRM, {"token": second}).json()["email"] == "second@example.com"

    def test_a_link_of_another_account_is_refused(
        self, as_user: AsUser, client_user: User, mails: Any
    ) -> None:
        """The confirmation is made by the signed-in account the link was sent for: an
        address the attacker asked for cannot be confirmed by its owner clicking a link."""
        with mails():
            as_user(client_user).patch(
                ME, {"email": "victim@example.com", "current_password": PASSWORD}
            )
        token = token_in(mail.outbox[0])
        victim = ClientFactory(email="someone@example.com")
        response = as_user(victim).post(CONFIRM, {"token": token})
        assert response.status_code == 400
        assert "token" in response.json()["extra"]["fields"]
        client_user.refresh_from_db()
        victim.refresh_from_db()
        assert client_user.email == "carla@example.com"
        assert victim.email == "someone@example.com"

    def test_a_link_expires(self, as_user: AsUser, client_user: User, settings: Any) -> None:
        User.objects.filter(pk=client_user.pk).update(pending_email="nueva@example.com")
        client_user.refresh_from_db()
        old = time.time() - settings.EMAIL_CONFIRM_TIMEOUT - 5
        token = verification.email_token_make(client_user, now=old)
        response = as_user(client_user).post(CONFIRM, {"token": token})
        assert response.status_code == 400
        fresh = verification.email_token_make(client_user)
        assert as_user(client_user).post(CONFIRM, {"token": fresh}).status_code == 200

    @pytest.mark.parametrize(
        "token", ["", "x", "1-2-3", "zz-zz-" + "0" * 32, "a" * 129, "1-1-" + "g" * 32]
    )
    def test_malformed_tokens_are_400(self, as_user: AsUser, client_user: User, token: str) -> None:
        response = as_user(client_user).post(CONFIRM, {"token": token})
        assert response.status_code == 400
        assert set(response.json()) == {"message", "extra"}

    def test_a_tampered_token_is_refused(self, as_user: AsUser, client_user: User) -> None:
        token = verification.email_token_make(client_user)
        tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
        assert as_user(client_user).post(CONFIRM, {"token": tampered}).status_code == 400

    def test_asking_for_the_current_address_cancels_a_pending_change(
        self, as_user: AsUser, client_user: User
    ) -> None:
        api = as_user(client_user)
        api.patch(ME, {"email": "nueva@example.com", "current_password": PASSWORD})
        response = api.patch(ME, {"email": "carla@example.com"})
        assert response.status_code == 200
        assert response.json()["pending_email"] == ""

    def test_other_profile_changes_keep_a_pending_change(
        self, as_user: AsUser, client_user: User
    ) -> None:
        api = as_user(client_user)
        api.patch(ME, {"email": "nueva@example.com", "current_password": PASSWORD})
        response = api.patch(ME, {"full_name": "Carla R."})
        assert response.json()["pending_email"] == "nueva@example.com"


class TestNoEnumeration:
    """The profile answers the same for a taken and a free address; only confirming says."""

    def test_taken_and_free_addresses_get_the_same_answer(
        self, as_user: AsUser, client_user: User, mails: Any
    ) -> None:
        ClientFactory(email="taken@example.com")
        api = as_user(client_user)
        with mails():
            taken = api.patch(ME, {"email": "taken@example.com", "current_password": PASSWORD})
        taken_mails = len(mail.outbox)
        with mails():
            free = api.patch(ME, {"email": "free@example.com", "current_password": PASSWORD})
        assert taken.status_code == free.status_code == 200
        assert {**taken.json(), "pending_email": "?"} == {**free.json(), "pending_email": "?"}
        assert taken.json()["pending_email"] == "taken@example.com"
        assert taken_mails == len(mail.outbox) - taken_mails

    def test_confirming_a_taken_address_is_a_clear_400(
        self, as_user: AsUser, client_user: User, mails: Any
    ) -> None:
        api = as_user(client_user)
        with mails():
            api.patch(ME, {"email": "later@example.com", "current_password": PASSWORD})
        ClientFactory(email="later@example.com")  # someone else got it meanwhile
        response = api.post(CONFIRM, {"token": token_in(mail.outbox[0])}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
        assert "another account" in response.json()["extra"]["fields"]["token"][0].lower()
        client_user.refresh_from_db()
        assert client_user.email == "carla@example.com"

    @pytest.mark.parametrize("password", [None, "", "wrong-password-1"])
    def test_the_password_is_checked_before_anything_about_the_address(
        self, as_user: AsUser, client_user: User, password: str | None
    ) -> None:
        ClientFactory(email="taken@example.com")
        api = as_user(client_user)
        answers = []
        for email in ("taken@example.com", "free@example.com"):
            data = {"email": email}
            if password is not None:
                data["current_password"] = password
            response = api.patch(ME, data)
            assert response.status_code == 400
            answers.append(response.json())
        assert answers[0] == answers[1]
        assert set(answers[0]["extra"]["fields"]) == {"current_password"}
        client_user.refresh_from_db()
        assert client_user.pending_email == ""

    def test_an_account_without_a_password_needs_none(self, as_user: AsUser) -> None:
        user = ClientFactory(email="social@example.com")
        user.set_unusable_password()
        user.save()
        response = as_user(user).patch(ME, {"email": "other@example.com"})
        assert response.status_code == 200, response.json()
        assert response.json()["email"] == "social@example.com"
        assert response.json()["pending_email"] == "other@example.com"


class TestSendConfirmation:
    def test_resends_for_the_pending_address(
        self, as_user: AsUser, client_user: User, mails: Any
    ) -> None:
        api = as_user(client_user)
        api.patch(ME, {"email": "nueva@example.com", "current_password": PASSWORD})
        with mails():
            response = api.post(RESEND)
        assert response.status_code == 204
        (message,) = mail.outbox
        assert message.to == ["nueva@example.com"]
        assert api.post(CONFIRM, {"token": token_in(message)}).status_code == 200

    def test_resends_for_an_unconfirmed_current_address(
        self, as_user: AsUser, client_user: User, mails: Any
    ) -> None:
        with mails():
            assert as_user(client_user).post(RESEND).status_code == 204
        (message,) = mail.outbox
        assert message.to == ["carla@example.com"]
        response = as_user(client_user).post(CONFIRM, {"token": token_in(message)})
        assert response.json()["email_verified"] is True

    def test_nothing_to_confirm_is_a_400(self, as_user: AsUser) -> None:
        user = ClientFactory(email_verified=True)
        response = as_user(user).post(RESEND)
        assert response.status_code == 400
        assert set(response.json()) == {"message", "extra"}

    def test_is_rate_limited(self, as_user: AsUser, client_user: User, settings: Any) -> None:
        settings.EMAIL_CONFIRM_SENDS_PER_HOUR = 2
        api = as_user(client_user)
        assert [api.post(RESEND).status_code for _ in range(3)] == [204, 204, 429]
        limited = api.post(RESEND)
        assert int(limited["Retry-After"]) > 0
        # Email changes spend the same allowance (they mail a link too).
        name = client_user.full_name
        response = api.patch(
            ME, {"email": "n@example.com", "full_name": "Renamed", "current_password": PASSWORD}
        )
        assert response.status_code == 429
        client_user.refresh_from_db()
        assert client_user.pending_email == ""
        # Refused after the profile was saved: user_update's transaction took that back too.
        assert client_user.full_name == name != "Renamed"
        assert "Renamed" not in str([row.envelope for row in OutboxMessage.objects.all()])

    def test_the_mail_is_in_the_users_language(self, as_user: AsUser, mails: Any) -> None:
        english = ClientFactory(language="en")
        spanish = ClientFactory(language="es")
        with mails():
            as_user(english).post(RESEND)
            as_user(spanish).post(RESEND)
        en, es = mail.outbox
        assert en.subject == "Confirm your email address for Servidesk"
        assert es.subject == "Confirma tu dirección de correo para Servidesk"


class TestRegistrationAndAdmins:
    def test_registration_mails_a_link_and_signing_in_does_not_need_it(
        self, api_client: APIClient, mails: Any
    ) -> None:
        with mails():
            response = api_client.post(
                REGISTER,
                {
                    "username": "nuria",
                    "email": "nuria@example.com",
                    "password": "a-long-enough-secret",
                },
            )
        assert response.status_code == 201
        assert response.json()["email_verified"] is False
        (message,) = mail.outbox
        assert message.to == ["nuria@example.com"]
        signed_in = api_client.post(
            "/api/accounts/auth/token/",
            {"username": "nuria", "password": "a-long-enough-secret"},
        )
        assert signed_in.status_code == 200
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {signed_in.json()['access']}")
        assert api.post(CONFIRM, {"token": token_in(message)}).json()["email_verified"] is True

    def test_an_admin_created_user_has_a_confirmed_email_but_not_phone(
        self, as_user: AsUser, admin_user: User, mails: Any
    ) -> None:
        with mails():
            response = as_user(admin_user).post(
                USERS,
                {
                    "username": "tec",
                    "email": "tec@example.com",
                    "password": "a-long-enough-secret",
                    "role": "technician",
                    "phone": "+34600111333",
                },
            )
        assert response.status_code == 201, response.json()
        assert response.json()["email_verified"] is True
        assert response.json()["phone_verified"] is False
        assert mail.outbox == []
        user = User.objects.get(username="tec")
        (event,) = code_events(user)
        assert event["phone"] == "+34600111333"

    def test_an_admin_changing_someones_email_counts_and_tells_the_old_address(
        self, as_user: AsUser, admin_user: User, client_user: User, mails: Any
    ) -> None:
        with mails():
            response = as_user(admin_user).patch(
                f"{USERS}{client_user.pk}/", {"email": "carla.new@example.com"}
            )
        assert response.status_code == 200, response.json()
        assert response.json()["email"] == "carla.new@example.com"
        assert response.json()["email_verified"] is True
        (notice,) = mail.outbox
        assert notice.to == ["carla@example.com"]

    def test_an_admin_changes_their_own_email_from_the_profile(
        self, as_user: AsUser, admin_user: User
    ) -> None:
        response = as_user(admin_user).patch(f"{USERS}{admin_user.pk}/", {"email": "x@example.com"})
        assert response.status_code == 400
        assert "email" in response.json()["extra"]["fields"]

    def test_the_schema_shows_the_verification_fields(self) -> None:
        schema = SchemaGenerator().get_schema(request=None, public=True)
        me = schema["components"]["schemas"]["Me"]["properties"]
        for field in ("email_verified", "phone_verified", "pending_email"):
            assert me[field]["readOnly"] is True
            assert me[field]["description"]
        paths = schema["paths"]
        for path in (CONFIRM, RESEND, SEND_CODE, VERIFY, "/api/accounts/me/social/link/"):
            assert "post" in paths[path]


# --- The phone ---------------------------------------------------------------------------


class TestPhone:
    def test_setting_a_phone_texts_a_code_through_notifier(
        self, as_user: AsUser, client_user: User
    ) -> None:
        response = as_user(client_user).patch(ME, {"phone": "612 34 56 78", "language": "en"})
        assert response.status_code == 200
        assert response.json()["phone_verified"] is False
        (event,) = code_events(client_user)
        assert event["user_id"] == client_user.pk
        assert event["phone"] == "+34612345678"
        assert event["language"] == "en"
        assert re.fullmatch(r"[0-9]{6}", event["code"])
        expires = datetime.fromisoformat(event["expires_at"])
        assert timedelta(minutes=9) < expires - timezone.now() <= timedelta(minutes=10)
        stored = PhoneCode.objects.get(user=client_user)
        assert event["code"] not in stored.code_hash
        # The code goes only in verification.phone_code, never on a user event's card.
        assert all("code" not in envelope["data"] for envelope in card_events(client_user))

    def test_the_code_verifies_the_number(self, as_user: AsUser, client_user: User) -> None:
        api = as_user(client_user)
        api.patch(ME, {"phone": "+34612345678"})
        response = api.post(VERIFY, {"code": f" {last_code(client_user)} "})
        assert response.status_code == 200, response.json()
        assert response.json()["phone_verified"] is True
        assert card_events(client_user)[-1]["data"]["phone_verified"] is True
        again = api.post(VERIFY, {"code": last_code(client_user)})
        assert again.status_code == 400

    def test_guessing_stops_after_five_wrong_codes(
        self, as_user: AsUser, client_user: User, settings: Any
    ) -> None:
        """A million codes, five tries: the right code after five wrong ones is refused."""
        api = as_user(client_user)
        api.patch(ME, {"phone": "+34612345678"})
        right = last_code(client_user)
        wrong = f"{(int(right) + 1) % 10**6:06d}"
        answers = [api.post(VERIFY, {"code": wrong}) for _ in range(5)]
        assert all(answer.status_code == 400 for answer in answers)
        assert "code" in answers[0].json()["extra"]["fields"]
        refused = api.post(VERIFY, {"code": right}, HTTP_ACCEPT_LANGUAGE="en")
        assert refused.status_code == 400
        assert "new one" in refused.json()["extra"]["fields"]["code"][0]
        client_user.refresh_from_db()
        assert not client_user.phone_verified
        settings.PHONE_CODE_RESEND_SECONDS = 0
        assert api.post(SEND_CODE).status_code == 204
        assert api.post(VERIFY, {"code": last_code(client_user)}).status_code == 200

    def test_an_expired_code_is_refused(self, as_user: AsUser, client_user: User) -> None:
        api = as_user(client_user)
        api.patch(ME, {"phone": "+34612345678"})
        PhoneCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        response = api.post(VERIFY, {"code": last_code(client_user)}, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
        assert "expired" in response.json()["extra"]["fields"]["code"][0]

    @pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"])
    def test_a_malformed_code_is_400(self, as_user: AsUser, client_user: User, code: str) -> None:
        response = as_user(client_user).post(VERIFY, {"code": code})
        assert response.status_code == 400
        assert "code" in response.json()["extra"]["fields"]

    def test_send_code_is_one_a_minute(self, as_user: AsUser, client_user: User) -> None:
        api = as_user(client_user)
        first = api.post(SEND_CODE)
        assert first.status_code == 204
        second = api.post(SEND_CODE)
        assert second.status_code == 429
        assert 0 < int(second["Retry-After"]) <= 60
        assert len(code_events(client_user)) == 1

    def test_a_new_code_replaces_the_old_one(
        self, as_user: AsUser, client_user: User, settings: Any
    ) -> None:
        settings.PHONE_CODE_RESEND_SECONDS = 0
        api = as_user(client_user)
        api.post(SEND_CODE)
        old = last_code(client_user)
        api.post(SEND_CODE)
        new = last_code(client_user)
        if old != new:
            assert api.post(VERIFY, {"code": old}).status_code == 400
        assert api.post(VERIFY, {"code": new}).status_code == 200

    def test_codes_a_day_are_capped(self, as_user: AsUser, settings: Any) -> None:
        """Changing the number again and again must not text the world at our expense."""
        settings.PHONE_CODES_PER_DAY = 2
        user = ClientFactory(phone="")
        api = as_user(user)
        for number in ("+34612345601", "+34612345602", "+34612345603"):
            assert api.patch(ME, {"phone": number}).status_code == 200
        assert [event["phone"] for event in code_events(user)] == ["+34612345601", "+34612345602"]
        assert api.post(SEND_CODE).status_code == 429

    def test_changing_the_number_keeps_no_verification(
        self, as_user: AsUser, client_user: User
    ) -> None:
        api = as_user(client_user)
        api.patch(ME, {"phone": "+34612345678"})
        old_code = last_code(client_user)
        api.post(VERIFY, {"code": old_code})
        response = api.patch(ME, {"phone": "+34699887766"})
        assert response.json()["phone_verified"] is False
        assert card_events(client_user)[-1]["data"]["phone_verified"] is False
        assert code_events(client_user)[-1]["phone"] == "+34699887766"
        removed = api.patch(ME, {"phone": "", "notify_sms": False})
        assert (removed.json()["phone"], removed.json()["phone_verified"]) == ("", False)

    def test_a_code_for_the_old_number_does_not_verify_the_new_one(
        self, as_user: AsUser, client_user: User, settings: Any
    ) -> None:
        settings.PHONE_CODES_PER_DAY = 1  # the new number gets no code of its own
        api = as_user(client_user)
        api.patch(ME, {"phone": "+34612345678"})
        old_code = last_code(client_user)
        api.patch(ME, {"phone": "+34699887766"})
        assert api.post(VERIFY, {"code": old_code}).status_code == 400

    def test_an_admin_set_phone_still_needs_its_code(
        self, as_user: AsUser, admin_user: User, client_user: User
    ) -> None:
        response = as_user(admin_user).patch(f"{USERS}{client_user.pk}/", {"phone": "+34699887766"})
        assert response.json()["phone_verified"] is False
        (event,) = code_events(client_user)
        assert event["phone"] == "+34699887766"
        assert as_user(client_user).post(VERIFY, {"code": event["code"]}).status_code == 200

    def test_no_phone_no_code(self, as_user: AsUser) -> None:
        user = ClientFactory(phone="")
        assert as_user(user).post(SEND_CODE).status_code == 400
        assert as_user(user).post(VERIFY, {"code": "123456"}).status_code == 400

    def test_a_verified_phone_needs_no_code(self, as_user: AsUser) -> None:
        user = ClientFactory(phone="+34612345678", phone_verified=True)
        assert as_user(user).post(SEND_CODE).status_code == 400
        assert code_events(user) == []

    def test_signed_in_only(self) -> None:
        for path in (CONFIRM, RESEND, SEND_CODE, VERIFY):
            assert APIClient().post(path, {}).status_code == 401


def test_the_demo_users_are_seeded_confirmed() -> None:
    from django.core.management import call_command  # noqa: PLC0415

    from users.management.commands.seed_demo import DEMO_USERS, HISTORY_USERS  # noqa: PLC0415

    call_command("seed_demo", force=True, verbosity=0)
    users = User.objects.all()
    assert users.count() == len(DEMO_USERS) + len(HISTORY_USERS)
    assert all(user.email_verified for user in users)
    assert all(user.phone_verified for user in users if user.phone)
    assert not OutboxMessage.objects.filter(event_type="verification.phone_code").exists()


def test_a_phone_changed_in_the_django_admin_needs_its_code(client: Any) -> None:
    root = AdminFactory(username="root", is_staff=True, is_superuser=True)
    target = ClientFactory(
        username="target", email="target@example.com", phone="+34600111222", phone_verified=True
    )
    client.force_login(root)
    form = {
        "username": "target",
        "full_name": "Target",
        "email": "target@example.com",
        "phone": "+34699887766",
        "language": "es",
        "notify_email": "on",
        "role": "client",
        "is_active": "on",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "10:00:00",
    }
    response = client.post(f"/api/accounts/admin/users/user/{target.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    target.refresh_from_db()
    assert (target.phone, target.phone_verified) == ("+34699887766", False)
    assert card_events(target)[-1]["data"]["phone_verified"] is False
    assert code_events(target)[-1]["phone"] == "+34699887766"


def test_plain_text_mails_carry_names_as_typed(as_user: AsUser, mails: Any) -> None:
    """The text part is plain text: a name is not HTML-escaped there (the HTML part is)."""
    user = ClientFactory(full_name="<b>Q&A</b> O'Brien")
    with mails():
        as_user(user).post(RESEND)
        APIClient().post("/api/accounts/auth/password/reset/", {"email": user.email})
    confirmation, reset = mail.outbox
    for message in (confirmation, reset):
        assert "<b>Q&A</b> O'Brien" in message.body
        assert "&lt;b&gt;Q&amp;A&lt;/b&gt;" in message.alternatives[0][0]
