"""Admins send a failed email or SMS again (issue 22), and filter the logs by failure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from notifications import phone_code, services
from notifications.models import Delivery, WebhookDelivery

from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import TicketCreated
from servidesk_testing import auth_header
from tests.factories import DeliveryFactory, TicketSnapshotFactory

pytestmark = pytest.mark.django_db

URL = "/api/notifications/deliveries/"
ADMIN = auth_header(user_id=3, role="admin")


def retry(client: Client, delivery_id: object, headers: dict[str, str] = ADMIN) -> Any:
    return client.post(f"{URL}{delivery_id}/retry/", headers=headers)


@pytest.mark.parametrize("role", ["client", "technician"])
def test_admins_only(client: Client, role: str) -> None:
    failed = DeliveryFactory(status="failed")
    assert retry(client, failed.pk, auth_header(user_id=3, role=role)).status_code == 403
    assert client.post(f"{URL}{failed.pk}/retry/").status_code == 401
    failed.refresh_from_db()
    assert failed.status == "failed"


def test_a_failed_delivery_is_queued_again_and_a_sender_claims_it(client: Client) -> None:
    failed = DeliveryFactory(
        status="failed",
        channel="sms",
        attempts=6,
        next_attempt_at=timezone.now() + timedelta(hours=1),
        last_error="gave up after 6 attempts: 503",
        provider_id="SMabc",
        provider_status="failed",
    )

    response = retry(client, failed.pk)

    assert response.status_code == 202
    body = response.json()
    assert (body["id"], body["status"], body["attempts"]) == (failed.pk, "queued", 0)
    assert body["last_error"] == ""
    assert body["provider_id"] == ""
    failed.refresh_from_db()
    assert failed.next_attempt_at <= timezone.now()
    assert [d.pk for d in services.delivery_claim_due(channel="sms", limit=10)] == [failed.pk]


@pytest.mark.parametrize("status", ["queued", "sent", "delivered", "skipped"])
def test_only_a_failed_delivery_is_retried(client: Client, status: str) -> None:
    other = DeliveryFactory(status=status, attempts=1)
    response = retry(client, other.pk, {**ADMIN, "Accept-Language": "en"})
    assert response.status_code == 409
    assert response.json()["message"] == "Only a failed delivery can be retried."
    other.refresh_from_db()
    assert (other.status, other.attempts) == (status, 1)


def test_a_verification_code_is_never_sent_again(client: Client) -> None:
    code = DeliveryFactory(status="failed", channel="sms", kind=phone_code.KIND)
    response = retry(client, code.pk)
    assert response.status_code == 409
    assert Delivery.objects.get(pk=code.pk).status == "failed"


def test_unknown_ids_are_404(client: Client) -> None:
    assert retry(client, 999999).status_code == 404
    assert client.post(f"{URL}abc/retry/", headers=ADMIN).status_code == 404


def test_messages_are_in_spanish_first(client: Client) -> None:
    sent = DeliveryFactory(status="sent")
    response = client.post(f"{URL}{sent.pk}/retry/", headers={**ADMIN, "Accept-Language": "es"})
    assert response.json()["message"] == "Solo se puede reintentar un envío fallido."


def test_the_log_filters_failed_since(client: Client, django_assert_num_queries: Any) -> None:
    old = timezone.now() - timedelta(days=3)
    DeliveryFactory(status="failed", created_at=old)
    recent = DeliveryFactory(status="failed")
    DeliveryFactory(status="sent")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    with django_assert_num_queries(2):
        response = client.get(URL, {"status": "failed", "since": since}, headers=ADMIN)
    assert [row["id"] for row in response.json()["results"]] == [recent.pk]
    bad = client.get(URL, {"since": "yesterday"}, headers=ADMIN)
    assert bad.status_code == 400
    assert "since" in bad.json()["extra"]["fields"]


def test_webhook_deliveries_filter_by_status(
    client: Client, deliver: Callable[..., Event[Any]], django_assert_num_queries: Any
) -> None:
    made = client.post(
        "/api/notifications/webhooks/",
        {"url": "https://hooks.example.com/in", "events": ["*"]},
        content_type="application/json",
        headers=ADMIN,
    ).json()
    deliver(TicketCreated(ticket=TicketSnapshotFactory(id=42), actor_id=1))
    deliver(TicketCreated(ticket=TicketSnapshotFactory(id=43), actor_id=1))
    WebhookDelivery.objects.filter(aggregate_id="42").update(status="failed")
    url = f"/api/notifications/webhooks/{made['id']}/deliveries/"

    with django_assert_num_queries(3):  # the caller, the endpoint, the page
        failed = client.get(url, {"status": "failed"}, headers=ADMIN).json()["results"]

    assert [row["aggregate_id"] for row in failed] == ["42"]
    everything = client.get(url, headers=ADMIN).json()["results"]
    assert len(everything) == 2
    bad = client.get(url, {"status": "lost"}, headers=ADMIN)
    assert bad.status_code == 400
    assert "status" in bad.json()["extra"]["fields"]
