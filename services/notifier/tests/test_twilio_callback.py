"""Twilio's status callback: only signed requests count, and final states stay final."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from notifications.models import Delivery
from pytest_django.fixtures import Settings

from tests.factories import DeliveryFactory
from tests.fakes import twilio_signature

pytestmark = pytest.mark.django_db

PATH = "/api/notifications/twilio/status/"
TOKEN = "callback-test-token"


@pytest.fixture(autouse=True)
def _twilio_token(settings: Settings) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_STATUS_CALLBACK_URL = ""  # derived from WEB_BASE_URL (http://testserver)


def sms(status: str = "sent", sid: str = "SM" + "a" * 32) -> Delivery:
    return DeliveryFactory(channel="sms", status=status, provider_id=sid, provider_status="queued")


def post(
    client: Client, params: dict[str, str], *, signature: str | None = None, url: str = ""
) -> int:
    url = url or f"http://testserver{PATH}"
    if signature is None:
        signature = twilio_signature(TOKEN, url, params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    # As Twilio sends it: a urlencoded form.
    response = client.post(
        PATH, urlencode(params), content_type="application/x-www-form-urlencoded", headers=headers
    )
    return response.status_code


def test_delivered(client: Client) -> None:
    delivery = sms()
    params = {"MessageSid": delivery.provider_id, "MessageStatus": "delivered", "AccountSid": "AC1"}
    assert post(client, params) == 204
    delivery.refresh_from_db()
    assert (delivery.status, delivery.provider_status) == ("delivered", "delivered")


def test_undelivered_is_a_failure_with_the_error_code(client: Client) -> None:
    delivery = sms()
    params = {
        "MessageSid": delivery.provider_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
    }
    assert post(client, params) == 204
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == (
        "failed",
        "Twilio reported undelivered (error 30003)",
    )


def test_intermediate_statuses_only_update_the_provider_status(client: Client) -> None:
    delivery = sms()
    assert post(client, {"MessageSid": delivery.provider_id, "MessageStatus": "sent"}) == 204
    delivery.refresh_from_db()
    assert (delivery.status, delivery.provider_status) == ("sent", "sent")


def test_a_late_callback_does_not_undo_a_final_state(client: Client) -> None:
    delivery = sms(status="delivered")
    assert post(client, {"MessageSid": delivery.provider_id, "MessageStatus": "sent"}) == 204
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_unsigned_calls_are_refused(client: Client) -> None:
    delivery = sms()
    assert (
        post(
            client, {"MessageSid": delivery.provider_id, "MessageStatus": "delivered"}, signature=""
        )
        == 403
    )
    delivery.refresh_from_db()
    assert delivery.status == "sent"


def test_a_wrong_signature_is_refused(client: Client) -> None:
    delivery = sms()
    params = {"MessageSid": delivery.provider_id, "MessageStatus": "delivered"}
    forged = twilio_signature("not-the-token", f"http://testserver{PATH}", params)
    assert post(client, params, signature=forged) == 403
    # Signed for other parameters than the ones sent.
    other = twilio_signature(
        TOKEN, f"http://testserver{PATH}", {**params, "MessageStatus": "failed"}
    )
    assert post(client, params, signature=other) == 403


def test_signed_for_the_public_callback_url_behind_a_proxy(
    client: Client, settings: Settings
) -> None:
    settings.TWILIO_STATUS_CALLBACK_URL = (
        "https://help.example.com/api/notifications/twilio/status/"
    )
    delivery = sms()
    params = {"MessageSid": delivery.provider_id, "MessageStatus": "delivered"}
    assert post(client, params, url=settings.TWILIO_STATUS_CALLBACK_URL) == 204
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_without_a_token_nothing_is_accepted(client: Client, settings: Settings) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    delivery = sms()
    params = {"MessageSid": delivery.provider_id, "MessageStatus": "delivered"}
    assert (
        post(client, params, signature=twilio_signature("", f"http://testserver{PATH}", params))
        == 403
    )


def test_an_unknown_message_is_acknowledged(client: Client) -> None:
    assert post(client, {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"}) == 204


def test_json_bodies_are_not_accepted(client: Client) -> None:
    response = client.post(
        PATH,
        {"MessageSid": "SM1", "MessageStatus": "sent"},
        content_type="application/json",
        headers={"X-Twilio-Signature": "x"},
    )
    assert response.status_code in {403, 415}


@pytest.mark.django_db(transaction=True)
def test_a_callback_is_committed_by_the_service_alone(client: Client) -> None:
    """No transaction around the request (``ATOMIC_REQUESTS`` is off): the service's own
    holds the row from the read to the write, and commits it."""
    delivery = sms()
    params = {"MessageSid": delivery.provider_id, "MessageStatus": "delivered"}
    assert post(client, params) == 204
    delivery.refresh_from_db()
    assert (delivery.status, delivery.provider_status) == ("delivered", "delivered")
