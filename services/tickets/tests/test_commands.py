"""``seed_demo`` and ``seed_tickets``."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from tickets.models import (
    BusinessCalendar,
    Category,
    Comment,
    DirectoryUser,
    HistoryEntry,
    Macro,
    Role,
    SlaTarget,
    Team,
    Ticket,
)

from servidesk_shared.outbox.models import OutboxMessage
from tests.factories import DirectoryUserFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_seed_demo_without_users_seeds_the_reference_data_only() -> None:
    output = run("seed_demo")
    assert Category.objects.count() == 5
    assert SlaTarget.objects.count() == 4
    office = BusinessCalendar.objects.get(is_default=True)
    assert office.week["mon"] == [["09:00", "18:00"]]
    assert office.week["sat"] == []
    assert {"date": "2026-12-25", "name": "Navidad"} in office.holidays
    assert not Ticket.objects.exists()
    assert "next run" in output


def test_seed_demo_is_idempotent_and_goes_through_the_workflow() -> None:
    for n, role in enumerate([Role.CLIENT] * 3 + [Role.TECHNICIAN, Role.ADMIN]):
        DirectoryUserFactory(id=str(100 + n), username=f"demo{n}", role=role)
    run("seed_demo")
    tickets = Ticket.objects.count()
    events = OutboxMessage.objects.count()
    assert tickets == 9
    assert set(Ticket.objects.values_list("status", flat=True)) == {
        "pending",
        "in_progress",
        "resolved",
    }
    assert Comment.objects.filter(internal=True).exists()
    assert events > tickets  # created, assigned, status, comments...
    # Teams route the categories and hand tickets out; the admin's canned responses.
    assert set(Team.objects.values_list("name", flat=True)) == {
        "Soporte de campo",
        "Aplicaciones y accesos",
    }
    assert Category.objects.filter(team__isnull=False).count() == 4
    assert not Ticket.objects.filter(category__team__isnull=False, team__isnull=True).exists()
    assert OutboxMessage.objects.filter(event_type="team.created").count() == 2
    assert set(Macro.objects.values_list("shared", "owner_id")) == {(True, "104")}
    macros = Macro.objects.count()
    run("seed_demo")
    assert Ticket.objects.count() == tickets
    assert OutboxMessage.objects.count() == events
    assert Category.objects.count() == 5
    assert (Team.objects.count(), Macro.objects.count()) == (2, macros)


def test_seed_tickets_bulk_loads_searchable_tickets() -> None:
    run("seed_tickets", "--count", "1500", "--batch-size", "400", "--clients", "20")
    assert Ticket.objects.count() == 1500
    numbers = list(Ticket.objects.order_by("created_at").values_list("number", flat=True))
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 1500
    assert DirectoryUser.objects.filter(role=Role.CLIENT).count() == 20
    assert HistoryEntry.objects.count() == 1500
    assert Comment.objects.exists()
    assert not OutboxMessage.objects.exists()
    if connection.vendor == "postgresql":
        assert not Ticket.objects.filter(search_vector__isnull=True).exists()
    resolved = Ticket.objects.filter(status="resolved")
    assert not resolved.filter(resolved_at__isnull=True, first_response_at__isnull=True).exists()
    run("seed_tickets", "--count", "10", "--clients", "20")
    assert Ticket.objects.count() == 1510
