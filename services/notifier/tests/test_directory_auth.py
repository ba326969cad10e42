"""A still-valid access token against the contact cards kept from accounts' events.

The attack: a deactivated user, or an admin demoted to client, keeps using an access token
that has not expired yet; checked statelessly it kept every power it had. Once the event
has been applied here the token is refused (deactivated) or acts with the new role,
from this service's own cards, without asking accounts.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from notifications.handlers import handlers

from servidesk_shared.events.schemas import (
    UserCard,
    UserDeactivated,
    UserRegistered,
    UserUpdated,
)
from servidesk_testing import auth_header, directory
from tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db

FEED = "/api/notifications/"
DELIVERIES = "/api/notifications/deliveries/"


def apply_user_event(schema: type[UserCard], sequence: int, **card: Any) -> None:
    directory.apply_user_event(
        schema, sequence, registry=handlers, queue="notifier.events", id=7, **card
    )


def test_a_demoted_then_deactivated_admins_token(client: Client) -> None:
    NotificationFactory(recipient_id="7")
    token = auth_header(user_id=7, role="admin", username="alba")
    headers = {**token, "Accept-Language": "en"}
    apply_user_event(UserRegistered, 1)
    assert client.get(DELIVERIES, headers=headers).status_code == 200

    apply_user_event(UserUpdated, 2, role="client")

    assert client.get(DELIVERIES, headers=headers).status_code == 403  # admins only
    assert len(client.get(FEED, headers=headers).json()["results"]) == 1  # their own feed

    apply_user_event(UserDeactivated, 3, role="client", is_active=False)

    for response in (
        client.get(FEED, headers=headers),
        client.get(f"{FEED}unread-count/", headers=headers),
        client.post(f"{FEED}read-all/", headers=headers),
    ):
        assert response.status_code == 401
        assert response.json() == directory.DEACTIVATED
    # Someone else's token is untouched.
    assert client.get(DELIVERIES, headers=auth_header(user_id=8, role="admin")).status_code == 200
