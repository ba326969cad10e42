"""The delivery log for admins, with filters."""

from __future__ import annotations

import uuid
from datetime import timedelta
from datetime import timezone as dt_timezone
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from servidesk_testing import auth_header
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db

URL = "/api/notifications/deliveries/"
ADMIN = auth_header(user_id=3, role="admin")


@pytest.mark.parametrize(("role", "status"), [("client", 403), ("technician", 403), ("admin", 200)])
def test_admins_only(client: Client, role: str, status: int) -> None:
    assert client.get(URL, headers=auth_header(user_id=3, role=role)).status_code == status


def test_listing_shape_and_query_count(client: Client, django_assert_num_queries: Any) -> None:
    DeliveryFactory.create_batch(5)
    with django_assert_num_queries(2):  # the caller in the user directory, then the page
        body = client.get(URL, headers=ADMIN).json()
    assert len(body["results"]) == 5
    assert set(body["results"][0]) == {
        "id",
        "event_id",
        "event_type",
        "channel",
        "recipient_id",
        "kind",
        "ticket_id",
        "address",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "provider_id",
        "provider_status",
        "created_at",
        "updated_at",
        "sent_at",
    }
    assert "context" not in body["results"][0]


def test_filters(client: Client) -> None:
    event = uuid.uuid4()
    old = timezone.now() - timedelta(days=2)
    failed = DeliveryFactory(status="failed", channel="sms", recipient_id="9", last_error="21211")
    skipped = DeliveryFactory(status="skipped", channel="email", event_id=event, ticket_id="77")
    sent = DeliveryFactory(status="sent", channel="email", created_at=old, provider_id="SMabc")

    def ids(**params: str | list[str]) -> set[int]:
        response = client.get(URL, params, headers=ADMIN)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="failed") == {failed.pk}
    assert ids(status=["failed", "skipped"]) == {failed.pk, skipped.pk}
    assert ids(channel="email") == {skipped.pk, sent.pk}
    assert ids(recipient_id="9") == {failed.pk}
    assert ids(event_id=str(event)) == {skipped.pk}
    assert ids(ticket_id="77") == {skipped.pk}
    assert ids(provider_id="SMabc") == {sent.pk}
    assert ids(created_before=(old + timedelta(hours=1)).isoformat()) == {sent.pk}
    assert ids(created_after=(old + timedelta(hours=1)).isoformat()) == {failed.pk, skipped.pk}
    # An offset Python reads but PostgreSQL refuses (past ±15:59) was a 500: the same instant.
    far_east = (old + timedelta(hours=1)).astimezone(dt_timezone(timedelta(hours=18, minutes=5)))
    assert ids(created_before=far_east.isoformat()) == {sent.pk}
    assert (
        client.get(URL, {"created_before": "0001-01-01T00:00+05:00"}, headers=ADMIN).status_code
        == 400
    )


def test_bad_filter_values_are_validation_errors(client: Client) -> None:
    response = client.get(URL, {"status": "lost", "channel": "fax"}, headers=ADMIN)
    assert response.status_code == 400
    assert set(response.json()["extra"]["fields"]) == {"status", "channel"}
