"""Ticket pages: the client's list and the staff's queue, opening a ticket, the ticket
page with its conversation, replies, internal notes, status changes and assignment."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client

from tests.fakes import FakeApis, error, page, serve_ticket, ticket_json

pytestmark = pytest.mark.django_db

COMMENTS = [
    {
        "id": 1,
        "author_id": 7,
        "author_name": "Ana Cliente",
        "body": "¿Alguna novedad?",
        "internal": False,
        "created_at": "2026-03-02T10:00:00Z",
    },
    {
        "id": 2,
        "author_id": 3,
        "author_name": "Técnico Uno",
        "body": "Revisar el tóner",
        "internal": True,
        "created_at": "2026-03-02T10:05:00Z",
    },
]


# --- Lists ------------------------------------------------------------------------------


def test_a_client_sees_their_tickets_filtered_by_status(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("tickets", "GET", "", body=page([ticket_json()], next_url="http://t/?cursor=abc"))
    response = client_user.get("/tickets/?status=pending", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert apis.called("tickets", "GET", "")[0].params == {"status": ["pending"]}
    assert "My tickets" in html
    assert "SD-1041" in html
    assert 'href="/tickets/41/"' in html
    assert "cursor=abc" in html  # the next page, on web's own URL
    assert 'aria-current="page">Pending' in html


def test_the_queue_maps_its_filters_onto_the_api(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": "Hardware"}])
    apis.on("tickets", "GET", "", body=page([]))
    technician.get(
        "/tickets/?q=impresora&priority=urgent&category=hardware&assigned=me&breached=on"
        "&ordering=-priority"
    )
    assert apis.called("tickets", "GET", "")[0].params == {
        "q": ["impresora"],
        "priority": ["urgent"],
        "category": ["hardware"],
        "ordering": ["-priority"],
        "assignee_id": ["3"],
        "breached": ["true"],
    }
    technician.get("/tickets/?assigned=none")
    assert apis.called("tickets", "GET", "")[1].params == {"unassigned": ["true"]}


def test_the_queue_marks_breached_and_due_soon_tickets(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    soon = "2000-01-01T00:00:00Z"  # in the past, but not yet marked breached by the API
    apis.on(
        "tickets",
        "GET",
        "",
        body=page(
            [
                ticket_json(id=1, number="SD-1", resolution_breached=True),
                ticket_json(id=2, number="SD-2", first_response_due=soon),
                ticket_json(id=3, number="SD-3"),
            ]
        ),
    )
    html = technician.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert html.count('data-testid="sla-breached"') == 1
    assert html.count('data-testid="sla-due_soon"') == 1
    assert "SLA breached" in html
    assert "Due soon" in html


def test_user_content_is_escaped(client_user: Client, apis: FakeApis) -> None:
    evil = "<script>alert(1)</script>"
    apis.on("tickets", "GET", "", body=page([ticket_json(title=evil)]))
    html = client_user.get("/tickets/").content.decode()
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_list_says_when_tickets_is_down_and_renders_the_rest(
    client_user: Client, apis: FakeApis
) -> None:
    apis.down.add("tickets")
    apis.on("notifier", "GET", "unread-count/", body={"count": 2})
    response = client_user.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 503
    assert "Not available right now: Tickets" in html
    assert 'data-testid="unread-count">2<' in html  # the bell still works
    assert "My tickets" in html


def test_the_list_works_while_notifier_is_down(client_user: Client, apis: FakeApis) -> None:
    apis.down.add("notifier")
    apis.on("tickets", "GET", "", body=page([ticket_json()]))
    response = client_user.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    assert "SD-1041" in html
    assert "Not available right now: Notifications" in html
    assert 'data-testid="unread-count">?<' in html


def test_an_api_timeout_is_an_outage_not_an_error_page(client_user: Client, apis: FakeApis) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    apis.handle("tickets", "GET", "", slow)
    response = client_user.get("/tickets/")
    assert response.status_code == 503
    assert 'data-testid="unavailable"' in response.content.decode()


# --- Opening a ticket -------------------------------------------------------------------


def test_opening_a_ticket(client_user: Client, apis: FakeApis) -> None:
    apis.on(
        "tickets",
        "GET",
        "categories/",
        body=[
            {"slug": "hardware", "name": "Hardware", "is_active": True},
            {"slug": "old", "name": "Old", "is_active": False},
        ],
    )
    form = client_user.get("/tickets/new/").content.decode()
    assert 'value="hardware"' in form
    assert 'value="old"' not in form
    apis.on("tickets", "POST", "", 201, ticket_json(id=77, number="SD-1077"))
    response = client_user.post(
        "/tickets/new/",
        {"title": "VPN caída", "description": "No conecta", "priority": "high", "category": ""},
    )
    assert response.status_code == 302
    assert response["Location"] == "/tickets/77/"
    assert apis.called("tickets", "POST", "")[0].body == {
        "title": "VPN caída",
        "description": "No conecta",
        "priority": "high",
    }


def test_opening_a_ticket_shows_field_errors_from_the_api(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    apis.on(
        "tickets",
        "POST",
        "",
        400,
        error("Datos no válidos.", {"title": ["Este campo no puede estar en blanco."]}),
    )
    response = client_user.post(
        "/tickets/new/", {"title": "   x", "description": "d", "priority": "low"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_title-errors"' in html
    assert "Este campo no puede estar en blanco." in html
    assert "d</textarea>" in html  # what was typed is kept


def test_opening_a_ticket_while_tickets_is_down_keeps_the_text(
    client_user: Client, apis: FakeApis
) -> None:
    apis.down.add("tickets")
    response = client_user.post(
        "/tickets/new/",
        {"title": "VPN", "description": "Texto largo", "priority": "low"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Your ticket was not sent" in html
    assert "Texto largo</textarea>" in html


# --- The ticket page --------------------------------------------------------------------


def test_the_ticket_page_shows_the_conversation_with_notes_set_apart(
    technician: Client, apis: FakeApis
) -> None:
    serve_ticket(apis)
    apis.on("tickets", "GET", "41/comments/", body=page(COMMENTS))
    html = technician.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "¿Alguna novedad?" in html
    assert 'class="message internal-note" data-testid="internal-note"' in html
    assert "Internal note" in html
    assert "Add internal note" in html
    assert "Assign to me" in html
    assert "Start working" in html


def test_a_client_gets_no_staff_actions_and_can_reopen_when_resolved(
    client_user: Client, apis: FakeApis
) -> None:
    serve_ticket(apis, status="resolved", resolved_at="2026-03-03T10:00:00Z")
    html = client_user.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Reopen the ticket" in html
    assert "Add internal note" not in html
    assert "Assign to me" not in html
    assert apis.called("tickets", "GET", "assignees/") == []


def test_a_client_reply_is_never_internal(client_user: Client, apis: FakeApis) -> None:
    apis.on("tickets", "POST", "41/comments/", 201, COMMENTS[0])
    response = client_user.post("/tickets/41/", {"body": "Gracias", "internal": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/tickets/41/#conversation"
    assert apis.called("tickets", "POST", "41/comments/")[0].body == {
        "body": "Gracias",
        "internal": False,
    }


def test_staff_add_internal_notes(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "POST", "41/comments/", 201, COMMENTS[1])
    technician.post("/tickets/41/", {"body": "Revisar el tóner", "internal": "1"})
    technician.post("/tickets/41/", {"body": "Hola", "reply": ""})
    sent = [c.body for c in apis.called("tickets", "POST", "41/comments/")]
    assert sent == [
        {"body": "Revisar el tóner", "internal": True},
        {"body": "Hola", "internal": False},
    ]


def test_an_empty_reply_is_refused_next_to_the_field(client_user: Client, apis: FakeApis) -> None:
    serve_ticket(apis)
    response = client_user.post("/tickets/41/", {"body": ""})
    assert response.status_code == 400
    assert 'id="id_body-errors"' in response.content.decode()


def test_a_refused_status_move_shows_the_api_message(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis)
    apis.on(
        "tickets",
        "POST",
        "41/status/",
        409,
        error("No se puede pasar de pendiente a resuelto. Permitidos: en curso."),
    )
    response = technician.post("/tickets/41/status/", {"status": "resolved", "version": "4"})
    assert response["Location"] == "/tickets/41/"
    assert apis.called("tickets", "POST", "41/status/")[0].body == {
        "status": "resolved",
        "version": 4,
    }
    html = technician.get("/tickets/41/").content.decode()
    assert "No se puede pasar de pendiente a resuelto. Permitidos: en curso." in html


def test_a_stale_version_is_explained(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis)
    apis.on("tickets", "POST", "41/status/", 409, error("Stale.", code="stale_version"))
    technician.post(
        "/tickets/41/status/", {"status": "resolved", "version": "4"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = technician.get("/tickets/41/").content.decode()
    assert "Someone changed this ticket meanwhile" in html


def test_a_technician_assigns_to_themself(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "POST", "41/assign/", body=ticket_json(assignee_id=3))
    response = technician.post("/tickets/41/assign/", {"assignee_id": "me"})
    assert response["Location"] == "/tickets/41/"
    assert apis.called("tickets", "POST", "41/assign/")[0].body == {"assignee_id": "3"}


def test_clients_cannot_use_the_assign_page(client_user: Client, apis: FakeApis) -> None:
    response = client_user.post("/tickets/41/assign/", {"assignee_id": "me"})
    assert response.status_code == 403
    assert apis.called("tickets", "POST", "41/assign/") == []


def test_a_ticket_the_user_may_not_see_is_a_404_page(client_user: Client, apis: FakeApis) -> None:
    response = client_user.get("/tickets/999/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "This page does not exist" in response.content.decode()


def test_ids_cannot_reach_other_api_paths(client_user: Client, apis: FakeApis) -> None:
    assert client_user.get("/tickets/..%2Fcategories/").status_code == 404
    assert apis.called("tickets", "GET", "categories/") == []


def test_the_ticket_page_names_the_category(client_user: Client, apis: FakeApis) -> None:
    serve_ticket(apis)
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": "Equipos"}])
    assert "<dd>Equipos</dd>" in client_user.get("/tickets/41/").content.decode()
    client_user.get("/tickets/41/")
    assert len(apis.called("tickets", "GET", "categories/")) == 1  # kept for a minute
