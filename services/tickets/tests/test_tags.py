"""Tags: one normalised spelling (accents kept), autocomplete, ``tag=a&tag=b`` means both,
and staff-only everywhere: clients never see them, filter by them or read their history.
Also the other filters of issue 18: ``team_id`` (an id, ``mine``, ``none``) and
``due_before``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from tickets import services, tags, teams
from tickets.models import Assignment, Tag, Ticket

from tests.conftest import Api, Caller
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def tagged(open_ticket: Any, *names: str, **fields: Any) -> Ticket:
    """A ticket of ``client`` opened by an admin with these tags."""
    return open_ticket("admin", client_id="11", tags=list(names), **fields)


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- normalisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Facturación  ", "facturación"),
        ("FACTURACIÓN", "facturación"),
        ("Straße", "straße"),  # lower(), not casefold(): no "ss"
        ("  wi-fi   de  planta  ", "wi-fi de planta"),
        ("Ñandú", "ñandú"),
    ],
)
def test_a_tag_has_one_spelling_with_its_accents(raw: str, stored: str) -> None:
    assert tags.normalise(raw) == stored


def test_accented_and_plain_are_two_tags(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = tagged(open_ticket, "  Facturación  ", "facturacion", "FACTURACIÓN", " ")
    response = api.get(f"/api/tickets/{ticket.pk}/", as_=callers["technician"])
    assert response.json()["tags"] == ["facturacion", "facturación"]
    assert set(Tag.objects.values_list("name", flat=True)) == {"facturacion", "facturación"}


@pytest.mark.parametrize(
    ("names", "words"),
    [
        (["x" * 51], "50 characters"),
        ([f"t{n}" for n in range(21)], "20"),
        (["bell\x07"], "control characters"),
    ],
)
def test_bad_tags_are_a_400(
    api: Api, callers: dict[str, Caller], open_ticket: Any, names: list[str], words: str
) -> None:
    ticket = open_ticket("client")
    response = api.patch(f"/api/tickets/{ticket.pk}/", {"tags": names}, as_=callers["technician"])
    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert words in " ".join(
        m for name, found in fields.items() if name.startswith("tags") for m in found
    )


def test_a_patch_replaces_the_tags_with_a_history_entry(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = tagged(open_ticket, "vpn", "lento")
    url = f"/api/tickets/{ticket.pk}/"
    response = api.patch(url, {"tags": ["VPN", "Urgente"]}, as_=callers["technician"])
    assert response.json()["tags"] == ["urgente", "vpn"]
    history = api.get(f"{url}history/", as_=callers["technician"]).json()["results"]
    assert {"field": "tags", "from": "lento, vpn", "to": "urgente, vpn"} in [
        {key: entry[key] for key in ("field", "from", "to")} for entry in history
    ]


# --- autocomplete ---------------------------------------------------------------------


def test_autocomplete_by_prefix_most_used_first(
    api: Api, callers: dict[str, Caller], open_ticket: Any, assert_queries: Any
) -> None:
    for _ in range(3):
        tagged(open_ticket, "facturación")
    tagged(open_ticket, "factura-duplicada", "fallo")
    tagged(open_ticket, "fallo")
    tagged(open_ticket, "vpn")
    with assert_queries(2):  # the caller, the suggestions
        response = api.get("/api/tickets/tags/", as_=callers["technician"], q="  FA")
    assert response.json() == [
        {"name": "facturación", "ticket_count": 3},
        {"name": "fallo", "ticket_count": 2},
        {"name": "factura-duplicada", "ticket_count": 1},
    ]
    response = api.get("/api/tickets/tags/", as_=callers["technician"], q="fact")
    assert [row["name"] for row in response.json()] == ["facturación", "factura-duplicada"]
    # No prefix: the most used of all.
    response = api.get("/api/tickets/tags/", as_=callers["admin"])
    assert [row["name"] for row in response.json()][:2] == ["facturación", "fallo"]


def test_autocomplete_answers_at_most_20(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    tags.get_or_create([f"tag-{n:02}" for n in range(30)])
    assert len(api.get("/api/tickets/tags/", as_=callers["technician"], q="tag").json()) == 20


def test_clients_get_no_suggestions(api: Api, callers: dict[str, Caller]) -> None:
    assert api.get("/api/tickets/tags/", as_=callers["client"]).status_code == 403


# --- the tag filter -------------------------------------------------------------------


def test_tag_a_and_tag_b_means_both(
    api: Api, callers: dict[str, Caller], open_ticket: Any, assert_queries: Any
) -> None:
    both = tagged(open_ticket, "vpn", "urgente")
    only_vpn = tagged(open_ticket, "vpn")
    tagged(open_ticket, "urgente")
    staff = callers["technician"]
    assert ids(api.get("/api/tickets/", as_=staff, tag="VPN")) == {both.pk, only_vpn.pk}
    # The caller, the tag ids, the page, its tags.
    with assert_queries(4):
        response = api.client.get("/api/tickets/?tag=vpn&tag=Urgente", headers=staff.headers)
    assert ids(response) == {both.pk}
    assert ids(api.get("/api/tickets/", as_=staff, tag="no-such-tag")) == set()


def test_clients_never_see_tags(api: Api, callers: dict[str, Caller], open_ticket: Any) -> None:
    ticket = tagged(open_ticket, "cliente-difícil")
    client = callers["client"]
    listed = api.get("/api/tickets/", as_=client).json()["results"]
    assert [row["id"] for row in listed] == [ticket.pk]
    assert "tags" not in listed[0]
    detail = api.get(f"/api/tickets/{ticket.pk}/", as_=client).json()
    assert "tags" not in detail
    assert "difícil" not in str(detail)
    # A client's tag filter matches nothing, even with the ticket's own tag.
    assert ids(api.get("/api/tickets/", as_=client, tag="cliente-difícil")) == set()
    # Nor do they set them.
    response = api.patch(f"/api/tickets/{ticket.pk}/", {"tags": ["mío"]}, as_=client)
    assert response.status_code == 403
    body = {"title": "x", "description": "y", "tags": ["mío"]}
    assert api.post("/api/tickets/", body, as_=client).status_code == 403


def test_the_tag_history_is_staff_only(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")
    url = f"/api/tickets/{ticket.pk}/"
    api.patch(url, {"tags": ["cliente-difícil"]}, as_=callers["technician"])
    staff = api.get(f"{url}history/", as_=callers["technician"]).json()["results"]
    assert "tags" in [entry["field"] for entry in staff]
    client = api.get(f"{url}history/", as_=callers["client"]).json()["results"]
    assert "tags" not in [entry["field"] for entry in client]
    assert "difícil" not in str(client)


# --- team_id and due_before -----------------------------------------------------------


def test_team_id_filters_by_team_mine_and_none(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    data = teams.TeamData
    network = teams.team_create(
        data=data(
            name="Redes",
            member_ids=["21"],
            lead_id=None,
            assignment=Assignment.MANUAL,
            category_slugs=[],
        )
    )
    printers = teams.team_create(
        data=data(
            name="Impresoras",
            member_ids=["22"],
            lead_id=None,
            assignment=Assignment.MANUAL,
            category_slugs=[],
        )
    )
    in_network = open_ticket("admin", client_id="11", team=network)
    in_printers = open_ticket("admin", client_id="11", team=printers)
    nowhere = open_ticket("client")
    technician = callers["technician"]  # 21: a member of Redes only
    assert ids(api.get("/api/tickets/", as_=technician, team_id=str(network.pk))) == {in_network.pk}
    assert ids(api.get("/api/tickets/", as_=technician, team_id="mine")) == {in_network.pk}
    assert ids(api.get("/api/tickets/", as_=callers["other_technician"], team_id="MINE")) == {
        in_printers.pk
    }
    assert ids(api.get("/api/tickets/", as_=callers["admin"], team_id="mine")) == set()
    assert ids(api.get("/api/tickets/", as_=technician, team_id="none")) == {nowhere.pk}
    for bad in ("theirs", "0", "-1", "1.5", "99999999999999999999"):
        response = api.get("/api/tickets/", as_=technician, team_id=bad)
        assert response.status_code == 400, bad
        assert "team_id" in response.json()["extra"]["fields"]


def test_due_before(api: Api, callers: dict[str, Caller]) -> None:
    now = timezone.now()
    soon = TicketFactory(client_id="11", resolution_due=now + timedelta(hours=2))
    later = TicketFactory(client_id="11", resolution_due=now + timedelta(days=5))
    staff = callers["technician"]
    moment = (now + timedelta(days=1)).isoformat()
    assert ids(api.get("/api/tickets/", as_=staff, due_before=moment)) == {soon.pk}
    day = (now + timedelta(days=5)).date().isoformat()  # a date: its whole day
    assert ids(api.get("/api/tickets/", as_=staff, due_before=day)) == {soon.pk, later.pk}
    response = api.get("/api/tickets/", as_=staff, due_before="next week")
    assert response.status_code == 400
    assert "due_before" in response.json()["extra"]["fields"]


def test_tags_travel_in_the_events(callers: dict[str, Caller], open_ticket: Any) -> None:
    from servidesk_shared.outbox.models import OutboxMessage  # noqa: PLC0415

    ticket = tagged(open_ticket, "vpn")
    services.ticket_update(
        ticket_id=ticket.pk, actor=callers["technician"].actor, changes={"tags": ["vpn", "lan"]}
    )
    rows = OutboxMessage.objects.filter(aggregate_id=str(ticket.pk)).order_by("sequence")
    created, updated = (row.envelope["data"] for row in rows)
    assert created["ticket"]["tags"] == ["vpn"]
    assert updated["ticket"]["tags"] == ["lan", "vpn"]
    assert updated["changes"]["tags"] == {"before": ["vpn"], "after": ["lan", "vpn"]}
