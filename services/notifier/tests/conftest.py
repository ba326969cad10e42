"""Fixtures: the real SMTP server and the Twilio fake wired into settings, event helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from notifications.handlers import handlers
from notifications.models import Contact, Delivery, DeliveryStatus
from notifications.sender import ChannelWorker
from pytest_django.fixtures import Settings as SettingsWrapper

from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import EventData
from servidesk_testing import bus as bus_testing
from tests.factories import ContactFactory, as_event
from tests.fakes import SmtpServer, TwilioFake, wait_until
from tests.webhook_server import WebhookServer

FROM_NUMBER = "+15005550006"


@pytest.fixture(scope="session")
def smtp_session() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp(smtp_session: SmtpServer, settings: SettingsWrapper) -> Iterator[SmtpServer]:
    """A real SMTP server on loopback, with Django's SMTP backend pointed at it."""
    smtp_session.start()
    smtp_session.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_session.host
    settings.EMAIL_PORT = smtp_session.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "Servidesk <soporte@servidesk.test>"
    yield smtp_session
    smtp_session.start()  # a test that stopped it leaves it running for the next one
    smtp_session.clear()


@pytest.fixture(scope="session")
def twilio_session() -> Iterator[TwilioFake]:
    with TwilioFake() as fake:
        yield fake


@pytest.fixture
def twilio(twilio_session: TwilioFake, settings: SettingsWrapper) -> Iterator[TwilioFake]:
    """The Twilio fake on loopback, with the official client pointed at it."""
    twilio_session.clear()
    settings.TWILIO_ACCOUNT_SID = twilio_session.account_sid
    settings.TWILIO_AUTH_TOKEN = twilio_session.auth_token
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE_URL = twilio_session.base_url
    yield twilio_session
    twilio_session.clear()


@pytest.fixture
def deliver() -> Callable[..., Event[Any]]:
    """Hand an event to the notifier's handler as the consumer would, in one transaction."""

    def deliver(data: EventData, *, event: Event[Any] | None = None) -> Event[Any]:
        event = event or as_event(data)
        handler = handlers.get(event.type)
        assert handler is not None, event.type
        with transaction.atomic():
            handler(event)
        return event

    return deliver


RETRY_DELAY = 0.3


@pytest.fixture
def slow_retries(settings: SettingsWrapper) -> Callable[[], None]:
    """Retries due after 0.3 s (not the suite's 0.01 s), so a test sees the state between
    two attempts however slow the machine; call the returned function to let one fall due."""
    settings.NOTIFIER_RETRY_DELAY = RETRY_DELAY / 1.2  # the jitter adds up to 20 %
    settings.NOTIFIER_RETRY_DELAY_MAX = RETRY_DELAY / 1.2
    return until_due


def until_due(timeout: float = 5.0) -> None:
    """Wait until every queued delivery has fallen due: its lease ran out or its retry's
    delay passed (and return at once when nothing is waiting)."""
    assert wait_until(
        lambda: (
            not Delivery.objects.filter(
                status=DeliveryStatus.QUEUED, next_attempt_at__gt=timezone.now()
            ).exists()
        ),
        timeout=timeout,
    ), "a queued delivery is still not due"


def drain(*channels: str, rounds: int = 50) -> None:
    """Run the senders until nothing is due (retries that are not due yet stay queued)."""
    for channel in channels or ("email", "sms"):
        worker = ChannelWorker(channel)
        try:
            for _ in range(rounds):
                if not worker.run_once():
                    break
        finally:
            worker.close()


@pytest.fixture
def people(db: None) -> dict[str, Contact]:
    """A Spanish-speaking client, an English-speaking technician and an admin."""
    return {
        "client": ContactFactory(
            user_id="1",
            username="lucia",
            full_name="Lucía Pérez",
            email="lucia@example.com",
            phone="+34600111222",
            role="client",
            language="es",
        ),
        "tech": ContactFactory(
            user_id="2",
            username="tom",
            full_name="Tom Baker",
            email="tom@example.com",
            phone="+353851234567",
            role="technician",
            language="en",
        ),
        "admin": ContactFactory(
            user_id="3",
            username="ana",
            full_name="Ana Admin",
            email="ana@example.com",
            phone="+34600333444",
            role="admin",
            language="es",
        ),
    }


# The fixture: a test's own topology on the real RabbitMQ (servidesk_testing.bus).
bus = bus_testing.bus


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    """A real HTTP server on loopback that records webhook requests (``webhook_server``)."""
    with WebhookServer() as server:
        yield server
