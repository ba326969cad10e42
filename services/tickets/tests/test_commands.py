"""``seed_tickets`` (``seed_demo``: tests/test_seed_demo.py)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from tickets.models import (
    Comment,
    DirectoryUser,
    HistoryEntry,
    Role,
    Ticket,
)

from servidesk_shared.outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


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
