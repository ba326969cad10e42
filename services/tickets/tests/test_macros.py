"""Canned responses: who sees and changes which, placeholders filled by plain substitution
(never a template), and applying one as a single all-or-nothing step."""

from __future__ import annotations

from typing import Any

import pytest
from tickets import macros
from tickets.models import Comment, DirectoryUser, Macro, Status, Team

from servidesk_shared.outbox.models import OutboxMessage
from tests.conftest import Api, Caller

pytestmark = pytest.mark.django_db

URL = "/api/tickets/macros/"


def make_macro(owner: Caller, **fields: Any) -> Macro:
    fields.setdefault("title", "Greeting")
    fields.setdefault("body", "Hola {cliente}")
    return Macro.objects.create(owner_id=str(owner.id), **fields)


def event_types(ticket_id: int) -> list[str]:
    rows = OutboxMessage.objects.filter(aggregate_id=str(ticket_id)).order_by("sequence")
    return [row.event_type for row in rows]


# --- placeholders ---------------------------------------------------------------------


def test_every_placeholder_in_both_languages_is_filled() -> None:
    body = "{cliente}/{client} {numero}/{number} {tecnico}/{technician}"
    filled = macros.fill(body, client="Ana", number="SD-1042", technician="Tere")
    assert filled == "Ana/Ana SD-1042/SD-1042 Tere/Tere"


@pytest.mark.parametrize(
    "text",
    [
        "{0.__class__}",
        "{{ x }}",
        "{% if 1 %}x{% endif %}",
        "{cliente!r}",
        "{CLIENTE}",
        "%(client)s",
    ],
)
def test_user_text_is_never_a_template(text: str) -> None:
    assert macros.fill(text, client="Ana", number="SD-1", technician="Tere") == text


def test_a_name_that_looks_like_a_placeholder_is_not_substituted_again() -> None:
    filled = macros.fill("{cliente} / {tecnico}", client="{tecnico}", number="", technician="Tere")
    assert filled == "{tecnico} / Tere"


# --- the list and who may change what ------------------------------------------------


def test_a_technician_lists_their_own_and_the_shared_ones(
    api: Api, callers: dict[str, Caller], assert_queries: Any
) -> None:
    mine = make_macro(callers["technician"], title="Mine")
    shared = make_macro(callers["admin"], title="For all", shared=True)
    make_macro(callers["other_technician"], title="Not mine")
    make_macro(callers["admin"], title="Admin's own")
    with assert_queries(2):  # the caller, the macros
        response = api.get(URL, as_=callers["technician"])
    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [shared.pk, mine.pk]
    row = response.json()[1]
    assert set(row) == {
        "id",
        "title",
        "body",
        "shared",
        "actions",
        "owner_id",
        "created_at",
        "updated_at",
    }
    assert row["owner_id"] == 21


def test_the_list_costs_the_same_for_many(
    api: Api, callers: dict[str, Caller], assert_queries: Any
) -> None:
    for n in range(25):
        make_macro(callers["technician"], title=f"Macro {n}", actions={"status": "in_progress"})
    with assert_queries(2):
        assert len(api.get(URL, as_=callers["technician"]).json()) == 25


def test_create_a_personal_one_with_actions(api: Api, callers: dict[str, Caller]) -> None:
    team = Team.objects.create(name="Redes")
    body = {
        "title": "  Asking for logs ",
        "body": "Hola {cliente}, ¿nos mandas los logs de {numero}?",
        "actions": {
            "status": "in_progress",
            "priority": "high",
            "team_id": team.pk,
            "add_tags": ["  Logs ", "VPN"],
            "internal": False,
        },
    }
    response = api.post(URL, body, as_=callers["technician"])
    assert response.status_code == 201, response.content
    macro = response.json()
    assert macro["title"] == "Asking for logs"
    assert macro["shared"] is False
    assert macro["owner_id"] == 21
    assert macro["actions"]["add_tags"] == ["logs", "vpn"]
    assert macro["actions"]["team_id"] == team.pk


def test_only_admins_share(api: Api, callers: dict[str, Caller]) -> None:
    body = {"title": "All", "body": "Hi", "shared": True}
    assert api.post(URL, body, as_=callers["technician"]).status_code == 403
    assert api.post(URL, body, as_=callers["admin"]).status_code == 201
    mine = make_macro(callers["technician"])
    response = api.patch(f"{URL}{mine.pk}/", {"shared": True}, as_=callers["technician"])
    assert response.status_code == 403
    mine.refresh_from_db()
    assert mine.shared is False


def test_who_changes_which(api: Api, callers: dict[str, Caller]) -> None:
    shared = make_macro(callers["admin"], shared=True)
    others = make_macro(callers["other_technician"])
    mine = make_macro(callers["technician"])
    technician = callers["technician"]
    assert api.patch(f"{URL}{shared.pk}/", {"title": "x"}, as_=technician).status_code == 403
    assert api.delete(f"{URL}{shared.pk}/", as_=technician).status_code == 403
    for call in (api.get, api.delete):
        assert call(f"{URL}{others.pk}/", as_=technician).status_code == 404
    assert api.patch(f"{URL}{others.pk}/", {"title": "x"}, as_=technician).status_code == 404
    response = api.patch(f"{URL}{mine.pk}/", {"body": "Adiós {cliente}"}, as_=technician)
    assert response.status_code == 200
    assert response.json()["title"] == "Greeting"  # a PATCH keeps what it does not name
    assert response.json()["body"] == "Adiós {cliente}"
    admin = callers["admin"]
    assert api.patch(f"{URL}{shared.pk}/", {"title": "New"}, as_=admin).json()["title"] == "New"
    assert api.delete(f"{URL}{mine.pk}/", as_=technician).status_code == 204
    assert not Macro.objects.filter(pk=mine.pk).exists()


@pytest.mark.parametrize(
    ("actions", "words"),
    [
        ({"close": True}, "Unknown actions: close"),
        ({"status": "closed"}, "The status must be one of"),
        ({"priority": "p1"}, "The priority must be one of"),
        ({"team_id": 999_999}, "There is no team with id 999999"),
        ({"team_id": "1"}, "There is no team"),
        ({"add_tags": "vpn"}, "add_tags must be a list"),
        ({"add_tags": ["x" * 51]}, "at most 50 characters"),
        ({"internal": "yes"}, "internal must be true or false"),
    ],
)
def test_bad_actions_are_a_400_naming_them(
    api: Api, callers: dict[str, Caller], actions: dict[str, Any], words: str
) -> None:
    response = api.post(URL, {"title": "x", "body": "y", "actions": actions}, as_=callers["admin"])
    assert response.status_code == 400
    assert words in " ".join(response.json()["extra"]["fields"]["actions"])


# --- applying -------------------------------------------------------------------------


def apply_url(ticket_id: int) -> str:
    return f"/api/tickets/{ticket_id}/apply-macro/"


def test_apply_posts_the_filled_body_then_the_actions(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    team = Team.objects.create(name="Redes")
    ticket = open_ticket("client", tags=[], title="VPN")
    ticket_tags = ["vpn"]
    from tickets import services  # noqa: PLC0415

    services.ticket_update(
        ticket_id=ticket.pk, actor=callers["admin"].actor, changes={"tags": ticket_tags}
    )
    macro = make_macro(
        callers["technician"],
        body="Hola {cliente}: {numero} es mío ({tecnico}). {0.__class__} {{ x }}",
        actions={
            "status": "in_progress",
            "priority": "urgent",
            "team_id": team.pk,
            "add_tags": ["logs", "vpn"],
        },
    )
    response = api.post(apply_url(ticket.pk), {"macro_id": macro.pk}, as_=callers["technician"])
    assert response.status_code == 200, response.content
    after = response.json()
    assert after["status"] == "in_progress"
    assert after["priority"] == "urgent"
    assert after["team_id"] == team.pk
    assert after["tags"] == ["logs", "vpn"]
    comment = Comment.objects.get(ticket=ticket)
    assert comment.body == (
        f"Hola Ana Example: {ticket.reference} es mío (Tere Example). {{0.__class__}} {{{{ x }}}}"
    )
    assert comment.internal is False
    assert comment.author_id == "21"
    assert event_types(ticket.pk)[-3:] == [
        "ticket.commented",
        "ticket.status_changed",
        "ticket.updated",
    ]


def test_an_internal_macro_posts_a_note(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")
    macro = make_macro(callers["technician"], body="Escalated", actions={"internal": True})
    response = api.post(apply_url(ticket.pk), {"macro_id": macro.pk}, as_=callers["technician"])
    assert response.status_code == 200
    assert Comment.objects.get(ticket=ticket).internal is True
    client_view = api.get(f"/api/tickets/{ticket.pk}/comments/", as_=callers["client"]).json()
    assert client_view["results"] == []


def test_a_refused_action_refuses_the_whole(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")  # pending: it cannot jump to resolved
    before = event_types(ticket.pk)
    macro = make_macro(callers["technician"], actions={"status": "resolved", "priority": "high"})
    response = api.post(apply_url(ticket.pk), {"macro_id": macro.pk}, as_=callers["technician"])
    assert response.status_code == 409
    assert response.json()["extra"]["code"] == "invalid_transition"
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert not Comment.objects.filter(ticket=ticket).exists()
    assert event_types(ticket.pk) == before


def test_a_stale_version_posts_nothing(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")
    macro = make_macro(callers["technician"])
    body = {"macro_id": macro.pk, "version": ticket.version + 5}
    response = api.post(apply_url(ticket.pk), body, as_=callers["technician"])
    assert response.status_code == 409
    assert response.json()["extra"]["code"] == "stale_version"
    assert not Comment.objects.filter(ticket=ticket).exists()
    body["version"] = ticket.version
    assert api.post(apply_url(ticket.pk), body, as_=callers["technician"]).status_code == 200


def test_a_macro_the_caller_cannot_see_is_not_found(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    ticket = open_ticket("client")
    others = make_macro(callers["other_technician"])
    response = api.post(apply_url(ticket.pk), {"macro_id": others.pk}, as_=callers["technician"])
    assert response.status_code == 404
    assert not Comment.objects.filter(ticket=ticket).exists()


def test_a_client_name_with_braces_stays_as_typed(
    api: Api, callers: dict[str, Caller], open_ticket: Any
) -> None:
    DirectoryUser.objects.filter(pk="11").update(full_name="{tecnico} {0.__class__}")
    ticket = open_ticket("client")
    macro = make_macro(callers["technician"], body="Hola {cliente}, soy {tecnico}")
    api.post(apply_url(ticket.pk), {"macro_id": macro.pk}, as_=callers["technician"])
    body = Comment.objects.get(ticket=ticket).body
    assert body == "Hola {tecnico} {0.__class__}, soy Tere Example"
