"""Schemathesis on every notifier operation, as anonymous, client, technician and admin.

``notification_id`` values name a notification of each signed-in caller, so marking one
read is reached for its owner and refused (404) for everyone else; ``webhook_id`` and
``delivery_id`` name a webhook and one of its deliveries (admins reach them).
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from notifications.models import WebhookDelivery
from notifications.webhooks import services as webhooks

from servidesk_testing.api_fuzzing import ServiceSchemathesisTests
from tests.factories import DeliveryFactory, NotificationFactory

USERS = {"client": 101, "technician": 201, "admin": 301}


class TestSchemathesis(ServiceSchemathesisTests):
    prefix = "/api/notifications/"

    @pytest.fixture
    def path_values(self, db: None) -> dict[str, list[str]]:
        notifications = [NotificationFactory(recipient_id=str(uid)) for uid in USERS.values()]
        DeliveryFactory()
        hook = webhooks.webhook_create(
            url="https://hooks.example.com/", events=["*"], active=True, created_by="301"
        )
        delivery = WebhookDelivery.objects.create(
            webhook=hook,
            event_id="6f1e8c8e-3a39-4c8e-9a43-0d3f3b1c2a11",
            event_type="ticket.created",
            aggregate_id="42",
            sequence=1,
            occurred_at=timezone.now(),
        )
        return {
            "notification_id": [str(n.pk) for n in notifications],
            "webhook_id": [str(hook.pk)],
            "delivery_id": [str(delivery.pk)],
        }
