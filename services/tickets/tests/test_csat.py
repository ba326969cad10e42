"""Satisfaction (issue 19): a move to resolved mints a signed rating link; the client
answers through it without signing in, may change the answer for 14 days (even once the
ticket closed), and each change is a ``ticket.rated`` event and a history entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import signing
from django.utils import timezone
from tickets import csat, services, sla_watch
from tickets.models import HistoryEntry, Status, Ticket

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Api, Caller

pytestmark = pytest.mark.django_db


def link(token: str) -> str:
    return f"/api/tickets/csat/{token}/"


@pytest.fixture
def frozen_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """``frozen_at(moment)``: from now on the services and the API read ``moment`` as now."""

    def freeze(moment: datetime) -> None:
        fixed = moment.astimezone(UTC)
        monkeypatch.setattr(timezone, "now", lambda: fixed)

    return freeze


@pytest.fixture
def resolve(callers: dict[str, Caller]) -> Callable[[Ticket], Ticket]:
    """Move a ticket to resolved as the technician (through the service)."""

    def move(ticket: Ticket) -> Ticket:
        actor = callers["technician"].actor
        for status in (Status.IN_PROGRESS, Status.RESOLVED):
            services.ticket_change_status(ticket_id=ticket.pk, actor=actor, status=status)
        ticket.refresh_from_db()
        return ticket

    return move


def events(ticket: Ticket, event_type: str) -> list[dict[str, Any]]:
    rows = OutboxMessage.objects.filter(
        aggregate_id=str(ticket.pk), event_type=event_type
    ).order_by("sequence")
    return [row.envelope["data"] for row in rows]


def token_of(ticket: Ticket) -> str:
    """The rating link the move to resolved carried (the last ``ticket.status_changed``)."""
    moved = events(ticket, "ticket.status_changed")[-1]
    assert moved["to_status"] == "resolved"
    token: str = moved["rating_token"]
    return token


@pytest.fixture
def resolved(open_ticket: Any, resolve: Callable[[Ticket], Ticket]) -> Ticket:
    return resolve(open_ticket("client", title="Impresora <b>atascada</b>"))


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- the link --------------------------------------------------------------------------


def test_the_move_to_resolved_carries_a_rating_link_and_the_others_none(
    resolved: Ticket,
) -> None:
    started, done = events(resolved, "ticket.status_changed")
    assert started["to_status"] == "in_progress"
    assert started["rating_token"] is None
    token = done["rating_token"]
    assert isinstance(token, str)
    assert token
    # URL-safe: it goes in a path as it is.
    assert all(char.isalnum() or char in "-_:" for char in token)
    payload = signing.Signer(salt=csat.SALT).unsign_object(token)
    assert payload["t"] == resolved.pk
    read = csat.read(token)
    assert read.ticket_id == resolved.pk
    assert read.cycle == resolved.sla_cycle
    assert resolved.resolved_at is not None
    assert abs(read.expires_at - (resolved.resolved_at + timedelta(days=14))) < timedelta(seconds=1)


def test_the_link_answers_without_sign_in(api: Api, resolved: Ticket) -> None:
    response = api.get(link(token_of(resolved)))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"ticket", "rating", "comment", "rated_at", "expires_at"}
    assert body["ticket"] == {"number": resolved.reference, "title": "Impresora <b>atascada</b>"}
    assert (body["rating"], body["comment"], body["rated_at"]) == (None, "", None)
    assert resolved.resolved_at is not None
    expected = resolved.resolved_at + timedelta(days=14)
    assert abs(parse(body["expires_at"]) - expected) < timedelta(seconds=1)
    # Reading records nothing (a mail scanner follows links).
    resolved.refresh_from_db()
    assert resolved.rating is None
    assert events(resolved, "ticket.rated") == []


def test_a_stale_or_foreign_sign_in_does_not_refuse_the_link(
    api: Api, resolved: Ticket, callers: dict[str, Caller]
) -> None:
    url = link(token_of(resolved))
    stale = api.client.get(url, headers={"Authorization": "Bearer expired.junk.token"})
    assert stale.status_code == 200, stale.content
    # Someone else signed in holds the link: it still answers for the ticket's client.
    response = api.post(url, {"rating": "good"}, as_=callers["other_client"])
    assert response.status_code == 200, response.content
    [rated] = events(resolved, "ticket.rated")
    assert rated["actor_id"] == 11


def test_answers_are_recorded_changed_and_announced_once_per_change(
    api: Api, resolved: Ticket, callers: dict[str, Caller]
) -> None:
    url = link(token_of(resolved))
    response = api.post(url, {"rating": "good"})
    assert response.status_code == 200, response.content
    first = response.json()
    assert (first["rating"], first["comment"]) == ("good", "")
    assert first["ticket"]["number"] == resolved.reference
    assert first["rated_at"] is not None
    assert first["expires_at"] == api.get(url).json()["expires_at"]

    response = api.post(url, {"rating": "bad", "comment": "  Tardasteis\r\ntres días\r  "})
    assert response.status_code == 200, response.content
    second = response.json()
    assert (second["rating"], second["comment"]) == ("bad", "Tardasteis\ntres días")
    assert parse(second["rated_at"]) >= parse(first["rated_at"])
    assert api.get(url).json() == second

    # The same answer again (the comment as stored, whatever its line ends): no news.
    again = api.post(url, {"rating": "bad", "comment": "Tardasteis\rtres días"})
    assert again.status_code == 200, again.content
    assert again.json() == second

    rated = events(resolved, "ticket.rated")
    assert [(e["previous_rating"], e["rating"], e["comment"]) for e in rated] == [
        (None, "good", ""),
        ("good", "bad", "Tardasteis\ntres días"),
    ]
    assert {e["actor_id"] for e in rated} == {11}
    assert rated[-1]["ticket"]["rating"] == "bad"

    # A new comment with the same rating is a change.
    assert api.post(url, {"rating": "bad", "comment": "Pero amables"}).status_code == 200
    assert len(events(resolved, "ticket.rated")) == 3

    resolved.refresh_from_db()
    assert (resolved.rating, resolved.rating_comment) == ("bad", "Pero amables")
    history = list(
        HistoryEntry.objects.filter(ticket=resolved, field="rating")
        .order_by("id")
        .values_list("actor_id", "from_value", "to_value")
    )
    assert history == [("11", None, "good"), ("11", "good", "bad"), ("11", "bad", "bad")]
    shown = api.get(f"/api/tickets/{resolved.pk}/history/", as_=callers["technician"]).json()
    rows = shown["results"] if isinstance(shown, dict) else shown
    assert [(row["actor_id"], row["from"], row["to"]) for row in rows if row["field"] == "rating"][
        :2
    ] == [(11, None, "good"), (11, "good", "bad")]


def test_the_rating_shows_to_staff_and_the_ticket_client_only(
    api: Api, resolved: Ticket, callers: dict[str, Caller]
) -> None:
    url = f"/api/tickets/{resolved.pk}/"
    assert api.get(url, as_=callers["client"]).json()["rating"] is None
    answer = api.post(link(token_of(resolved)), {"rating": "good", "comment": "Rápido"}).json()
    expected = {"rating": "good", "comment": "Rápido", "rated_at": answer["rated_at"]}
    for role in ("technician", "admin", "client"):
        response = api.get(url, as_=callers[role])
        assert response.status_code == 200, response.content
        assert response.json()["rating"] == expected, role
    staff_rows = api.get("/api/tickets/", as_=callers["technician"]).json()["results"]
    assert {row["id"]: row["rating"] for row in staff_rows}[resolved.pk] == expected
    client_rows = api.get("/api/tickets/", as_=callers["client"]).json()["results"]
    assert {row["id"]: row["rating"] for row in client_rows}[resolved.pk] == expected
    # Another client does not learn the ticket exists.
    assert api.get(url, as_=callers["other_client"]).status_code == 404
    other_rows = api.get("/api/tickets/", as_=callers["other_client"]).json()["results"]
    assert resolved.pk not in {row["id"] for row in other_rows}


# --- refused links and answers -------------------------------------------------------------


def test_an_expired_link_is_a_410(api: Api, resolved: Ticket) -> None:
    stale = csat.token_for(resolved, now=timezone.now() - timedelta(days=15))
    for response in (api.get(link(stale)), api.post(link(stale), {"rating": "good"})):
        assert response.status_code == 410, response.content
        assert response.json()["extra"]["code"] == "expired"
        assert "14 days" in response.json()["message"]
    # Even a bad answer: the link is what is refused.
    assert api.post(link(stale), {"rating": "meh"}).status_code == 410
    # Just inside the 14 days it still works.
    fresh = csat.token_for(resolved, now=timezone.now() - timedelta(days=13, hours=23))
    assert api.post(link(fresh), {"rating": "good"}).status_code == 200
    resolved.refresh_from_db()
    assert resolved.rating == "good"
    assert len(events(resolved, "ticket.rated")) == 1


def _forgeries(token: str, other_id: int) -> list[str]:
    payload, signature = token.rsplit(":", 1)
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    signed = signing.Signer(salt=csat.SALT).unsign_object(token)
    moved = signing.Signer(salt=csat.SALT).sign_object({**signed, "t": other_id})
    moved_payload = moved.rsplit(":", 1)[0]
    return [
        f"{payload}:{flipped}",  # a character of the signature changed
        f"{moved_payload}:{signature}",  # another ticket with the old signature
        f"{flipped[::-1]}:{payload}",
        "garbage",
        "a:b:c",
        signing.Signer(salt="servidesk.other").sign_object(signed),  # another salt
        signing.Signer(salt=csat.SALT).sign_object({"t": "x", "c": 1, "x": 9999999999}),
        signing.Signer(salt=csat.SALT).sign_object({"c": 1, "x": 9999999999}),
        signing.Signer(salt=csat.SALT).sign_object(["not", "a", "mapping"]),
        signing.Signer(salt=csat.SALT).sign_object({"t": 999_999, "c": 1, "x": 9999999999}),
        # Signed, but nonsense: an expiry no clock can hold, an id beyond any column.
        signing.Signer(salt=csat.SALT).sign_object({"t": other_id, "c": 1, "x": 10**20}),
        signing.Signer(salt=csat.SALT).sign_object({"t": 10**30, "c": 1, "x": 9999999999}),
    ]


def test_forged_or_unknown_links_are_a_404(
    api: Api, resolved: Ticket, open_ticket: Any, resolve: Callable[[Ticket], Ticket]
) -> None:
    other = resolve(open_ticket("client", title="Otro"))
    for forged in _forgeries(token_of(resolved), other.pk):
        for response in (api.get(link(forged)), api.post(link(forged), {"rating": "bad"})):
            assert response.status_code == 404, (forged, response.content)
            assert response.json()["extra"]["code"] == "invalid_link", forged
    for ticket in (resolved, other):
        ticket.refresh_from_db()
        assert ticket.rating is None
    assert not OutboxMessage.objects.filter(event_type="ticket.rated").exists()
    # A token that names a deleted ticket is unknown, not a 500.
    token = token_of(other)
    Ticket.objects.filter(pk=other.pk).delete()
    assert api.get(link(token)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": "meh"}, "rating"),
        ({"rating": "GOOD"}, "rating"),
        ({"rating": ""}, "rating"),
        ({"rating": None}, "rating"),
        ({"rating": ["good"]}, "rating"),
        ({}, "rating"),
        ({"comment": "Sin nota"}, "rating"),
        ({"rating": "good", "comment": "x" * 2001}, "comment"),
        ({"rating": "good", "comment": "nul\x00"}, "comment"),
        ({"rating": "good", "comment": ["a"]}, "comment"),
        ({"rating": "good", "comment": None}, "comment"),
    ],
)
def test_a_bad_answer_is_a_400_naming_the_field(
    api: Api, resolved: Ticket, body: dict[str, Any], field: str
) -> None:
    response = api.post(link(token_of(resolved)), body)
    assert response.status_code == 400, response.content
    assert list(response.json()["extra"]["fields"]) == [field]
    resolved.refresh_from_db()
    assert resolved.rating is None
    assert events(resolved, "ticket.rated") == []


def test_a_comment_of_2000_characters_is_taken(api: Api, resolved: Ticket) -> None:
    comment = "é" * 2000
    response = api.post(link(token_of(resolved)), {"rating": "good", "comment": comment})
    assert response.status_code == 200, response.content
    assert response.json()["comment"] == comment


def test_rate_refuses_a_value_that_is_not_good_or_bad(resolved: Ticket) -> None:
    from servidesk_shared.errors import ApplicationError  # noqa: PLC0415

    with pytest.raises(ApplicationError) as refused:
        csat.rate(token=token_of(resolved), rating="meh")
    assert "rating" in refused.value.extra["fields"]


# --- the rating and the close ----------------------------------------------------------------


def test_a_closed_ticket_keeps_its_rating_and_may_still_be_rated_within_14_days(
    api: Api,
    callers: dict[str, Caller],
    open_ticket: Any,
    resolve: Callable[[Ticket], Ticket],
    frozen_at: Callable[[datetime], None],
) -> None:
    start = datetime(2026, 12, 1, 10, tzinfo=UTC)
    frozen_at(start)
    rated_first, rated_late = (resolve(open_ticket("client", title=t)) for t in ("A", "B"))
    first_link, late_link = link(token_of(rated_first)), link(token_of(rated_late))
    assert api.post(first_link, {"rating": "good", "comment": "Bien"}).status_code == 200

    # Eight days on, the desk closes both.
    frozen_at(start + timedelta(days=8))
    result = sla_watch.run_pass()
    assert result.closed == 2
    for ticket in (rated_first, rated_late):
        ticket.refresh_from_db()
        assert ticket.status == Status.CLOSED
    assert (rated_first.rating, rated_first.rating_comment) == ("good", "Bien")
    shown = api.get(f"/api/tickets/{rated_first.pk}/", as_=callers["client"]).json()
    assert shown["status"] == "closed"
    assert shown["rating"]["rating"] == "good"
    closed = events(rated_first, "ticket.closed")
    assert len(closed) == 1
    assert closed[0]["ticket"]["rating"] == "good"

    # Ten days after the resolution: the closed ticket takes an answer, and a change.
    frozen_at(start + timedelta(days=10))
    response = api.post(late_link, {"rating": "bad"})
    assert response.status_code == 200, response.content
    assert parse(response.json()["rated_at"]) == start + timedelta(days=10)
    assert api.post(first_link, {"rating": "bad"}).json()["rating"] == "bad"
    rated_late.refresh_from_db()
    assert (rated_late.status, rated_late.rating) == (Status.CLOSED, "bad")
    assert [e["rating"] for e in events(rated_first, "ticket.rated")] == ["good", "bad"]

    # Fifteen days after: gone.
    frozen_at(start + timedelta(days=15))
    response = api.post(late_link, {"rating": "good"})
    assert response.status_code == 410
    assert response.json()["extra"]["code"] == "expired"
    rated_late.refresh_from_db()
    assert rated_late.rating == "bad"
