"""A still-valid access token against the people kept from accounts' events.

The attack: an admin who is deactivated, or demoted to technician, keeps downloading
reports with an access token that has not expired yet; checked statelessly it kept every
power it had. Once the event has been applied here the token is refused (deactivated) or
acts with the new role, from this service's own people, without asking accounts.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from reports.handlers import handlers

from servidesk_shared.events.schemas import (
    UserCard,
    UserDeactivated,
    UserRegistered,
    UserUpdated,
)
from servidesk_testing import auth_header, directory

pytestmark = pytest.mark.django_db

SUMMARY = "/api/reports/summary/"
MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


def apply_user_event(schema: type[UserCard], sequence: int, **card: Any) -> None:
    directory.apply_user_event(
        schema, sequence, registry=handlers, queue="reports.events", id=50, **card
    )


def test_a_demoted_then_deactivated_admins_token(client: Client) -> None:
    headers = {**auth_header(user_id=50, role="admin"), "Accept-Language": "en"}
    apply_user_event(UserRegistered, 1)
    assert client.get(SUMMARY, MARCH, headers=headers).status_code == 200

    apply_user_event(UserUpdated, 2, role="technician")

    demoted = client.get(SUMMARY, MARCH, headers=headers)
    assert demoted.status_code == 403
    assert client.get("/api/reports/export.csv", MARCH, headers=headers).status_code == 403

    apply_user_event(UserDeactivated, 3, role="technician", is_active=False)

    for path in (SUMMARY, "/api/reports/export.csv", "/api/reports/charts/technicians.png"):
        response = client.get(path, MARCH, headers=headers)
        assert response.status_code == 401
        assert response.json() == directory.DEACTIVATED
    # Another admin's token is untouched.
    other = auth_header(user_id=51, role="admin")
    assert client.get(SUMMARY, MARCH, headers=other).status_code == 200


def test_a_deactivation_counts_whatever_its_card_says(client: Client) -> None:
    headers = auth_header(user_id=50, role="admin")
    apply_user_event(UserRegistered, 1)
    apply_user_event(UserDeactivated, 2, is_active=True)
    assert client.get(SUMMARY, MARCH, headers=headers).status_code == 401
