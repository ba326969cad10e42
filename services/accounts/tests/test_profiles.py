"""``me/`` and the admins' ``users/``: reading and changing users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from tests.factories import PASSWORD, AdminFactory, ClientFactory, TechnicianFactory
from users.models import Role, User

ME = "/api/accounts/me/"
USERS = "/api/accounts/users/"

pytestmark = pytest.mark.django_db

AsUser = Callable[[User], APIClient]


class TestMe:
    def test_read(self, as_user: AsUser, client_user: User) -> None:
        response = as_user(client_user).get(ME)
        assert response.status_code == 200
        assert response.json() == {
            "id": client_user.pk,
            "username": "carla",
            "email": "carla@example.com",
            "full_name": client_user.full_name,
            "phone": "+34600111222",
            "role": "client",
            "language": "es",
            "notify_email": True,
            "notify_sms": False,
            "email_verified": False,
            "phone_verified": False,
            "pending_email": "",
        }

    def test_update_profile_and_preferences(self, as_user: AsUser, client_user: User) -> None:
        response = as_user(client_user).patch(
            ME,
            {
                "full_name": "Carla Ruiz",
                "phone": "+44 20 7946 0958",
                "language": "en",
                "notify_email": False,
                "notify_sms": True,
            },
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["full_name"] == "Carla Ruiz"
        assert body["phone"] == "+442079460958"
        assert body["language"] == "en"
        assert body["notify_email"] is False
        assert body["notify_sms"] is True

    def test_cannot_change_own_role(self, as_user: AsUser, client_user: User) -> None:
        response = as_user(client_user).patch(ME, {"role": "admin", "full_name": "Carla"})
        assert response.status_code == 400
        assert "role" in response.json()["extra"]["fields"]
        client_user.refresh_from_db()
        assert client_user.role == Role.CLIENT
        assert client_user.full_name != "Carla"  # nothing half-applied

    def test_sending_the_same_role_is_harmless(self, as_user: AsUser, client_user: User) -> None:
        assert as_user(client_user).patch(ME, {"role": "client"}).status_code == 200

    def test_other_fields_are_ignored(self, as_user: AsUser, client_user: User) -> None:
        response = as_user(client_user).patch(ME, {"is_active": False, "username": "x", "id": 9})
        assert response.status_code == 200
        client_user.refresh_from_db()
        assert client_user.is_active
        assert client_user.username == "carla"

    def test_changing_the_email_needs_the_password(
        self, as_user: AsUser, client_user: User
    ) -> None:
        api = as_user(client_user)
        response = api.patch(ME, {"email": "new@example.com"})
        assert response.status_code == 400
        assert "current_password" in response.json()["extra"]["fields"]
        response = api.patch(ME, {"email": "new@example.com", "current_password": "nope-nope"})
        assert response.status_code == 400
        response = api.patch(ME, {"email": "New@Example.com", "current_password": PASSWORD})
        assert response.status_code == 200
        # It waits for the new address to confirm it (tests/test_verification.py).
        assert response.json()["email"] == "carla@example.com"
        assert response.json()["pending_email"] == "new@example.com"

    def test_a_new_email_changes_nothing_until_confirmed(
        self, as_user: AsUser, client_user: User
    ) -> None:
        User.objects.filter(pk=client_user.pk).update(email_verified=True)
        client_user.refresh_from_db()
        as_user(client_user).patch(ME, {"email": "new@example.com", "current_password": PASSWORD})
        client_user.refresh_from_db()
        assert client_user.email == "carla@example.com"
        assert client_user.email_verified

    def test_sms_needs_a_phone(self, as_user: AsUser) -> None:
        user = ClientFactory(phone="")
        response = as_user(user).patch(ME, {"notify_sms": True})
        assert response.status_code == 400
        assert "notify_sms" in response.json()["extra"]["fields"]


class TestAdminUsers:
    def test_list_filters_and_search(self, as_user: AsUser, admin_user: User) -> None:
        TechnicianFactory(username="tech1", full_name="Teresa Gil")
        TechnicianFactory(username="tech2", is_active=False)
        ClientFactory(username="client1", email="zeta@corp.example")
        api = as_user(admin_user)

        def usernames(**params: str) -> set[str]:
            response = api.get(USERS, params)
            assert response.status_code == 200, response.json()
            return {u["username"] for u in response.json()["results"]}

        assert usernames() == {"ana", "tech1", "tech2", "client1"}
        assert usernames(role="technician") == {"tech1", "tech2"}
        assert usernames(role="technician", is_active="true") == {"tech1"}
        assert usernames(q="teresa") == {"tech1"}
        assert usernames(q="corp.example") == {"client1"}

    def test_list_shape_and_pagination(self, as_user: AsUser, admin_user: User) -> None:
        ClientFactory.create_batch(4)
        api = as_user(admin_user)
        first = api.get(USERS, {"page_size": 3}).json()
        assert set(first) == {"results", "next", "previous"}
        assert len(first["results"]) == 3
        assert set(first["results"][0]) >= {"id", "username", "role", "is_active", "date_joined"}
        second = api.get(first["next"]).json()
        assert len(second["results"]) == 2
        ids = {u["id"] for u in first["results"]} | {u["id"] for u in second["results"]}
        assert len(ids) == 5

    def test_list_ordering(self, as_user: AsUser, admin_user: User) -> None:
        ClientFactory(username="bea")
        ClientFactory(username="zoe")
        names = [
            u["username"]
            for u in as_user(admin_user).get(USERS, {"ordering": "username"}).json()["results"]
        ]
        assert names == sorted(names)

    @pytest.mark.parametrize("ordering", ["password", "-username,secret", "username__x"])
    def test_unknown_ordering_is_400(
        self, as_user: AsUser, admin_user: User, ordering: str
    ) -> None:
        response = as_user(admin_user).get(USERS, {"ordering": ordering})
        assert response.status_code == 400
        assert "username" in response.json()["extra"]["fields"]["ordering"][0]

    def test_blank_paging_means_the_first_page(self, as_user: AsUser, admin_user: User) -> None:
        response = as_user(admin_user).get(USERS, {"cursor": "", "page_size": "", "ordering": ""})
        assert response.status_code == 200, response.json()

    def test_bad_filter_value_is_400(self, as_user: AsUser, admin_user: User) -> None:
        response = as_user(admin_user).get(USERS, {"role": "wizard"})
        assert response.status_code == 400
        assert "role" in response.json()["extra"]["fields"]

    def test_create_a_technician(self, as_user: AsUser, admin_user: User) -> None:
        response = as_user(admin_user).post(
            USERS,
            {
                "username": "newtech",
                "email": "newtech@example.com",
                "password": "a-long-enough-secret",
                "role": "technician",
            },
        )
        assert response.status_code == 201, response.json()
        assert response.json()["role"] == "technician"
        assert User.objects.get(username="newtech").role == Role.TECHNICIAN

    def test_change_role(self, as_user: AsUser, admin_user: User, client_user: User) -> None:
        response = as_user(admin_user).patch(f"{USERS}{client_user.pk}/", {"role": "technician"})
        assert response.status_code == 200
        client_user.refresh_from_db()
        assert client_user.role == Role.TECHNICIAN

    def test_a_demoted_admin_loses_access_at_once(self, as_user: AsUser, admin_user: User) -> None:
        other = AdminFactory()
        other_api = as_user(other)
        assert other_api.get(USERS).status_code == 200
        as_user(admin_user).patch(f"{USERS}{other.pk}/", {"role": "client"})
        assert other_api.get(USERS).status_code == 403

    def test_deactivate_revokes_refresh_tokens(
        self, as_user: AsUser, admin_user: User, client_user: User
    ) -> None:
        api = APIClient()
        for _ in range(2):
            api.post("/api/accounts/auth/token/", {"username": "carla", "password": PASSWORD})
        response = as_user(admin_user).patch(f"{USERS}{client_user.pk}/", {"is_active": False})
        assert response.status_code == 200
        assert response.json()["is_active"] is False
        outstanding = OutstandingToken.objects.filter(user=client_user)
        assert outstanding.count() == 2
        assert BlacklistedToken.objects.filter(token__in=outstanding).count() == 2

    def test_reactivate(self, as_user: AsUser, admin_user: User) -> None:
        user = ClientFactory(is_active=False)
        response = as_user(admin_user).patch(f"{USERS}{user.pk}/", {"is_active": True})
        assert response.status_code == 200
        user.refresh_from_db()
        assert user.is_active

    @pytest.mark.parametrize("change", [{"role": "client"}, {"is_active": False}])
    def test_an_admin_cannot_demote_or_deactivate_themself(
        self, as_user: AsUser, admin_user: User, change: dict[str, Any]
    ) -> None:
        response = as_user(admin_user).patch(f"{USERS}{admin_user.pk}/", change)
        assert response.status_code == 400
        assert set(change) <= set(response.json()["extra"]["fields"])
        admin_user.refresh_from_db()
        assert admin_user.role == Role.ADMIN
        assert admin_user.is_active

    def test_retrieve(self, as_user: AsUser, admin_user: User, client_user: User) -> None:
        response = as_user(admin_user).get(f"{USERS}{client_user.pk}/")
        assert response.status_code == 200
        assert response.json()["username"] == "carla"

    @pytest.mark.parametrize("user_id", ["999999", "abc", "1.5"])
    def test_unknown_or_malformed_ids_are_404(
        self, as_user: AsUser, admin_user: User, user_id: str
    ) -> None:
        response = as_user(admin_user).get(f"{USERS}{user_id}/")
        assert response.status_code == 404
        assert set(response.json()) == {"message", "extra"}


class TestListQueryCount:
    """Zulip-style: the list costs the same number of queries for 3 users or 30."""

    def test_constant_in_the_number_of_users(
        self, as_user: AsUser, admin_user: User, django_assert_num_queries: Any
    ) -> None:
        ClientFactory.create_batch(2)
        api = as_user(admin_user)
        # The caller's row, the page (a read opens no transaction).
        with django_assert_num_queries(2):
            assert len(api.get(USERS).json()["results"]) == 3
        ClientFactory.create_batch(30)
        with django_assert_num_queries(2):
            assert len(api.get(USERS, {"page_size": 100}).json()["results"]) == 33

    def test_me_is_one_query(
        self, as_user: AsUser, client_user: User, django_assert_num_queries: Any
    ) -> None:
        api = as_user(client_user)
        with django_assert_num_queries(1):  # the caller's row
            assert api.get(ME).status_code == 200
