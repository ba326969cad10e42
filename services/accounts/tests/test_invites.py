"""Unknown senders of support mail become clients: ``user.invite_requested`` from tickets.

Through the consumer ``manage.py consume_events`` runs (inbox, one transaction per
event), the real PostgreSQL, a real SMTP server, and in the end-to-end test the real
RabbitMQ. The invitation's link is the password-reset page's; using it sets the first
password and confirms the address.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from kombu import Connection
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from servidesk_testing import bus as bus_testing
from servidesk_testing.bus import RABBITMQ_URL, Running, publish
from servidesk_testing.fakes import ReceivedMail, SmtpServer, wait_until

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.registry import load_registry
from servidesk_shared.events.schemas import UserInviteRequested
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry, OutboxMessage
from tests.factories import PASSWORD, ClientFactory
from users import services, verification
from users.handlers import handlers
from users.models import User, username_validator

CONFIRM = "/api/accounts/auth/password/reset/confirm/"
TOKEN = "/api/accounts/auth/token/"
NEW = "a-brand-new-secret"
LINK = re.compile(r"http://web\.test/password-reset/confirm/([^/\s\"]+)/([^/\s\"]+)/")


@pytest.fixture
def smtp(settings: Settings) -> Iterator[SmtpServer]:
    """A real SMTP server on loopback, with Django's SMTP backend pointed at it."""
    with SmtpServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = server.host
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_TIMEOUT = 5
        settings.DEFAULT_FROM_EMAIL = "Servidesk <no-reply@servidesk.test>"
        yield server


def invite_event(
    email: str = "lucia.perez@example.com", name: str = "Lucía Pérez", language: str = "es"
) -> dict[str, Any]:
    """The envelope tickets publishes (a new event id each call)."""
    data = UserInviteRequested(email=email, name=name, language=language)
    return envelopes.build(data, producer="tickets", sequence=1)


class Deliver:
    """What ``consume_events`` does with one message, minus the broker: parse, check,
    record the id and run the handler in one transaction, then the after-commit work."""

    def __init__(self, capture: Any) -> None:
        self.consumer = EventConsumer(None, registry=handlers, queue="accounts.invites")
        self.capture = capture

    def __call__(self, envelope: dict[str, Any]) -> bool:
        event = envelopes.decode(envelopes.parse_envelope(envelope))
        handler = handlers.get(event.type)
        assert handler is not None
        with self.capture(execute=True):
            return bool(self.consumer.apply(event, handler))


@pytest.fixture
def deliver(django_capture_on_commit_callbacks: Any) -> Deliver:
    return Deliver(django_capture_on_commit_callbacks)


def registered_cards() -> list[dict[str, Any]]:
    return [
        message.envelope["data"]
        for message in OutboxMessage.objects.filter(event_type="user.registered").order_by("id")
    ]


def link_in(mail: ReceivedMail) -> tuple[str, str]:
    found = LINK.search(mail.text)
    assert found is not None, mail.text
    return found.group(1), found.group(2)


def test_accounts_consumes_the_invitations_queue_with_these_handlers() -> None:
    assert django_settings.SERVIDESK_EVENT_QUEUE == "accounts.invites"
    assert load_registry(django_settings.SERVIDESK_EVENT_HANDLERS) is handlers
    assert "user.invite_requested" in handlers
    assert len(handlers) == 1


@pytest.mark.django_db
class TestInvite:
    def test_an_unknown_sender_becomes_a_client_announced_and_mailed_once(
        self, deliver: Deliver, smtp: SmtpServer
    ) -> None:
        assert deliver(invite_event(email="Lucia.Perez@Example.COM")) is True
        user = User.objects.get()
        assert (user.username, user.email, user.full_name, user.language, user.role) == (
            "lucia.perez",
            "lucia.perez@example.com",
            "Lucía Pérez",
            "es",
            "client",
        )
        assert user.is_active
        assert not user.has_usable_password()
        assert user.email_verified is False
        (card,) = registered_cards()
        assert card["id"] == user.pk
        assert (card["email"], card["username"], card["email_verified"]) == (
            "lucia.perez@example.com",
            "lucia.perez",
            False,
        )
        (mail,) = smtp.received()
        assert mail.rcpt_tos == ("lucia.perez@example.com",)
        assert mail.subject == "Hemos recibido tu mensaje para el soporte de Servidesk"
        assert mail.text.startswith("Hola:")
        assert "Se convierte en un ticket" in mail.text
        uid, token = link_in(mail)
        assert f"/password-reset/confirm/{uid}/{token}/" in mail.html
        assert "7 días" in mail.text

    def test_the_mail_is_in_the_senders_language(self, deliver: Deliver, smtp: SmtpServer) -> None:
        deliver(invite_event(email="john@example.com", name="John Smith", language="en"))
        (mail,) = smtp.received()
        assert mail.subject == "We received your message to Servidesk support"
        assert mail.text.startswith("Hello,")
        assert "It becomes a ticket" in mail.text
        assert User.objects.get().language == "en"

    def test_an_unknown_language_falls_back_to_spanish(
        self, deliver: Deliver, smtp: SmtpServer
    ) -> None:
        deliver(invite_event(email="marie@example.com", name="Marie", language="fr"))
        assert User.objects.get().language == "es"
        assert smtp.received()[0].subject.startswith("Hemos recibido")

    def test_the_same_event_twice_applies_once(self, deliver: Deliver, smtp: SmtpServer) -> None:
        envelope = invite_event()
        assert deliver(envelope) is True
        assert deliver(envelope) is False  # a redelivery: the inbox has its id
        assert User.objects.count() == 1
        assert len(registered_cards()) == 1
        assert len(smtp.received()) == 1
        assert InboxEntry.objects.filter(event_id=envelope["id"]).count() == 1

    def test_a_second_invitation_for_the_address_changes_nothing(
        self, deliver: Deliver, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        deliver(invite_event(email="lucia.perez@example.com", name="Lucía Pérez"))
        with caplog.at_level(logging.INFO, logger="users.services"):
            # Another mail from the same sender: a new event, the address in other case.
            assert deliver(invite_event(email="LUCIA.PEREZ@example.com", name="Someone")) is True
        user = User.objects.get()
        assert user.full_name == "Lucía Pérez"
        assert len(registered_cards()) == 1
        assert len(smtp.received()) == 1  # mailed once
        assert f"user {user.pk} already has that address" in caplog.text

    @pytest.mark.parametrize("is_active", [True, False])
    def test_an_existing_user_is_left_alone(
        self,
        deliver: Deliver,
        smtp: SmtpServer,
        caplog: pytest.LogCaptureFixture,
        is_active: bool,
    ) -> None:
        carla = ClientFactory(
            username="carla", email="carla@example.com", full_name="Carla", is_active=is_active
        )
        password = carla.password
        with caplog.at_level(logging.INFO, logger="users.services"):
            assert deliver(invite_event(email="Carla@Example.com", name="Impostor")) is True
        carla.refresh_from_db()
        assert (carla.full_name, carla.password, carla.is_active) == (
            "Carla",
            password,
            is_active,
        )
        assert User.objects.count() == 1
        assert not OutboxMessage.objects.exists()
        assert smtp.received() == []
        assert f"user {carla.pk} already has that address" in caplog.text

    def test_usernames_are_unique_and_valid(self, deliver: Deliver, smtp: SmtpServer) -> None:
        ClientFactory(username="Lucia", email="lucia@one.example")
        deliver(invite_event(email="lucia@two.example", name=""))
        deliver(invite_event(email="LUCIA@three.example", name=""))
        deliver(invite_event(email="o'brien+help@example.com", name=""))
        deliver(invite_event(email="!#$%&@example.com", name=""))
        deliver(invite_event(email="!#$%@example.org", name=""))
        usernames = dict(User.objects.values_list("email", "username"))
        assert usernames == {
            "lucia@one.example": "Lucia",
            "lucia@two.example": "lucia2",
            "lucia@three.example": "lucia3",
            "o'brien+help@example.com": "obrien+help",
            "!#$%&@example.com": "client",
            "!#$%@example.org": "client2",
        }
        for username in usernames.values():
            username_validator(username)

    def test_a_mail_server_outage_does_not_undo_the_client(
        self, deliver: Deliver, smtp: SmtpServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The mail goes out after the commit: the client stays, and the "forgot your
        password?" page mails a link to set a password (the invitation says so too)."""
        smtp.stop()
        with caplog.at_level(logging.ERROR, logger="users.services"):
            assert deliver(invite_event()) is True
        assert User.objects.filter(email="lucia.perez@example.com").exists()
        assert len(registered_cards()) == 1
        assert "could not send an email" in caplog.text


@pytest.mark.django_db
class TestHostileInput:
    def test_a_name_cannot_inject_headers_nul_or_markup(
        self, deliver: Deliver, smtp: SmtpServer
    ) -> None:
        name = "Eve\r\nBcc: victim@example.com\r\n\r\n\x00<script>alert(1)</script>\tX"
        deliver(invite_event(email="eve@example.com", name=name))
        user = User.objects.get()
        assert user.full_name == "Eve Bcc: victim@example.com <script>alert(1)</script> X"
        (mail,) = smtp.received()
        assert mail.rcpt_tos == ("eve@example.com",)
        assert mail.message["Bcc"] is None
        assert mail.message["To"] == "eve@example.com"
        assert "script" not in mail.html

    def test_the_mail_never_repeats_the_senders_name(
        self, deliver: Deliver, smtp: SmtpServer
    ) -> None:
        """Anyone can write any From header: a forged one would otherwise put its text
        (a link, an instruction) into a mail that really comes from us."""
        name = "Call +34 600 000 000 or open https://evil.example/reset now"
        deliver(invite_event(email="victim@example.com", name=name))
        (mail,) = smtp.received()
        for text in (mail.subject, mail.text, mail.html):
            assert "evil.example" not in text
            assert "600 000 000" not in text
        assert User.objects.get().full_name == name  # kept for the staff to see

    def test_a_long_name_is_cut_to_fit(self, deliver: Deliver, smtp: SmtpServer) -> None:
        deliver(invite_event(name="Ñ" * 500))
        assert User.objects.get().full_name == "Ñ" * 150

    @pytest.mark.parametrize(
        "email",
        [
            "victim@example.com\r\nBcc: other@example.com",
            "nul\x00@example.com",
            "not an address",
            "",
            "josé@example.com",  # Django's validator: ASCII local parts only
            f"{'a' * 250}@example.com",
        ],
    )
    def test_an_address_that_is_not_one_makes_nothing(
        self, deliver: Deliver, smtp: SmtpServer, email: str
    ) -> None:
        assert deliver(invite_event(email=email)) is True  # applied: nothing to retry
        assert not User.objects.exists()
        assert not OutboxMessage.objects.exists()
        assert smtp.received() == []

    def test_plain_name_drops_what_is_not_text(self) -> None:
        assert services.plain_name("\ud800Ana\u2028María\u0085 \x7f") == "Ana María"


@pytest.mark.django_db
class TestTheLink:
    def invited(self, deliver: Deliver, smtp: SmtpServer) -> tuple[User, str, str]:
        deliver(invite_event(email="nuria@example.com", name="Nuria Vidal"))
        (mail,) = smtp.received()
        uid, token = link_in(mail)
        OutboxMessage.objects.all().delete()
        return User.objects.get(), uid, token

    def test_setting_the_password_confirms_the_email_and_publishes_it(
        self, deliver: Deliver, smtp: SmtpServer
    ) -> None:
        user, uid, token = self.invited(deliver, smtp)
        response = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
        assert response.status_code == 204, response.content
        user.refresh_from_db()
        assert user.has_usable_password()
        assert user.email_verified is True
        (message,) = OutboxMessage.objects.all()
        assert message.event_type == "user.updated"
        assert message.envelope["data"]["email_verified"] is True
        assert message.envelope["data"]["id"] == user.pk
        signed_in = APIClient().post(TOKEN, {"username": "nuria@example.com", "password": NEW})
        assert signed_in.status_code == 200
        again = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW + "2"})
        assert again.status_code == 400
        assert "token" in again.json()["extra"]["fields"]

    def test_a_weak_password_keeps_the_link_usable(
        self, deliver: Deliver, smtp: SmtpServer
    ) -> None:
        user, uid, token = self.invited(deliver, smtp)
        weak = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": "nuria"})
        assert weak.status_code == 400
        assert "new_password" in weak.json()["extra"]["fields"]
        user.refresh_from_db()
        assert user.email_verified is False
        assert not OutboxMessage.objects.exists()
        ok = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
        assert ok.status_code == 204

    def test_the_link_outlives_a_reset_link(
        self, deliver: Deliver, smtp: SmtpServer, settings: Settings
    ) -> None:
        _, uid, token = self.invited(deliver, smtp)
        settings.PASSWORD_RESET_TIMEOUT = -1  # a reset link would have expired
        response = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
        assert response.status_code == 204, response.content

    def test_the_link_expires_with_the_invitation(
        self, deliver: Deliver, smtp: SmtpServer, settings: Settings
    ) -> None:
        user, uid, token = self.invited(deliver, smtp)
        settings.INVITATION_TIMEOUT = -1
        response = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
        assert response.status_code == 400
        assert "token" in response.json()["extra"]["fields"]
        user.refresh_from_db()
        assert not user.has_usable_password()
        assert user.email_verified is False

    def test_an_invitation_token_never_sets_the_password_of_an_account_that_has_one(
        self,
    ) -> None:
        carla = ClientFactory(email="carla@example.com")
        token = verification.invitation_token_make(carla)
        uid = LINK.search(services.invitation_url(carla))
        assert uid is not None
        response = APIClient().post(
            CONFIRM, {"uid": uid.group(1), "token": token, "new_password": NEW}
        )
        assert response.status_code == 400
        assert (
            APIClient().post(TOKEN, {"username": carla.username, "password": PASSWORD}).status_code
            == 200
        )

    def test_another_accounts_link_does_not_fit(self, deliver: Deliver, smtp: SmtpServer) -> None:
        _, _, token = self.invited(deliver, smtp)
        deliver(invite_event(email="other@example.com", name="Other"))
        other_uid, _ = link_in(smtp.received("other@example.com")[0])
        response = APIClient().post(
            CONFIRM, {"uid": other_uid, "token": token, "new_password": NEW}
        )
        assert response.status_code == 400

    @pytest.mark.parametrize(
        "token", ["", "-", "zzzzzzzzzzzzzzzzzz-" + "0" * 32, "abc-" + "0" * 31, "0" * 33]
    )
    def test_malformed_tokens_are_refused(self, token: str) -> None:
        user = User(pk=7, email="x@example.com")
        user.set_unusable_password()
        assert verification.invitation_token_valid(user, token) is False


# --- At the same time ------------------------------------------------------------------


def waiting_on_a_lock() -> int:
    """Other connections of this database blocked on a lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_two_invitations_for_one_address_at_once_make_one_client(smtp: SmtpServer) -> None:
    """Two consumers, two events for one address (two mails from one sender): the
    second waits on the first's row, then finds the address taken and does nothing."""
    created = threading.Event()
    release = threading.Event()
    results: dict[str, User | None] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = services.user_invite(
                    email="twice@example.com", name="First", language="es"
                )
                created.set()
                release.wait(10)
        finally:
            connection.close()

    def second() -> None:
        try:
            results["second"] = services.user_invite(
                email="TWICE@example.com", name="Second", language="en"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert created.wait(10)
    threads[1].start()
    try:
        assert wait_until(lambda: waiting_on_a_lock() >= 1, timeout=10)
    finally:
        release.set()
        for thread in threads:
            thread.join(10)
    assert isinstance(results["first"], User)
    assert results["second"] is None
    user = User.objects.get()
    assert (user.username, user.full_name) == ("twice", "First")
    assert len(registered_cards()) == 1
    assert len(smtp.received()) == 1


# --- Through RabbitMQ -------------------------------------------------------------------

bus = bus_testing.bus  # the fixture: this test's own topology on the real RabbitMQ


@pytest.mark.django_db(transaction=True)
def test_end_to_end_over_rabbitmq_with_a_redelivery_and_a_known_sender(
    bus: Topology, smtp: SmtpServer
) -> None:
    ClientFactory(username="carla", email="carla@example.com")
    invitation = invite_event(email="Pablo@Example.com", name="Pablo Gil", language="en")
    known = invite_event(email="carla@example.com", name="Carla")
    consumer = Running(
        EventConsumer(Connection(RABBITMQ_URL), registry=handlers, queue="accounts.invites")
    )
    try:
        publish(bus, invitation, invitation, known)  # the second copy: a redelivery
        (mail,) = smtp.wait_for(1, timeout=10)
        assert wait_until(
            lambda: InboxEntry.objects.count() == 2 and consumer.worker.stats["duplicate"] == 1,
            timeout=10,
        )
    finally:
        consumer.stop()
    assert consumer.worker.stats["dead_lettered"] == 0
    assert len(smtp.received()) == 1  # a duplicate would have been mailed by now
    assert mail.rcpt_tos == ("pablo@example.com",)
    assert mail.subject == "We received your message to Servidesk support"
    pablo = User.objects.get(email="pablo@example.com")
    assert (pablo.username, pablo.full_name, pablo.language) == ("pablo", "Pablo Gil", "en")
    assert [card["email"] for card in registered_cards()] == ["pablo@example.com"]
    uid, token = link_in(mail)
    response = APIClient().post(CONFIRM, {"uid": uid, "token": token, "new_password": NEW})
    assert response.status_code == 204
    pablo.refresh_from_db()
    assert pablo.email_verified is True
