"""The audit trail (issue 22): role, activation, email and API key changes are recorded in
the transaction of the change, and admins read them at ``GET /api/accounts/audit/``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import ClientFactory
from users import api_keys, services, verification
from users.models import AuditEntry, User

pytestmark = pytest.mark.django_db

URL = "/api/accounts/audit/"


@pytest.fixture(autouse=True)
def _throttles_off(settings: Any) -> None:
    rest = {**settings.REST_FRAMEWORK}
    rest["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(rest["DEFAULT_THROTTLE_RATES"])
    settings.REST_FRAMEWORK = rest


@pytest.fixture
def admin_api(admin_user: User, as_user: Callable[[User], APIClient]) -> APIClient:
    return as_user(admin_user)


def actions() -> list[tuple[str, str, str]]:
    return [
        (entry.action, entry.old_value, entry.new_value)
        for entry in AuditEntry.objects.order_by("id")
    ]


def test_role_activation_and_email_changes_by_an_admin(
    admin_api: APIClient, admin_user: User, client_user: User
) -> None:
    path = f"/api/accounts/users/{client_user.pk}/"
    assert admin_api.patch(path, {"role": "technician"}, format="json").status_code == 200
    assert admin_api.patch(path, {"is_active": False}, format="json").status_code == 200
    assert admin_api.patch(path, {"is_active": True}, format="json").status_code == 200
    changed = admin_api.patch(path, {"email": "new@example.com"}, format="json")
    assert changed.status_code == 200
    assert admin_api.patch(path, {"full_name": "Carla R."}, format="json").status_code == 200

    assert actions() == [
        ("role_changed", "client", "technician"),
        ("deactivated", "", ""),
        ("activated", "", ""),
        ("email_changed", "carla@example.com", "new@example.com"),
    ]
    assert {entry.actor_id for entry in AuditEntry.objects.all()} == {admin_user.pk}
    assert {entry.user_id for entry in AuditEntry.objects.all()} == {client_user.pk}


def test_a_refused_change_leaves_no_entry(admin_api: APIClient, admin_user: User) -> None:
    other = ClientFactory(email="taken@example.com")
    path = f"/api/accounts/users/{admin_user.pk}/"
    assert admin_api.patch(path, {"role": "client"}, format="json").status_code == 400
    taken = admin_api.patch(
        f"/api/accounts/users/{ClientFactory().pk}/", {"email": other.email}, format="json"
    )
    assert taken.status_code == 400
    assert actions() == []


def test_the_entry_rolls_back_with_its_change(admin_user: User, client_user: User) -> None:
    def change_then_fail() -> None:
        with transaction.atomic():
            services.user_update(user=client_user, data={"role": "admin"}, actor=admin_user)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert actions() == []


def test_an_own_email_change_is_recorded_once_confirmed(client_user: User) -> None:
    services.user_email_change_request(user=client_user, email="carla.new@example.com")
    assert actions() == []  # pending only

    token = verification.email_token_make(client_user)
    services.user_email_confirm(user=client_user, token=token)

    assert actions() == [("email_changed", "carla@example.com", "carla.new@example.com")]
    assert AuditEntry.objects.get().actor_id == client_user.pk


def test_api_key_created_exchanged_and_revoked(admin_api: APIClient, admin_user: User) -> None:
    created = admin_api.post(
        "/api/accounts/api-keys/", {"name": "CRM", "role": "technician"}, format="json"
    ).json()
    token = APIClient().post(
        "/api/accounts/auth/token/", {"api_key": created["key"]}, format="json"
    )
    assert token.status_code == 200
    assert admin_api.delete(f"/api/accounts/api-keys/{created['id']}/").status_code == 204
    refused = APIClient().post(
        "/api/accounts/auth/token/", {"api_key": created["key"]}, format="json"
    )
    assert refused.status_code == 401

    assert actions() == [
        ("api_key_created", "", ""),
        ("api_key_exchanged", "", "issued"),
        ("api_key_revoked", "", ""),
        ("api_key_exchanged", "", "revoked"),
    ]
    entries = list(AuditEntry.objects.order_by("id"))
    assert {entry.api_key_id for entry in entries} == {int(created["id"])}
    assert [entry.actor_id for entry in entries] == [admin_user.pk, None, admin_user.pk, None]


def test_the_django_admin_is_audited(admin_user: User, client_user: User) -> None:
    before = services.events.card(client_user)
    client_user.role = "technician"
    client_user.save()
    services.user_saved_elsewhere(user=client_user, before=before, actor=admin_user)
    assert actions() == [("role_changed", "client", "technician")]


# --- the API ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["client", "technician"])
def test_admins_only(role: str, as_user: Callable[[User], APIClient]) -> None:
    user = ClientFactory(role=role)
    assert as_user(user).get(URL).status_code == 403
    assert APIClient().get(URL).status_code == 401


def test_list_shape_newest_first_and_query_count(
    admin_api: APIClient,
    admin_user: User,
    django_assert_num_queries: Any,
) -> None:
    for _ in range(3):
        user = ClientFactory()
        services.user_update(user=user, data={"role": "technician"}, actor=admin_user)
    api_keys.api_key_create(name="CRM", role="admin", created_by=admin_user)

    with django_assert_num_queries(2):  # the caller (token user), then the page
        body = admin_api.get(URL).json()

    assert body["next"] is None
    first = body["results"][0]
    assert first == {
        "id": first["id"],
        "at": first["at"],
        "action": "api_key_created",
        "actor_id": str(admin_user.pk),
        "actor_username": admin_user.username,
        "user_id": None,
        "username": None,
        "api_key_id": first["api_key_id"],
        "api_key_name": "CRM",
        "old_value": "",
        "new_value": "",
    }
    assert [row["action"] for row in body["results"]] == ["api_key_created"] + ["role_changed"] * 3
    second = body["results"][1]
    assert second["username"]
    assert second["old_value"] == "client"


def test_filters(admin_api: APIClient, admin_user: User) -> None:
    ana, bea = ClientFactory(), ClientFactory()
    services.user_update(user=ana, data={"role": "technician"}, actor=admin_user)
    services.user_update(user=bea, data={"is_active": False}, actor=admin_user)
    old = AuditEntry.objects.get(user=bea)
    old.at = timezone.now() - timedelta(days=3)
    old.save()

    def keys(params: dict[str, Any]) -> list[tuple[str, str]]:
        response = admin_api.get(URL, params)
        assert response.status_code == 200, response.json()
        return [(row["action"], row["user_id"]) for row in response.json()["results"]]

    assert keys({"user": bea.pk}) == [("deactivated", str(bea.pk))]
    assert keys({"action": "role_changed"}) == [("role_changed", str(ana.pk))]
    assert len(keys({"action": ["role_changed", "deactivated"]})) == 2
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert keys({"since": since}) == [("role_changed", str(ana.pk))]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"user": "abc"}, "user"),
        ({"user": "0"}, "user"),
        ({"action": "nope"}, "action"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "zzz"}, "cursor"),
    ],
)
def test_bad_filters_are_400(admin_api: APIClient, params: dict[str, str], field: str) -> None:
    response = admin_api.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]


def test_an_admin_api_key_may_read_the_trail(admin_user: User) -> None:
    created = api_keys.api_key_create(name="SIEM", role="admin", created_by=admin_user)
    access = api_keys.api_key_exchange(key=created.key, request=None)
    api = APIClient(headers={"Authorization": f"Bearer {access}"})
    assert api.get(URL).status_code == 200
