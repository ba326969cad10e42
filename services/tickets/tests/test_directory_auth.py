"""A still-valid access token against the user directory kept from accounts' events.

The attack: an admin deactivates a user, or demotes a technician to client; the user's
access token stays valid for up to 15 minutes and, checked statelessly, kept every power
it had. Once the event has been applied here the token must be refused (deactivated) or
act with the new role, from this service's own directory, without asking accounts.
"""

from __future__ import annotations

from typing import Any

import pytest
from tickets.handlers import handlers

from servidesk_shared.events.schemas import UserCard, UserDeactivated, UserUpdated
from servidesk_testing import consume
from tests.conftest import Api, Caller

pytestmark = pytest.mark.django_db


def apply_user_event(schema: type[UserCard], caller: Caller, sequence: int, **card: Any) -> None:
    """A user event from accounts, applied as ``consume_events`` applies it."""
    fields: dict[str, Any] = {
        "id": caller.id,
        "username": caller.username,
        "full_name": caller.username.title() + " Example",
        "email": f"{caller.username}@example.com",
        "phone": "",
        "role": caller.role,
        "language": "en",
        "notify_email": True,
        "notify_sms": False,
        "is_active": True,
        **card,
    }
    assert consume(schema(**fields), registry=handlers, queue="tickets.users", sequence=sequence)


def test_a_deactivated_users_token_is_refused_once_the_event_arrives(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    technician = callers["technician"]
    ticket = open_ticket("client")
    assert api.get("/api/tickets/", as_=technician).status_code == 200

    apply_user_event(UserDeactivated, technician, 1, is_active=False)

    for response in (
        api.get("/api/tickets/", as_=technician),
        api.get(f"/api/tickets/{ticket.pk}/", as_=technician),
        api.post(f"/api/tickets/{ticket.pk}/status/", {"status": "in_progress"}, as_=technician),
    ):
        assert response.status_code == 401
        assert response.json() == {
            "message": "This account has been deactivated. Ask an administrator to reactivate it.",
            "extra": {"code": "user_inactive"},
        }
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    # Everyone else goes on as before.
    assert api.get("/api/tickets/", as_=callers["other_technician"]).status_code == 200

    apply_user_event(UserUpdated, technician, 2)  # reactivated
    assert api.get("/api/tickets/", as_=technician).status_code == 200


def test_a_demoted_technicians_token_acts_as_a_client(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    technician = callers["technician"]
    someone_elses = open_ticket("client")
    assert api.get(f"/api/tickets/{someone_elses.pk}/", as_=technician).status_code == 200
    assert api.get("/api/tickets/assignees/", as_=technician).status_code == 200

    apply_user_event(UserUpdated, technician, 1, role="client")

    # Another client's ticket is not found; the queue is empty; staff routes say 403.
    assert api.get(f"/api/tickets/{someone_elses.pk}/", as_=technician).status_code == 404
    assert api.get("/api/tickets/", as_=technician).json()["results"] == []
    assert api.get("/api/tickets/assignees/", as_=technician).status_code == 403
    assign = api.post(
        f"/api/tickets/{someone_elses.pk}/assign/", {"assignee_id": technician.id}, as_=technician
    )
    assert assign.status_code == 404


def test_a_promoted_clients_token_acts_with_the_new_role(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    client = callers["client"]
    others = open_ticket("other_client")
    assert api.get(f"/api/tickets/{others.pk}/", as_=client).status_code == 404

    apply_user_event(UserUpdated, client, 1, role="technician")

    assert api.get(f"/api/tickets/{others.pk}/", as_=client).status_code == 200


def test_a_caller_the_directory_has_not_heard_of_is_taken_as_the_token_says(
    api: Api, db: Any
) -> None:
    # Their user.registered has not arrived yet: the signed token stands.
    newcomer = Caller(77, "technician", "nuevo")
    assert api.get("/api/tickets/assignees/", as_=newcomer).status_code == 200
