"""The team directory kept from ``team.*`` events: idempotent, the newest card wins, and
a team queue's message goes to whoever the directory says works it now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from notifications import services
from notifications.models import Contact, Delivery, Notification, Team

from servidesk_shared.events.schemas import (
    TeamCard,
    TeamCreated,
    TeamDeleted,
    TeamUpdated,
    TicketCreated,
)
from tests.factories import ContactFactory, TicketSnapshotFactory, as_event

pytestmark = pytest.mark.django_db


def card(cls: type[TeamCard] = TeamCreated, **overrides: Any) -> TeamCard:
    values: dict[str, Any] = {
        "id": 10,
        "name": "Soporte N1",
        "member_ids": (2, 4),
        "lead_id": 3,
        "assignment": "round_robin",
        "category_slugs": ("hardware",),
    }
    values.update(overrides)
    return cls(**values)


def team() -> tuple[str, list[str], str, bool, int]:
    row = Team.objects.get(pk="10")
    return row.name, row.member_ids, row.lead_id, row.deleted, row.sequence


def test_team_events_keep_the_card_by_the_handler(deliver: Callable[..., Any]) -> None:
    deliver(card(), event=as_event(card(), sequence=1))
    assert team() == ("Soporte N1", ["2", "4"], "3", False, 1)
    renamed = card(TeamUpdated, name="Soporte N2", member_ids=(4, "t-9"), lead_id=None)
    deliver(renamed, event=as_event(renamed, sequence=2))
    assert team() == ("Soporte N2", ["4", "t-9"], "", False, 2)
    gone = card(TeamDeleted, name="Soporte N2", member_ids=(4,), lead_id=None)
    deliver(gone, event=as_event(gone, sequence=3))
    assert team() == ("Soporte N2", ["4"], "", True, 3)
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()


def test_the_same_event_twice_changes_nothing_the_second_time() -> None:
    assert services.team_apply(card=card(), sequence=1) is True
    assert services.team_apply(card=card(), sequence=1) is False
    assert Team.objects.count() == 1
    assert team() == ("Soporte N1", ["2", "4"], "3", False, 1)


def test_an_older_card_arriving_late_never_overwrites_a_newer_one() -> None:
    # The update overtook the creation (a redelivery, a retry): the update stays.
    assert services.team_apply(card=card(TeamUpdated, name="Nuevo", member_ids=(6,)), sequence=2)
    assert not services.team_apply(card=card(), sequence=1)
    assert team() == ("Nuevo", ["6"], "3", False, 2)


def test_a_deleted_team_stays_deleted_when_an_older_update_comes_late() -> None:
    services.team_apply(card=card(), sequence=1)
    services.team_apply(card=card(TeamDeleted), sequence=3)
    assert not services.team_apply(card=card(TeamUpdated, name="Revivido"), sequence=2)
    assert team() == ("Soporte N1", ["2", "4"], "3", True, 3)


def created_into_team(team_id: int | None = 10) -> TicketCreated:
    return TicketCreated(
        ticket=TicketSnapshotFactory(client_id=1, assignee_id=None, team_id=team_id),
        actor_id=1,
    )


def told(kind: str = "team_queue") -> list[str]:
    return sorted(
        Delivery.objects.filter(channel="email", kind=kind).values_list("recipient_id", flat=True)
    )


def test_a_team_queue_message_goes_to_the_members_and_lead_known_now(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    ContactFactory(user_id="4", role="technician")
    ContactFactory(user_id="6", role="technician")
    services.team_apply(card=card(), sequence=1)
    deliver(created_into_team())
    assert told() == ["2", "3", "4"]
    services.team_apply(card=card(TeamUpdated, member_ids=(6,), lead_id=None), sequence=2)
    Delivery.objects.all().delete()
    deliver(created_into_team())
    assert told() == ["6"]


def test_an_unknown_or_deleted_team_tells_nobody_but_the_client(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    deliver(created_into_team(99))
    services.team_apply(card=card(TeamDeleted), sequence=1)
    deliver(created_into_team(10))
    assert told() == []
    assert told("created_receipt") == ["1", "1"]


def test_a_client_in_a_team_list_is_not_told_of_its_queue(
    people: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    ContactFactory(user_id="8", role="client")
    services.team_apply(card=card(member_ids=(2, 8), lead_id=None), sequence=1)
    deliver(created_into_team())
    assert told() == ["2"]
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == ["1", "2"]
