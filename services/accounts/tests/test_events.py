"""User events go to the outbox in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from servidesk_shared.events.envelope import decode, parse_envelope
from servidesk_shared.outbox.models import OutboxMessage
from tests.factories import PASSWORD, AdminFactory, ClientFactory
from users.models import User

pytestmark = pytest.mark.django_db

AsUser = Callable[[User], APIClient]


def events_of(user: User | int) -> list[dict[str, Any]]:
    pk = user if isinstance(user, int) else user.pk
    return [
        message.envelope
        for message in OutboxMessage.objects.filter(aggregate_id=str(pk)).order_by("id")
    ]


def types_of(user: User | int) -> list[str]:
    return [envelope["type"] for envelope in events_of(user)]


def test_register_publishes_the_contact_card(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/accounts/auth/register/",
        {
            "username": "nuria",
            "email": "nuria@example.com",
            "password": "a-long-enough-secret",
            "full_name": "Nuria Vidal",
            "phone": "+34600111222",
        },
    )
    envelope, code_envelope = events_of(response.json()["id"])
    assert code_envelope["type"] == "verification.phone_code"  # the phone's code, after
    event = decode(parse_envelope(envelope))  # what a consumer would read
    assert event.type == "user.registered"
    assert event.producer == "accounts"
    assert event.sequence == 1
    assert envelope["data"] == {
        "id": response.json()["id"],
        "username": "nuria",
        "full_name": "Nuria Vidal",
        "email": "nuria@example.com",
        "phone": "+34600111222",
        "role": "client",
        "language": "es",
        "notify_email": True,
        "notify_sms": False,
        "is_active": True,
        "email_verified": False,
        "phone_verified": False,
    }


def test_profile_changes_publish_user_updated(as_user: AsUser, client_user: User) -> None:
    as_user(client_user).patch("/api/accounts/me/", {"language": "en", "notify_sms": True})
    (envelope,) = events_of(client_user)
    assert envelope["type"] == "user.updated"
    assert envelope["data"]["language"] == "en"
    assert envelope["data"]["notify_sms"] is True


def test_a_patch_that_changes_nothing_publishes_nothing(as_user: AsUser, client_user: User) -> None:
    as_user(client_user).patch("/api/accounts/me/", {"language": client_user.language})
    assert events_of(client_user) == []


def test_a_password_change_is_not_a_card_change(as_user: AsUser, client_user: User) -> None:
    as_user(client_user).post(
        "/api/accounts/me/password/",
        {"current_password": PASSWORD, "new_password": "another-long-secret"},
    )
    assert events_of(client_user) == []


def test_role_change_then_deactivation_then_reactivation(
    as_user: AsUser, admin_user: User, client_user: User
) -> None:
    api = as_user(admin_user)
    url = f"/api/accounts/users/{client_user.pk}/"
    api.patch(url, {"role": "technician"})
    api.patch(url, {"is_active": False})
    api.patch(url, {"is_active": True})
    envelopes = events_of(client_user)
    assert [e["type"] for e in envelopes] == ["user.updated", "user.deactivated", "user.updated"]
    assert [e["sequence"] for e in envelopes] == [1, 2, 3]
    assert envelopes[0]["data"]["role"] == "technician"
    assert envelopes[1]["data"]["is_active"] is False
    assert envelopes[2]["data"]["is_active"] is True


def test_admin_create_publishes_registered(as_user: AsUser, admin_user: User) -> None:
    response = as_user(admin_user).post(
        "/api/accounts/users/",
        {
            "username": "tech",
            "email": "tech@example.com",
            "password": "a-long-enough-secret",
            "role": "technician",
        },
    )
    (envelope,) = events_of(response.json()["id"])
    assert envelope["type"] == "user.registered"
    assert envelope["data"]["role"] == "technician"


def test_a_refused_change_publishes_nothing(as_user: AsUser, admin_user: User) -> None:
    as_user(admin_user).patch(f"/api/accounts/users/{admin_user.pk}/", {"role": "client"})
    assert events_of(admin_user) == []


def test_createsuperuser_makes_an_admin_and_says_so() -> None:
    call_command(
        "createsuperuser",
        interactive=False,
        username="root",
        email="Root@Example.com",
        verbosity=0,
    )
    user = User.objects.get(username="root")
    assert user.role == "admin"
    assert user.email == "root@example.com"
    assert user.is_superuser
    assert user.email_verified  # the operator's word, as an admin's in the API
    assert types_of(user) == ["user.registered"]


def test_changes_in_the_django_admin_publish_too(client: Client) -> None:
    root = AdminFactory(username="root", is_staff=True, is_superuser=True)
    target = ClientFactory(username="target", email="target@example.com", phone="+34600111222")
    client.force_login(root)
    form = {
        "username": "target",
        "full_name": "Target Renamed",
        "email": "target@example.com",
        "phone": "+34600111222",
        "language": "es",
        "notify_email": "on",
        "role": "client",
        "is_active": "",  # unchecked: deactivate
        "date_joined_0": "2024-01-01",
        "date_joined_1": "10:00:00",
    }
    response = client.post(f"/api/accounts/admin/users/user/{target.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    target.refresh_from_db()
    assert target.full_name == "Target Renamed"
    assert not target.is_active
    assert types_of(target) == ["user.deactivated"]


def test_the_django_admin_cannot_delete_users(client: Client) -> None:
    root = AdminFactory(username="root", is_staff=True, is_superuser=True)
    target = ClientFactory()
    client.force_login(root)
    response = client.get(f"/api/accounts/admin/users/user/{target.pk}/delete/")
    assert response.status_code == 403
