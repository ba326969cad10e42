"""The profile (phone, language, notification preferences), the password and the
notification bell and feed."""

from __future__ import annotations

import pytest
from django.test import Client
from portal.api.session import TOKENS_KEY

from tests.fakes import FakeApis, error, page, token

pytestmark = pytest.mark.django_db

ME = {
    "id": 7,
    "username": "ana",
    "email": "ana@example.com",
    "full_name": "Ana Cliente",
    "phone": "",
    "role": "client",
    "language": "es",
    "notify_email": True,
    "notify_sms": False,
}
FEED = [
    {
        "id": 11,
        "event_type": "ticket.status_changed",
        "ticket_id": 41,
        "title": "SD-1041 resuelto",
        "body": "Su ticket se ha resuelto.",
        "read": False,
        "created_at": "2026-03-02T10:00:00Z",
    }
]


def test_the_profile_saves_phone_language_and_preferences(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=ME)
    apis.on("accounts", "PATCH", "me/", body=ME | {"language": "en", "phone": "+34600111222"})
    html = client_user.get("/profile/").content.decode()
    assert 'value="ana@example.com"' in html
    response = client_user.post(
        "/profile/",
        {
            "full_name": "Ana Cliente",
            "email": "ana@example.com",
            "phone": "600 111 222",
            "language": "en",
            "notify_email": "on",
            "notify_sms": "on",
        },
    )
    assert response.status_code == 302
    assert response.cookies["servidesk_language"].value == "en"
    assert apis.called("accounts", "PATCH", "me/")[0].body == {
        "full_name": "Ana Cliente",
        "email": "ana@example.com",
        "phone": "600 111 222",
        "language": "en",
        "notify_email": True,
        "notify_sms": True,
    }


def test_profile_errors_from_accounts_are_shown_next_to_the_fields(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=ME)
    apis.on(
        "accounts",
        "PATCH",
        "me/",
        400,
        error(
            "Invalid.",
            {
                "phone": ["Introduzca un número de teléfono válido."],
                "notify_sms": ["Añada un teléfono para recibir SMS."],
            },
        ),
    )
    response = client_user.post(
        "/profile/",
        {"email": "ana@example.com", "phone": "abc", "language": "es", "notify_sms": "on"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_phone-errors"' in html
    assert 'id="id_notify_sms-errors"' in html
    assert "Introduzca un número de teléfono válido." in html


def test_changing_the_password_keeps_this_session_with_the_new_pair(
    client_user: Client, apis: FakeApis
) -> None:
    fresh = token(lifetime=899)
    apis.on("accounts", "POST", "me/password/", body={"access": fresh, "refresh": "r-new"})
    response = client_user.post(
        "/profile/password/",
        {
            "current_password": "old-password",
            "password": "a-new-passphrase",
            "password_again": "a-new-passphrase",
        },
    )
    assert response.status_code == 302
    assert client_user.session[TOKENS_KEY] == {"access": fresh, "refresh": "r-new"}
    assert apis.called("accounts", "POST", "me/password/")[0].body == {
        "current_password": "old-password",
        "new_password": "a-new-passphrase",
    }


def test_the_bell_shows_the_unread_count(client_user: Client, apis: FakeApis) -> None:
    apis.on("notifier", "GET", "unread-count/", body={"count": 3})
    apis.on("tickets", "GET", "", body=page([]))
    html = client_user.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="unread-count">3<' in html
    assert "unread" in html


def test_the_feed_lists_notifications_and_opens_their_ticket(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("notifier", "GET", "", body=page(FEED))
    apis.on("notifier", "POST", "11/read/", 204)
    html = client_user.get("/notifications/?unread=1").content.decode()
    assert apis.called("notifier", "GET", "")[0].params == {"unread": ["true"]}
    assert "SD-1041 resuelto" in html
    assert "/notifications/11/open/" in html
    response = client_user.post("/notifications/11/open/", {"ticket_id": "41"})
    assert response["Location"] == "/tickets/41/"
    assert apis.called("notifier", "POST", "11/read/")


def test_all_notifications_can_be_marked_read(client_user: Client, apis: FakeApis) -> None:
    apis.on("notifier", "POST", "read-all/", 204)
    response = client_user.post("/notifications/read-all/")
    assert response["Location"] == "/notifications/"
    assert apis.called("notifier", "POST", "read-all/")


def test_the_feed_says_when_notifier_is_down(client_user: Client, apis: FakeApis) -> None:
    apis.down.add("notifier")
    response = client_user.get("/notifications/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert "Not available right now: Notifications" in response.content.decode()
