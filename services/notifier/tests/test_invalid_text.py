"""NUL in any request string: a 400 that names the field and the character.

The shared ``InvalidTextMiddleware`` refuses NUL (PostgreSQL cannot store it) and lone
surrogates before any view runs. Notifier's validated inputs already refused NUL (its
serializers and filter forms), so this pins the shared answer here too: for a correctly
signed Twilio callback, and for feed parameters the feed does not read at all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from servidesk_testing import auth_header
from tests.fakes import twilio_signature

pytestmark = pytest.mark.django_db

PATH = "/api/notifications/twilio/status/"
TOKEN = "callback-test-token"


def assert_field(response: Any, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert list(body["extra"]["fields"]) == [field]
    assert "U+0000" in body["extra"]["fields"][field][0]


def test_nul_in_a_signed_twilio_callback_is_a_400(client: Client, settings: Settings) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_STATUS_CALLBACK_URL = ""  # derived from WEB_BASE_URL (http://testserver)
    params = {"MessageSid": "SM\x00" + "a" * 30, "MessageStatus": "delivered"}
    signature = twilio_signature(TOKEN, f"http://testserver{PATH}", params)
    response = client.post(
        PATH,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert_field(response, "MessageSid")


@pytest.mark.parametrize("param", ["ticket_id", "event_type"])
def test_nul_in_a_feed_filter_is_a_400(client: Client, param: str) -> None:
    response = client.get(
        "/api/notifications/", {param: "a\x00b"}, headers=auth_header(user_id=1, role="client")
    )
    assert_field(response, param)
