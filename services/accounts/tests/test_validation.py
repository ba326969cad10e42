"""Bad input: 400 with a message per field, and nothing half-created."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from servidesk_shared.outbox.models import OutboxMessage
from users.models import User

REGISTER = "/api/accounts/auth/register/"
USERS = "/api/accounts/users/"
ME = "/api/accounts/me/"

pytestmark = pytest.mark.django_db

VALID = {"username": "newbie", "email": "newbie@example.com", "password": "a-long-enough-secret"}


def assert_fields(response: Any, *names: str) -> dict[str, list[str]]:
    assert response.status_code == 400, response.json()
    body = response.json()
    assert set(body) == {"message", "extra"}
    fields: dict[str, list[str]] = body["extra"]["fields"]
    assert set(names) <= set(fields), fields
    assert all(isinstance(m, str) and m for messages in fields.values() for m in messages)
    return fields


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"email": "CARLA@example.com"}, ["email"]),
        ({"username": "Carla"}, ["username"]),
        ({"username": "carla", "email": "carla@example.com"}, ["username", "email"]),
        ({"password": "short"}, ["password"]),
        ({"password": "12345678901234"}, ["password"]),
        ({"password": "password1234"}, ["password"]),
        ({"password": "newbie@example.com"}, ["password"]),
        ({"phone": "12345"}, ["phone"]),
        ({"phone": "+34 not a number"}, ["phone"]),
        ({"phone": "+999123456789"}, ["phone"]),
        ({"language": "fr"}, ["language"]),
        ({"email": "not-an-email"}, ["email"]),
        ({"username": "has space"}, ["username"]),
        ({"username": "has@at"}, ["username"]),
        ({"username": "u" * 151}, ["username"]),
        ({"email": ("e" * 250) + "@example.com"}, ["email"]),
        ({"full_name": "n" * 151}, ["full_name"]),
        ({"password": "p" * 129}, ["password"]),
        ({"phone": "1" * 40}, ["phone"]),
        ({"username": "", "email": "", "password": ""}, ["username", "email", "password"]),
    ],
    ids=lambda value: str(value)[:40],
)
def test_register_rejects(
    api_client: APIClient, client_user: User, change: dict[str, Any], fields: list[str]
) -> None:
    users_before = User.objects.count()
    events_before = OutboxMessage.objects.count()
    assert_fields(api_client.post(REGISTER, {**VALID, **change}), *fields)
    assert User.objects.count() == users_before
    assert OutboxMessage.objects.count() == events_before


def test_register_requires_the_fields(api_client: APIClient) -> None:
    assert_fields(api_client.post(REGISTER, {}), "username", "email", "password")


def test_register_refuses_non_json(api_client: APIClient) -> None:
    response = api_client.post(
        REGISTER, "username=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert set(response.json()) == {"message", "extra"}


def test_register_refuses_malformed_json(api_client: APIClient) -> None:
    response = api_client.post(REGISTER, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"message", "extra"}


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"role": "wizard"}, ["role"]),
        ({"role": "superuser"}, ["role"]),
        ({"email": "carla@example.com"}, ["email"]),
        ({"password": "short"}, ["password"]),
    ],
)
def test_admin_create_rejects(
    as_user: Callable[[User], APIClient],
    admin_user: User,
    client_user: User,
    change: dict[str, Any],
    fields: list[str],
) -> None:
    users_before = User.objects.count()
    assert_fields(as_user(admin_user).post(USERS, {**VALID, **change}), *fields)
    assert User.objects.count() == users_before


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"role": "wizard"}, ["role"]),
        ({"is_active": "perhaps"}, ["is_active"]),
        ({"email": "ana@example.com"}, ["email"]),
        ({"phone": "abc"}, ["phone"]),
        ({"full_name": "n" * 151, "role": "admin"}, ["full_name"]),
    ],
)
def test_admin_update_rejects_and_changes_nothing(
    as_user: Callable[[User], APIClient],
    admin_user: User,
    client_user: User,
    change: dict[str, Any],
    fields: list[str],
) -> None:
    before = User.objects.values().get(pk=client_user.pk)
    assert_fields(as_user(admin_user).patch(f"{USERS}{client_user.pk}/", change), *fields)
    assert User.objects.values().get(pk=client_user.pk) == before


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        # The password is checked first: nothing is said about the address before it.
        ({"email": "ana@example.com", "current_password": "x"}, ["current_password"]),
        ({"email": "not-an-email", "current_password": "x"}, ["current_password"]),
        ({"phone": "0000"}, ["phone"]),
        ({"language": "de"}, ["language"]),
        ({"notify_email": "sometimes"}, ["notify_email"]),
        ({"full_name": "n" * 151}, ["full_name"]),
    ],
)
def test_me_update_rejects(
    as_user: Callable[[User], APIClient],
    client_user: User,
    admin_user: User,
    change: dict[str, Any],
    fields: list[str],
) -> None:
    before = User.objects.values().get(pk=client_user.pk)
    assert_fields(as_user(client_user).patch(ME, change), *fields)
    assert User.objects.values().get(pk=client_user.pk) == before


def test_messages_follow_the_language_asked_for(api_client: APIClient, client_user: User) -> None:
    spanish = api_client.post(
        REGISTER, {**VALID, "email": "carla@example.com"}, HTTP_ACCEPT_LANGUAGE="es"
    ).json()
    english = api_client.post(
        REGISTER, {**VALID, "email": "carla@example.com"}, HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    assert english["extra"]["fields"]["email"] == ["A user with that email address already exists."]
    assert spanish["extra"]["fields"]["email"] != english["extra"]["fields"]["email"]
