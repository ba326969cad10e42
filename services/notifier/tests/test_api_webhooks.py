"""The webhooks API: admins only, the secret shown once, clear 400s, the delivery log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from notifications.models import Webhook, WebhookDelivery
from pytest_django.fixtures import Settings as SettingsWrapper

from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import TicketCreated
from servidesk_testing import auth_header
from tests.factories import TicketSnapshotFactory

pytestmark = pytest.mark.django_db

URL = "/api/notifications/webhooks/"
ADMIN = auth_header(user_id=3, role="admin")
GOOD = {"url": "https://hooks.example.com/servidesk", "events": ["ticket.created"]}


def create(client: Client, **body: Any) -> Any:
    response = client.post(URL, {**GOOD, **body}, content_type="application/json", headers=ADMIN)
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.parametrize("role", ["client", "technician"])
def test_admins_only(client: Client, role: str) -> None:
    other = auth_header(user_id=5, role=role)
    hook = Webhook.objects.create(url="https://hooks.example.com/", events=["*"], secret="s")
    assert client.get(URL, headers=other).status_code == 403
    posted = client.post(URL, GOOD, content_type="application/json", headers=other)
    assert posted.status_code == 403
    assert client.get(f"{URL}{hook.pk}/", headers=other).status_code == 403
    assert client.delete(f"{URL}{hook.pk}/", headers=other).status_code == 403
    assert client.post(f"{URL}{hook.pk}/rotate-secret/", headers=other).status_code == 403
    assert client.get(f"{URL}{hook.pk}/deliveries/", headers=other).status_code == 403
    assert client.get(URL).status_code == 401
    assert Webhook.objects.count() == 1


def test_the_secret_is_shown_on_creation_and_rotation_only(client: Client) -> None:
    made = create(client)
    assert set(made) >= {"id", "url", "events", "active", "secret"}
    assert made["secret"].startswith("whsec_")
    assert made["active"] is True
    assert Webhook.objects.get(pk=made["id"]).secret == made["secret"]

    listed = client.get(URL, headers=ADMIN).json()["results"]
    assert [h["id"] for h in listed] == [made["id"]]
    assert "secret" not in listed[0]
    one = client.get(f"{URL}{made['id']}/", headers=ADMIN).json()
    assert "secret" not in one
    assert one["events"] == ["ticket.created"]

    rotated = client.post(f"{URL}{made['id']}/rotate-secret/", headers=ADMIN)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != made["secret"]
    assert Webhook.objects.get(pk=made["id"]).secret == rotated.json()["secret"]


def test_patch_and_delete(client: Client) -> None:
    made = create(client)
    url = f"{URL}{made['id']}/"
    patched = client.patch(
        url, {"events": ["*"], "active": False}, content_type="application/json", headers=ADMIN
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["events"], patched.json()["active"]) == (["*"], False)
    assert patched.json()["url"] == GOOD["url"]
    bad = client.patch(url, {"url": "ftp://x/"}, content_type="application/json", headers=ADMIN)
    assert bad.status_code == 400
    assert client.delete(url, headers=ADMIN).status_code == 204
    assert client.get(url, headers=ADMIN).status_code == 404
    assert client.delete(url, headers=ADMIN).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"url": "ftp://hooks.example.com/"}, "url", "https://"),
        ({"url": "http://hooks.example.com/"}, "url", "WEBHOOK_ALLOW_HTTP"),
        ({"url": "https://10.0.0.8/hook"}, "url", "10.0.0.8"),
        # Issue 20's list of inside destinations, refused at once by the API.
        ({"url": "https://127.0.0.1/hook"}, "url", "127.0.0.1"),
        ({"url": "https://10.0.0.1/hook"}, "url", "10.0.0.1"),
        ({"url": "https://localhost:8443/hook"}, "url", "localhost"),
        ({"url": "https://[::ffff:127.0.0.1]/hook"}, "url", "::ffff:"),
        ({"url": "https://169.254.169.254/"}, "url", "169.254.169.254"),
        ({"url": "https://[::1]/"}, "url", "::1"),
        ({"url": "https://me:pw@hooks.example.com/"}, "url", "contraseña"),
        ({"url": "not a url"}, "url", ""),
        ({"url": ""}, "url", ""),
        ({"events": ["ticket.exploded"]}, "events", "ticket.exploded"),
        ({"events": ["verification.phone_code"]}, "events", "verification.phone_code"),
        ({"events": ["*", "ticket.created"]}, "events", "*"),
        ({"events": []}, "events", ""),
        ({"events": "ticket.created"}, "events", ""),
        ({"active": "perhaps"}, "active", ""),
    ],
)
def test_clear_400s(client: Client, body: dict[str, Any], field: str, says: str) -> None:
    response = client.post(URL, {**GOOD, **body}, content_type="application/json", headers=ADMIN)
    assert response.status_code == 400, response.content
    text = str(response.json())
    assert field in text
    assert says in text
    assert not Webhook.objects.exists()


def test_messages_are_in_spanish_first(client: Client) -> None:
    response = client.post(
        URL, {**GOOD, "url": "ftp://x.example/"}, content_type="application/json", headers=ADMIN
    )
    assert response.json()["extra"]["fields"]["url"] == ["La URL debe empezar por https://."]


def test_unknown_events_are_named_with_the_known_ones(client: Client) -> None:
    response = client.post(
        URL,
        {**GOOD, "events": ["ticket.created", "ticket.nope"]},
        content_type="application/json",
        headers=ADMIN,
    )
    text = str(response.json())
    assert "ticket.nope" in text
    assert "ticket.commented" in text  # the known ones are listed


def test_http_is_accepted_when_allowed(client: Client, settings: SettingsWrapper) -> None:
    settings.WEBHOOK_ALLOW_HTTP = True
    assert create(client, url="http://hooks.example.com/")["url"] == "http://hooks.example.com/"
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert create(client, url="http://127.0.0.1:9999/")["url"] == "http://127.0.0.1:9999/"


def test_the_delivery_log_and_redelivery(
    client: Client, deliver: Callable[..., Event[Any]]
) -> None:
    made = create(client, events=["*"])
    other = create(client, events=["*"])
    deliver(TicketCreated(ticket=TicketSnapshotFactory(id=42), actor_id=1))
    deliver(TicketCreated(ticket=TicketSnapshotFactory(id=43), actor_id=1))
    url = f"{URL}{made['id']}/deliveries/"
    page = client.get(url, headers=ADMIN)
    assert page.status_code == 200
    rows = page.json()["results"]
    assert [r["aggregate_id"] for r in rows] == ["43", "42"]  # newest first, this endpoint's
    assert set(rows[0]) >= {
        "id",
        "delivery_id",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_duration_ms",
        "next_retry_at",
    }
    assert rows[0]["status"] == "queued"
    assert rows[0]["next_retry_at"] is not None
    assert "data" not in rows[0]

    first = rows[1]["id"]
    again = client.post(f"{url}{first}/redeliver/", headers=ADMIN)
    assert again.status_code == 202
    assert again.json()["redelivery_of"] == first
    assert again.json()["event_id"] == rows[1]["event_id"]
    assert WebhookDelivery.objects.filter(webhook_id=made["id"]).count() == 3

    # another endpoint's delivery is not found through this one
    theirs = WebhookDelivery.objects.filter(webhook_id=other["id"]).first()
    assert theirs is not None
    assert client.post(f"{url}{theirs.pk}/redeliver/", headers=ADMIN).status_code == 404
    assert client.get(f"{URL}999999/deliveries/", headers=ADMIN).status_code == 404
    assert (
        client.post(f"{URL}{made['id']}/deliveries/999999/redeliver/", headers=ADMIN).status_code
        == 404
    )
