"""Every change publishes its event through the outbox, in the change's transaction."""

from __future__ import annotations

from typing import Any

import pytest
from tickets import services, signals, teams
from tickets.models import Assignment, HistoryEntry, Ticket

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Api, Caller
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


def events(ticket_id: int) -> list[dict[str, Any]]:
    rows = OutboxMessage.objects.filter(aggregate_id=str(ticket_id)).order_by("sequence")
    return [row.envelope for row in rows]


def test_a_tickets_life_as_events(api: Api, callers: dict[str, Caller]) -> None:
    CategoryFactory(slug="network")
    client, technician = callers["client"], callers["technician"]
    body = {"title": "VPN", "description": "Drops.", "category": "network", "priority": "high"}
    ticket = api.post("/api/tickets/", body, as_=client).json()
    url = f"/api/tickets/{ticket['id']}/"
    api.post(f"{url}assign/", {"assignee_id": 21}, as_=technician)
    api.post(f"{url}status/", {"status": "in_progress"}, as_=technician)
    api.post(f"{url}comments/", {"body": "Try the new profile"}, as_=technician)
    api.post(f"{url}comments/", {"body": "MTU issue", "internal": True}, as_=technician)
    api.patch(url, {"title": "VPN drops on Wi-Fi", "tags": ["VPN", " Wi-Fi "]}, as_=technician)
    api.post(f"{url}status/", {"status": "resolved"}, as_=technician)

    envelopes_ = events(ticket["id"])
    assert [(e["type"], e["sequence"]) for e in envelopes_] == [
        ("ticket.created", 1),
        ("ticket.assigned", 2),
        ("ticket.status_changed", 3),
        ("ticket.commented", 4),
        ("ticket.commented", 5),
        ("ticket.updated", 6),
        ("ticket.status_changed", 7),
    ]
    for envelope in envelopes_:
        assert envelope["producer"] == "tickets"
        assert envelope["aggregate_id"] == str(ticket["id"])
        # What a consumer would do: parse, then validate against the schema.
        event = envelopes.decode(envelopes.parse_envelope(envelope))
        assert event.data.ticket.number == ticket["number"]

    created, assigned, started, public, internal, edited, resolved = (e["data"] for e in envelopes_)
    assert created["actor_id"] == 11
    assert created["ticket"]["category"] == "network"
    assert created["ticket"]["priority"] == "high"
    assert created["ticket"]["client_id"] == 11
    assert (assigned["from_assignee"], assigned["to_assignee"], assigned["actor_id"]) == (
        None,
        21,
        21,
    )
    assert (started["from_status"], started["to_status"]) == ("pending", "in_progress")
    assert public["comment"]["internal"] is False
    assert public["ticket"]["first_response_at"] is not None
    assert internal["comment"] == {**internal["comment"], "internal": True, "body": "MTU issue"}
    assert edited["changes"] == {
        "title": {"before": "VPN", "after": "VPN drops on Wi-Fi"},
        "tags": {"before": [], "after": ["vpn", "wi-fi"]},
    }
    assert edited["ticket"]["tags"] == ["vpn", "wi-fi"]
    assert resolved["ticket"]["title"] == "VPN drops on Wi-Fi"  # the snapshot is current
    assert resolved["ticket"]["tags"] == ["vpn", "wi-fi"]
    assert resolved["ticket"]["resolved_at"] is not None


def test_a_refused_change_publishes_nothing(api: Api, callers: dict[str, Caller]) -> None:
    body = {"title": "VPN", "description": "Drops."}
    ticket = api.post("/api/tickets/", body, as_=callers["client"]).json()
    api.post(
        f"/api/tickets/{ticket['id']}/status/", {"status": "resolved"}, as_=callers["technician"]
    )
    assert [e["type"] for e in events(ticket["id"])] == ["ticket.created"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_rolls_the_change_back() -> None:
    """No transaction around the call (autocommit, as in a request): the service's own
    transaction is what takes the ticket, its history and its event back."""
    from tests.conftest import CALLERS  # noqa: PLC0415

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("outbox unavailable")

    signals.ticket_created.connect(broken, sender=Ticket, dispatch_uid="test-broken")
    try:
        with pytest.raises(RuntimeError, match="outbox unavailable"):
            services.ticket_create(actor=CALLERS["client"].actor, title="t", description="d")
    finally:
        signals.ticket_created.disconnect(sender=Ticket, dispatch_uid="test-broken")
    assert not Ticket.objects.exists()
    assert not HistoryEntry.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_a_ticket_assigned_by_its_team_s_rule_is_created_with_its_assignee(
    callers: dict[str, Caller], open_ticket: Any
) -> None:
    """``ticket.created`` already names the owner the rule chose (so notifier tells no
    team "unassigned in your queue"), and ``ticket.assigned``, by no one, follows it."""
    team = teams.team_create(
        data=teams.TeamData(
            name="Campo",
            member_ids=["21"],
            lead_id=None,
            assignment=Assignment.ROUND_ROBIN,
            category_slugs=[],
        )
    )
    ticket = open_ticket("admin", client_id="11", team=team)
    created, assigned = (envelope["data"] for envelope in events(ticket.pk))
    assert created["ticket"]["assignee_id"] == 21
    assert created["ticket"]["team_id"] == team.pk
    assert (assigned["actor_id"], assigned["from_assignee"], assigned["to_assignee"]) == (
        None,
        None,
        21,
    )
    history = HistoryEntry.objects.filter(ticket_id=ticket.pk, field="assignee_id").get()
    assert (history.actor_id, history.to_value) == (None, "21")
