"""Schemathesis on every notifier operation, as anonymous, client, technician and admin.

``notification_id`` values name a notification of each signed-in caller, so marking one
read is reached for its owner and refused (404) for everyone else.
"""

from __future__ import annotations

import pytest

from servidesk_testing.api_fuzzing import ServiceSchemathesisTests
from tests.factories import DeliveryFactory, NotificationFactory

USERS = {"client": 101, "technician": 201, "admin": 301}


class TestSchemathesis(ServiceSchemathesisTests):
    prefix = "/api/notifications/"

    @pytest.fixture
    def path_values(self, db: None) -> dict[str, list[str]]:
        notifications = [NotificationFactory(recipient_id=str(uid)) for uid in USERS.values()]
        DeliveryFactory()
        return {"notification_id": [str(n.pk) for n in notifications]}
