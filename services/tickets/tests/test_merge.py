"""Merging ticket B into ticket A: B's conversation and files move to A marked as merged,
B is resolved and frozen, both histories link them, and one ``ticket.merged`` event."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from tickets import services
from tickets.models import Attachment, Comment, HistoryEntry, Status, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Api, Caller

pytestmark = pytest.mark.django_db


def merge_url(ticket_id: int) -> str:
    return f"/api/tickets/{ticket_id}/merge/"


@pytest.fixture
def pair(callers: dict[str, Caller], open_ticket: Any) -> tuple[Ticket, Ticket]:
    """A (older, with a reply) and B (with a reply, an internal note and files)."""
    client, technician = callers["client"].actor, callers["technician"].actor
    into = open_ticket("client", title="Printer jammed", description="Floor 3 printer.")
    services.comment_create(ticket_id=into.pk, actor=technician, body="Looking at it.")
    merged = open_ticket(
        "client",
        title="Printer still jammed",
        description="Same printer, zebracorn error.",
        files=[ContentFile(b"%PDF-1.4 report", name="report.pdf")],
    )
    services.comment_create(ticket_id=merged.pk, actor=client, body="Any news?")
    services.comment_create(
        ticket_id=merged.pk, actor=technician, body="Duplicate of A", internal=True
    )
    return into, merged


def test_merge_moves_the_conversation_and_files(
    api: Api, callers: dict[str, Caller], pair: tuple[Ticket, Ticket]
) -> None:
    into, merged = pair
    response = api.post(merge_url(merged.pk), {"into_id": into.pk}, as_=callers["technician"])
    assert response.status_code == 200, response.content
    assert response.json()["id"] == into.pk
    assert response.json()["merged_into_id"] is None

    rows = api.get(f"/api/tickets/{into.pk}/comments/", as_=callers["technician"]).json()["results"]
    # In time order: B's description is dated when B was opened, after A's reply.
    assert [(row["body"], row["merged_from_id"], row["merged_from_number"]) for row in rows] == [
        ("Looking at it.", None, None),
        ("Same printer, zebracorn error.", merged.pk, merged.reference),
        ("Any news?", merged.pk, merged.reference),
        ("Duplicate of A", merged.pk, merged.reference),
    ]
    description = rows[1]
    assert description["author_id"] == 11
    assert description["internal"] is False
    # The client sees the public ones only; the note stays staff-only.
    client_rows = api.get(f"/api/tickets/{into.pk}/comments/", as_=callers["client"]).json()
    assert "Duplicate of A" not in str(client_rows)
    assert "Any news?" in str(client_rows)
    # B's own file now hangs from the comment with its description, in A.
    attachment = Attachment.objects.get(filename="report.pdf")
    assert attachment.ticket_id == into.pk
    assert attachment.comment_id == description["id"]
    files = api.get(f"/api/tickets/{into.pk}/attachments/", as_=callers["client"]).json()
    assert [row["filename"] for row in files["results"]] == ["report.pdf"]
    assert not Comment.objects.filter(ticket=merged).exists()


def test_the_merged_ticket_is_closed_and_frozen(
    api: Api, callers: dict[str, Caller], pair: tuple[Ticket, Ticket]
) -> None:
    into, merged = pair
    api.post(merge_url(merged.pk), {"into_id": into.pk}, as_=callers["admin"])
    detail = api.get(f"/api/tickets/{merged.pk}/", as_=callers["client"])
    assert detail.status_code == 200
    assert detail.json()["status"] == Status.CLOSED
    assert detail.json()["merged_into_id"] == into.pk
    assert detail.json()["closed_at"] is not None
    assert detail.json()["resolved_at"] is None  # a merge is not a resolution
    url = f"/api/tickets/{merged.pk}/"
    technician, client = callers["technician"], callers["client"]
    for call in (
        lambda: api.patch(url, {"title": "x"}, as_=technician),
        lambda: api.post(f"{url}status/", {"status": "in_progress"}, as_=technician),
        lambda: api.post(f"{url}status/", {"status": "in_progress"}, as_=client),
        lambda: api.post(f"{url}assign/", {"assignee_id": 21}, as_=technician),
        lambda: api.post(f"{url}comments/", {"body": "hello?"}, as_=client),
        lambda: api.post(merge_url(merged.pk), {"into_id": into.pk}, as_=technician),
    ):
        response = call()
        assert response.status_code == 409, response.content
        assert response.json()["extra"] == {"code": "merged", "merged_into_id": into.pk}


def test_both_histories_link_them(
    api: Api, callers: dict[str, Caller], pair: tuple[Ticket, Ticket]
) -> None:
    into, merged = pair
    api.post(merge_url(merged.pk), {"into_id": into.pk}, as_=callers["technician"])
    merged_history = {
        (e.field, e.from_value, e.to_value) for e in HistoryEntry.objects.filter(ticket=merged)
    }
    assert ("merged_into", None, into.reference) in merged_history
    assert ("status", Status.PENDING, Status.CLOSED) in merged_history
    into_history = api.get(f"/api/tickets/{into.pk}/history/", as_=callers["technician"]).json()
    assert {"field": "merged_from", "to": merged.reference} in [
        {"field": e["field"], "to": e["to"]} for e in into_history["results"]
    ]


def test_one_merged_event_and_nothing_else(
    callers: dict[str, Caller], api: Api, pair: tuple[Ticket, Ticket]
) -> None:
    into, merged = pair
    before = set(OutboxMessage.objects.values_list("pk", flat=True))
    api.post(merge_url(merged.pk), {"into_id": into.pk}, as_=callers["technician"])
    new = OutboxMessage.objects.exclude(pk__in=before)
    assert [(m.event_type, m.aggregate_id) for m in new] == [("ticket.merged", str(merged.pk))]
    data = new.get().envelope["data"]
    assert data["ticket"]["merged_into_id"] == into.pk
    assert data["ticket"]["status"] == "closed"
    assert data["into"]["id"] == into.pk
    assert data["actor_id"] == 21


def test_the_merged_description_is_found_in_a(
    api: Api, callers: dict[str, Caller], pair: tuple[Ticket, Ticket]
) -> None:
    into, merged = pair
    api.post(merge_url(merged.pk), {"into_id": into.pk}, as_=callers["technician"])
    found = api.get("/api/tickets/", as_=callers["technician"], q="zebracorn").json()["results"]
    assert into.pk in [row["id"] for row in found]


def test_tickets_of_two_clients_need_an_admin(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    mine, theirs = open_ticket("client"), open_ticket("other_client")
    response = api.post(merge_url(theirs.pk), {"into_id": mine.pk}, as_=callers["technician"])
    assert response.status_code == 403
    assert Ticket.objects.get(pk=theirs.pk).merged_into_id is None
    response = api.post(merge_url(theirs.pk), {"into_id": mine.pk}, as_=callers["admin"])
    assert response.status_code == 200


@pytest.mark.parametrize("caller", ["client", "other_client"])
def test_clients_cannot_merge(
    api: Api, callers: dict[str, Caller], open_ticket: Any, caller: str
) -> None:
    first, second = open_ticket("client"), open_ticket("client")
    response = api.post(merge_url(second.pk), {"into_id": first.pk}, as_=callers[caller])
    assert response.status_code == 403


def test_bad_targets(api: Api, callers: dict[str, Caller], open_ticket: Any) -> None:
    first, second, third = (open_ticket("client") for _ in range(3))
    technician = callers["technician"]
    response = api.post(merge_url(first.pk), {"into_id": first.pk}, as_=technician)
    assert response.status_code == 400
    assert "into_id" in response.json()["extra"]["fields"]
    response = api.post(merge_url(first.pk), {"into_id": third.pk + 1000}, as_=technician)
    assert response.status_code == 400
    assert "into_id" in response.json()["extra"]["fields"]
    response = api.post(merge_url(third.pk + 1000), {"into_id": first.pk}, as_=technician)
    assert response.status_code == 404
    assert api.post(merge_url(first.pk), {"into_id": "x"}, as_=technician).status_code == 400
    # Into a ticket that was itself merged: refused, naming where that one went.
    assert api.post(merge_url(second.pk), {"into_id": third.pk}, as_=technician).status_code == 200
    response = api.post(merge_url(first.pk), {"into_id": second.pk}, as_=technician)
    assert response.status_code == 409
    assert response.json()["extra"] == {"code": "merged", "merged_into_id": third.pk}
