"""Issue 19 on the ticket page and the queue: the statuses waiting and closed, the SLA
clocks in business time, closed tickets and their follow-ups, the client's rating, and
the desk's own history entries."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.fakes import PEOPLE, FakeApis, error, page, serve_ticket, team_json, ticket_json

pytestmark = pytest.mark.django_db

EVIL = '"><script>alert(1)</script>'


def sla(
    first: dict[str, Any] | None = None, resolution: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "calendar_id": 1,
        "first_response": first
        or {"due_at": "2099-03-02T17:15:00Z", "state": "met", "business_seconds_left": None},
        "resolution": resolution
        or {"due_at": "2099-03-05T09:15:00Z", "state": "running", "business_seconds_left": 12000},
    }


def html_of(browser: Client, path: str = "/tickets/41/") -> str:
    response = browser.get(path, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    return response.content.decode()


# --- Statuses and moves -----------------------------------------------------------------


def test_staff_may_wait_for_the_client_from_in_progress(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis, status="in_progress", version=3)
    html = html_of(technician)
    assert '<input type="hidden" name="status" value="waiting">' in html
    assert "Esperar al cliente" in html
    assert 'value="closed"' not in html


def test_a_waiting_ticket_offers_resuming_or_resolving_and_says_it_waits(
    technician: Client, apis: FakeApis
) -> None:
    serve_ticket(apis, status="waiting", waiting_since="2026-03-02T10:00:00Z")
    html = html_of(technician)
    assert '<span class="badge status-waiting">Esperando al cliente</span>' in html
    assert '<input type="hidden" name="status" value="in_progress">' in html
    assert "Reanudar el trabajo" in html
    assert '<input type="hidden" name="status" value="resolved">' in html
    assert '<input type="hidden" name="status" value="pending">' not in html
    assert "Esperando al cliente desde" in html


def test_the_client_of_a_waiting_ticket_is_asked_to_reply(
    client_user: Client, apis: FakeApis
) -> None:
    serve_ticket(apis, status="waiting")
    html = html_of(client_user)
    assert 'data-testid="waiting-notice"' in html
    assert 'id="reply"' in html
    assert "/tickets/41/status/" not in html


def test_nobody_can_close_a_ticket_by_hand(technician: Client, apis: FakeApis) -> None:
    response = technician.post("/tickets/41/status/", {"status": "closed"})
    assert response.status_code == 302
    assert apis.called("tickets", "POST", "41/status/") == []


def test_a_waiting_move_reaches_the_api(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "POST", "41/status/", body=ticket_json(status="waiting"))
    response = technician.post("/tickets/41/status/", {"status": "waiting", "version": "3"})
    assert response.status_code == 302
    assert apis.called("tickets", "POST", "41/status/")[0].body == {
        "status": "waiting",
        "version": 3,
    }


# --- A closed ticket and its follow-up --------------------------------------------------


def test_a_closed_ticket_is_final_for_staff(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis, status="closed", closed_at="2026-03-10T09:00:00Z", version=5)
    apis.on("tickets", "GET", "macros/", body=[])
    html = html_of(technician)
    assert 'data-testid="closed-banner"' in html
    assert '<span class="badge status-closed">Cerrado</span>' in html
    assert 'id="reply"' not in html
    assert "/tickets/41/status/" not in html
    assert "/tickets/41/assign/" not in html
    assert 'data-testid="edit-ticket"' not in html
    assert 'data-testid="merge-form"' not in html


def test_a_client_replying_to_a_closed_ticket_is_told_and_lands_on_the_follow_up(
    client_user: Client, apis: FakeApis
) -> None:
    serve_ticket(apis, status="closed")
    html = html_of(client_user)
    assert 'data-testid="follow-up-help"' in html
    assert "Enviar y abrir un ticket de seguimiento" in html
    assert "/tickets/41/status/" not in html  # nothing to reopen: it is final
    stored = {
        "id": 99,
        "author_id": 7,
        "body": "Vuelve a fallar",
        "internal": False,
        "created_at": "2026-03-20T09:00:00Z",
        "ticket_id": 57,
    }
    apis.on("tickets", "POST", "41/comments/", status=201, body=stored)
    response = client_user.post("/tickets/41/", {"body": "Vuelve a fallar"})
    assert response.status_code == 302
    assert response["Location"] == "/tickets/57/#conversation"


def test_a_reply_stored_on_the_same_ticket_stays_there(client_user: Client, apis: FakeApis) -> None:
    stored = {
        "id": 99,
        "author_id": 7,
        "body": "Gracias",
        "internal": False,
        "created_at": "2026-03-20T09:00:00Z",
        "ticket_id": 41,
    }
    apis.on("tickets", "POST", "41/comments/", status=201, body=stored)
    response = client_user.post("/tickets/41/", {"body": "Gracias"})
    assert response["Location"] == "/tickets/41/#conversation"


def test_staff_refused_on_a_closed_ticket_see_why(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis, status="closed")
    apis.on(
        "tickets",
        "POST",
        "41/comments/",
        status=409,
        body=error("Este ticket está cerrado.", code="closed"),
    )
    response = technician.post("/tickets/41/", {"body": "Hola"}, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 400
    assert "Este ticket está cerrado." in response.content.decode()


def test_a_follow_up_links_to_the_ticket_it_follows(client_user: Client, apis: FakeApis) -> None:
    serve_ticket(apis, follow_up_of_id=30)
    apis.on("tickets", "GET", "30/", body=ticket_json(id=30, number="SD-1030", status="closed"))
    html = html_of(client_user)
    assert 'data-testid="follow-up-of"' in html
    assert '<a href="/tickets/30/">SD-1030</a>' in html


# --- SLA clocks -------------------------------------------------------------------------


def test_staff_see_what_is_left_of_each_clock_in_business_time(
    technician: Client, apis: FakeApis
) -> None:
    serve_ticket(apis, status="in_progress", sla=sla())
    html = html_of(technician)
    assert 'data-testid="sla-clocks"' in html
    assert "Quedan 3 h 20 min laborables" in html
    assert 'data-testid="sla-first-response" data-state="met"' in html
    assert "Cumplido" in html


def test_an_overdue_clock_says_by_how_much(technician: Client, apis: FakeApis) -> None:
    late = {"due_at": "2026-03-02T10:00:00Z", "state": "breached", "business_seconds_left": -7200}
    serve_ticket(apis, status="in_progress", sla=sla(resolution=late))
    html = html_of(technician)
    assert "Vencido hace 2 h" in html
    assert 'data-testid="sla-breached"' in html  # the badge at the top


def test_a_paused_clock_says_so_and_keeps_what_is_left(technician: Client, apis: FakeApis) -> None:
    paused = {"due_at": None, "state": "paused", "business_seconds_left": 2700}
    serve_ticket(apis, status="waiting", sla=sla(resolution=paused))
    html = html_of(technician)
    assert "En pausa (esperando al cliente)" in html
    assert "Quedarán 45 min laborables al reanudarse" in html


def test_a_missed_clock_of_a_done_ticket(technician: Client, apis: FakeApis) -> None:
    missed = {"due_at": "2026-03-02T10:00:00Z", "state": "breached", "business_seconds_left": None}
    serve_ticket(apis, status="resolved", sla=sla(resolution=missed))
    assert "Incumplido" in html_of(technician)


def test_clients_see_no_sla_internals(client_user: Client, apis: FakeApis) -> None:
    serve_ticket(apis, status="in_progress", sla=sla())
    html = html_of(client_user)
    assert 'data-testid="sla"' not in html
    assert "laborables" not in html


# --- Satisfaction on the ticket page ----------------------------------------------------


def test_staff_see_the_clients_rating_escaped(technician: Client, apis: FakeApis) -> None:
    rating = {"rating": "bad", "comment": EVIL, "rated_at": "2026-03-11T09:00:00Z"}
    serve_ticket(apis, status="resolved", resolved_at="2026-03-10T09:00:00Z", rating=rating)
    html = html_of(technician)
    assert '<strong data-testid="rating-value">Mal</strong>' in html
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_staff_see_that_a_resolved_ticket_has_no_rating_yet(
    technician: Client, apis: FakeApis
) -> None:
    serve_ticket(apis, status="resolved", resolved_at="2026-03-10T09:00:00Z")
    assert "El cliente aún no ha respondido." in html_of(technician)


def test_the_client_sees_their_own_rating(client_user: Client, apis: FakeApis) -> None:
    rating = {"rating": "good", "comment": "", "rated_at": "2026-03-11T09:00:00Z"}
    serve_ticket(apis, status="resolved", rating=rating)
    html = html_of(client_user)
    assert '<strong data-testid="rating-value">Bien</strong>' in html
    assert "14 días" in html


# --- History ----------------------------------------------------------------------------


def test_the_desks_own_changes_are_named_as_rules(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis, status="closed")
    apis.on("tickets", "GET", "assignees/", body=PEOPLE)
    entries = [
        {"actor_id": "sla:escalation", "field": "priority", "from": "high", "to": "urgent",
         "at": "2026-03-03T09:00:00Z"},
        {"actor_id": "sla:escalation", "field": "assignee_id", "from": None, "to": 3,
         "at": "2026-03-03T09:00:00Z"},
        {"actor_id": "sla:auto_close", "field": "status", "from": "resolved", "to": "closed",
         "at": "2026-03-17T09:00:00Z"},
        {"actor_id": 4, "field": "status", "from": "in_progress", "to": "waiting",
         "at": "2026-03-02T11:00:00Z"},
        {"actor_id": 7, "field": "rating", "from": "good", "to": "bad",
         "at": "2026-03-12T09:00:00Z"},
    ]  # fmt: skip
    apis.on("tickets", "GET", "41/history/", body=page(entries))
    html = html_of(technician)
    assert "Ana Cliente</span> · Satisfacción Bien → Mal" in " ".join(html.split())
    assert html.count(">Regla de escalado</span>") == 2
    assert ">Cierre automático</span>" in html
    assert ">Tina Técnica</span>" in html
    assert "Resuelto → Cerrado" in html
    assert "En progreso → Esperando al cliente" in html
    assert "sla:escalation" not in html


def test_the_client_sees_the_automatic_close_and_not_who_on_staff(
    client_user: Client, apis: FakeApis
) -> None:
    serve_ticket(apis, status="closed")
    entries = [
        {"actor_id": 4, "field": "status", "from": "in_progress", "to": "resolved",
         "at": "2026-03-02T11:00:00Z"},
        {"actor_id": "sla:auto_close", "field": "status", "from": "resolved", "to": "closed",
         "at": "2026-03-17T09:00:00Z"},
    ]  # fmt: skip
    apis.on("tickets", "GET", "41/history/", body=page(entries))
    html = html_of(client_user)
    assert ">Cierre automático</span>" in html
    assert ">Equipo de soporte</span>" in html


# --- The queue --------------------------------------------------------------------------

COUNTS = {
    "pending": 7,
    "in_progress": 3,
    "waiting": 2,
    "resolved": 40,
    "closed": 100,
    "total": 152,
    "capped": [],
}


def serve_queue(apis: FakeApis, rows: list[dict[str, Any]] | None = None) -> None:
    apis.on("tickets", "GET", "", body=page(rows or [ticket_json(id=1, number="SD-1")]))
    apis.on("tickets", "GET", "categories/", body=[])
    apis.on("tickets", "GET", "teams/", body=[team_json()])
    apis.on("tickets", "GET", "status-counts/", body=COUNTS)
    apis.on("tickets", "GET", "views/", body=[])
    apis.on("tickets", "GET", "assignees/", body=PEOPLE)


def test_the_queue_has_tabs_for_the_new_statuses(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = html_of(technician, "/tickets/")
    assert "Esperando al cliente" in html
    assert 'data-testid="count-waiting"' in html
    assert 'data-testid="count-closed"' in html


def test_the_queue_filters_by_the_sla_and_sorts_by_due_soonest(
    technician: Client, apis: FakeApis
) -> None:
    serve_queue(apis)
    html = html_of(technician, "/tickets/?sla=warning&ordering=resolution_due")
    params = apis.called("tickets", "GET", "")[0].params
    assert params["sla"] == ["warning"]
    assert params["ordering"] == ["resolution_due"]
    assert apis.called("tickets", "GET", "status-counts/")[0].params["sla"] == ["warning"]
    assert '<option value="warning" selected>' in html
    assert 'data-testid="chip-warning" href="?ordering=resolution_due"' in html
    assert 'aria-current="true">En riesgo</a>' in html
    assert 'aria-current="true">Vence antes primero</a>' in html
    technician.get("/tickets/?sla=whatever")  # not a filter: dropped
    assert "sla" not in apis.called("tickets", "GET", "")[1].params


def test_the_breached_chip_adds_the_filter_to_the_current_ones(
    technician: Client, apis: FakeApis
) -> None:
    serve_queue(apis)
    html = html_of(technician, "/tickets/?priority=urgent")
    assert 'data-testid="chip-breached" href="?priority=urgent&amp;sla=breached"' in html


def test_a_saved_view_keeps_the_sla_filter(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    apis.on("tickets", "POST", "views/", status=201, body={"id": 9, "name": "En riesgo"})
    technician.post(
        "/tickets/views/",
        {"view-name": "En riesgo", "query": "sla=warning&ordering=resolution_due"},
    )
    filters = apis.called("tickets", "POST", "views/")[0].body["filters"]
    assert filters["sla"] == "warning"
    assert filters["ordering"] == "resolution_due"
    view = {"id": 9, "name": "En riesgo", "filters": filters, "owner_id": 3}
    apis.on("tickets", "GET", "views/", body=[view])
    html = html_of(technician, "/tickets/")
    assert "/tickets/?sla=warning&amp;ordering=resolution_due" in html


def test_a_waiting_row_shows_its_clock_paused(technician: Client, apis: FakeApis) -> None:
    paused = {"due_at": None, "state": "paused", "business_seconds_left": 2700}
    serve_queue(
        apis, [ticket_json(id=1, number="SD-1", status="waiting", sla=sla(resolution=paused))]
    )
    html = html_of(technician, "/tickets/")
    assert 'data-testid="sla-paused"' in html
    assert '<tr class="sla-row-paused">' in html


def test_bulk_and_macros_never_offer_closed(technician: Client, apis: FakeApis) -> None:
    serve_queue(apis)
    html = html_of(technician, "/tickets/")
    bulk = html[html.index('id="id_bulk-status"') :]
    bulk = bulk[: bulk.index("</select>")]
    assert 'value="waiting"' in bulk
    assert 'value="closed"' not in bulk


def test_a_closed_tickets_edit_page_offers_no_form(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis, status="closed", version=5)
    apis.on("tickets", "GET", "categories/", body=[])
    apis.on("tickets", "GET", "teams/", body=[])
    html = html_of(technician, "/tickets/41/edit/")
    assert 'data-testid="closed-banner"' in html
    assert 'name="title"' not in html
