"""``tickets.signals`` lists every receiver of each signal beside its declaration, and
the lists are true: reading services.py and signals.py shows every effect of a write."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.dispatch import Signal
from tickets import signals
from tickets.models import Comment, Status, Team, Ticket

from tests.conftest import Caller

pytestmark = pytest.mark.django_db

#: ``#: What it means. Receivers: ``a.b``, ``c.d``.`` right above ``name = Signal()``.
DECLARATION = re.compile(r"^#:.*Receivers: (?P<receivers>.*)\n(?P<signal>\w+) = Signal\(\)$", re.M)


def listed_receivers() -> dict[str, set[str]]:
    source = Path(signals.__file__).read_text()
    return {
        match["signal"]: set(re.findall(r"``([\w.]+)``", match["receivers"]))
        for match in DECLARATION.finditer(source)
    }


def declared_signals() -> set[str]:
    return {name for name, value in vars(signals).items() if isinstance(value, Signal)}


def test_every_signal_lists_its_receivers() -> None:
    # A signal nobody listens to yet says so: ``Receivers: none.``
    assert set(listed_receivers()) == declared_signals()


def test_the_listed_receivers_are_the_connected_ones(
    callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")
    actor = callers["technician"].actor
    comment = Comment.objects.create(ticket=ticket, author_id=actor.id, body="On it.")
    team = Team.objects.create(name="Network")
    arguments: dict[str, dict[str, Any]] = {
        "ticket_created": {},
        "ticket_status_changed": {"from_status": Status.PENDING, "to_status": Status.IN_PROGRESS},
        "ticket_assigned": {"from_assignee": None, "to_assignee": actor.id},
        "ticket_commented": {"comment": comment},
        "ticket_updated": {"changes": {"title": ("a", "b")}},
        "ticket_merged": {"into": open_ticket("client")},
        "team_changed": {"team": team, "change": "updated"},
        "ticket_sla_alert": {
            "kind": "warning",
            "clock": "resolution",
            "due_at": ticket.resolution_due,
            "cycle": 1,
        },
        "ticket_closed": {"from_status": Status.RESOLVED},
        "ticket_rated": {"previous_rating": None},
    }
    ticket.rating, ticket.rated_at = "good", ticket.created_at
    assert set(arguments) == declared_signals()
    listed = listed_receivers()
    for name, extra in arguments.items():
        signal: Signal = getattr(signals, name)
        # ``send`` answers with every receiver it called (Django's documented return value).
        if name.startswith("team_"):
            called = signal.send(sender=Team, **extra)
        else:
            called = signal.send(sender=Ticket, ticket=ticket, actor=actor, **extra)
        connected = {f"{receiver.__module__}.{receiver.__qualname__}" for receiver, _ in called}
        assert connected == listed[name], name


def test_a_receiver_missing_from_the_list_is_seen(
    callers: dict[str, Caller], open_ticket: Any
) -> None:
    def audit(sender: Any, **kwargs: Any) -> None:
        pass

    ticket = open_ticket("client")
    signals.ticket_created.connect(audit, sender=Ticket, dispatch_uid="test-audit")
    try:
        called = signals.ticket_created.send(
            sender=Ticket, ticket=ticket, actor=callers["client"].actor
        )
    finally:
        signals.ticket_created.disconnect(sender=Ticket, dispatch_uid="test-audit")
    connected = {f"{receiver.__module__}.{receiver.__qualname__}" for receiver, _ in called}
    assert connected != listed_receivers()["ticket_created"]
