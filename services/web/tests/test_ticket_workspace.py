"""The ticket page for staff after issue 18: team and tags, merged tickets, merging, and
the canned-response picker of the reply box."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.fakes import (
    FakeApis,
    error,
    macro_json,
    page,
    serve_ticket,
    team_json,
    ticket_json,
)

pytestmark = pytest.mark.django_db

EVIL = '"><script>alert(1)</script>'


def serve_workspace(apis: FakeApis, **overrides: object) -> None:
    serve_ticket(apis, version=4, **overrides)
    apis.on("tickets", "GET", "teams/", body=[team_json()])
    apis.on("tickets", "GET", "macros/", body=[macro_json(), macro_json(id=6, shared=True)])


# --- Team and tags ----------------------------------------------------------------------


def test_staff_see_the_team_and_the_tags(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis, team_id=3, tags=["impresoras", "2ª planta"])
    html = technician.get("/tickets/41/").content.decode()
    assert '<dd data-testid="team">Soporte de red</dd>' in html
    assert '<li class="tag">impresoras</li><li class="tag">2ª planta</li>' in html


def test_clients_see_neither_team_nor_tags_nor_the_staff_tools(
    client_user: Client, apis: FakeApis
) -> None:
    serve_workspace(apis, team_id=3)
    html = client_user.get("/tickets/41/").content.decode()
    assert 'data-testid="team"' not in html
    assert 'data-testid="macro-picker"' not in html
    assert 'data-testid="merge-form"' not in html
    assert apis.called("tickets", "GET", "macros/") == []


def test_team_names_and_tags_are_escaped(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis, team_id=3, tags=[EVIL])
    apis.on("tickets", "GET", "teams/", body=[team_json(name=EVIL)])
    html = technician.get("/tickets/41/").content.decode()
    assert "<script>alert(1)" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2


# --- A merged ticket --------------------------------------------------------------------


def test_a_merged_ticket_says_where_it_went_and_offers_no_changes(
    technician: Client, apis: FakeApis
) -> None:
    serve_workspace(apis, merged_into_id=42, status="resolved")
    apis.on("tickets", "GET", "42/", body=ticket_json(id=42, number="SD-1042"))
    html = technician.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'data-testid="merged-banner"' in html
    assert 'Este ticket se fusionó en <a href="/tickets/42/">SD-1042</a>.' in html
    assert 'id="reply"' not in html
    assert "/tickets/41/status/" not in html
    assert "/tickets/41/assign/" not in html
    assert 'data-testid="merge-form"' not in html
    assert 'data-testid="macro-picker"' not in html


def test_a_client_whose_ticket_went_into_one_they_cannot_see_gets_no_link(
    client_user: Client, apis: FakeApis
) -> None:
    serve_workspace(apis, merged_into_id=42, status="resolved")
    html = client_user.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Este ticket se fusionó en otro." in html
    assert 'href="/tickets/42/"' not in html
    assert "Reabrir el ticket" not in html


def test_messages_merged_from_another_ticket_say_so(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis)
    comment = {
        "id": 9,
        "author_id": 7,
        "body": "Sigue sin imprimir",
        "internal": False,
        "created_at": "2026-03-02T10:00:00Z",
        "merged_from_id": 40,
        "merged_from_number": "SD-1040",
    }
    apis.on("tickets", "GET", "41/comments/", body=page([comment]))
    html = technician.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<span class="badge badge-muted" data-testid="merged-from">De SD-1040</span>' in html


# --- Merging ----------------------------------------------------------------------------


def test_staff_merge_a_ticket_into_one_named_by_its_number(
    technician: Client, apis: FakeApis
) -> None:
    serve_workspace(apis)
    html = technician.get("/tickets/41/").content.decode()
    assert 'action="/tickets/41/merge/"' in html
    apis.on(
        "tickets",
        "GET",
        "",
        body=page([ticket_json(id=90, number="SD-10420"), ticket_json(id=42, number="SD-1042")]),
    )
    apis.on("tickets", "POST", "41/merge/", body=ticket_json(id=42, number="SD-1042"))
    response = technician.post("/tickets/41/merge/", {"into": " sd-1042 "})
    assert response.status_code == 302
    assert response["Location"] == "/tickets/42/"
    assert apis.called("tickets", "GET", "")[0].params == {"q": ["sd-1042"]}
    assert apis.called("tickets", "POST", "41/merge/")[0].body == {"into_id": 42}


def test_a_bare_number_that_is_no_ticket_number_is_taken_as_an_id(
    technician: Client, apis: FakeApis
) -> None:
    apis.on("tickets", "GET", "", body=page([]))
    apis.on("tickets", "POST", "41/merge/", body=ticket_json(id=55, number="SD-1055"))
    response = technician.post("/tickets/41/merge/", {"into": "55"})
    assert response["Location"] == "/tickets/55/"
    assert apis.called("tickets", "POST", "41/merge/")[0].body == {"into_id": 55}


def test_an_unknown_ticket_number_is_said_and_nothing_merged(
    technician: Client, apis: FakeApis
) -> None:
    serve_workspace(apis)
    apis.on("tickets", "GET", "", body=page([]))
    response = technician.post(
        "/tickets/41/merge/", {"into": "SD-9999"}, HTTP_ACCEPT_LANGUAGE="es", follow=True
    )
    assert "No existe el ticket SD-9999." in response.content.decode()
    assert apis.called("tickets", "POST", "41/merge/") == []


def test_the_apis_refusal_of_a_merge_is_shown(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis)
    apis.on("tickets", "GET", "", body=page([ticket_json(id=42, number="SD-1042")]))
    apis.on(
        "tickets",
        "POST",
        "41/merge/",
        400,
        error("Solo se fusionan tickets del mismo cliente."),
    )
    response = technician.post("/tickets/41/merge/", {"into": "SD-1042"}, follow=True)
    assert response.status_code == 200
    assert "Solo se fusionan tickets del mismo cliente." in response.content.decode()


def test_a_merge_target_that_is_not_a_ticket_number_is_refused(
    technician: Client, apis: FakeApis
) -> None:
    serve_workspace(apis)
    response = technician.post(
        "/tickets/41/merge/", {"into": "<b>x</b>"}, HTTP_ACCEPT_LANGUAGE="en", follow=True
    )
    assert response.status_code == 200
    assert "Give the number of the ticket to merge this one into." in response.content.decode()
    assert apis.called("tickets", "GET", "") == []
    assert apis.called("tickets", "POST", "41/merge/") == []


def test_clients_cannot_merge(client_user: Client, apis: FakeApis) -> None:
    assert client_user.post("/tickets/41/merge/", {"into": "42"}).status_code == 403
    assert apis.called("tickets", "POST", "41/merge/") == []


# --- Canned responses in the reply box ------------------------------------------------


def test_the_reply_box_offers_the_canned_responses(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis)
    html = technician.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'data-testid="macro-picker"' in html
    assert 'action="/tickets/41/apply-response/"' in html
    assert '<option value="5">Pedir el modelo</option>' in html
    assert "Hola {cliente}, ¿qué modelo de impresora es?" in html  # the preview, as written
    assert '<input type="hidden" name="version" value="4">' in html


def test_without_canned_responses_there_is_no_picker(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis)
    apis.on("tickets", "GET", "macros/", body=[])
    assert 'data-testid="macro-picker"' not in technician.get("/tickets/41/").content.decode()
    apis.on("tickets", "GET", "macros/", 404, error("Not found."))
    assert technician.get("/tickets/41/").status_code == 200


def test_applying_a_canned_response_posts_it_and_shows_the_result(
    technician: Client, apis: FakeApis
) -> None:
    serve_workspace(apis)
    apis.on(
        "tickets",
        "POST",
        "41/apply-macro/",
        body=ticket_json(status="in_progress", priority="high", version=6),
    )
    response = technician.post(
        "/tickets/41/apply-response/",
        {"macro_id": "5", "version": "4"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert response.status_code == 302
    assert response["Location"] == "/tickets/41/#conversation"
    assert apis.called("tickets", "POST", "41/apply-macro/")[0].body == {
        "macro_id": "5",
        "version": 4,
    }
    html = technician.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert (
        "Respuesta predefinida aplicada. El ticket está ahora: En progreso, prioridad Alta." in html
    )


def test_a_refused_canned_response_shows_why(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis)
    apis.on(
        "tickets",
        "POST",
        "41/apply-macro/",
        409,
        error("No se puede pasar de Pendiente a Resuelto."),
    )
    response = technician.post("/tickets/41/apply-response/", {"macro_id": "5"}, follow=True)
    assert response.status_code == 200
    assert "No se puede pasar de Pendiente a Resuelto." in response.content.decode()


def test_a_stale_canned_response_says_the_ticket_changed(
    technician: Client, apis: FakeApis
) -> None:
    serve_workspace(apis)
    apis.on("tickets", "POST", "41/apply-macro/", 409, error("Stale.", code="stale_version"))
    response = technician.post(
        "/tickets/41/apply-response/",
        {"macro_id": "5", "version": "3"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert "Someone changed this ticket meanwhile" in response.content.decode()


def test_no_canned_response_chosen_sends_nothing(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis)
    technician.post("/tickets/41/apply-response/", {"macro_id": ""})
    assert apis.called("tickets", "POST", "41/apply-macro/") == []


def test_canned_response_titles_and_bodies_are_escaped(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis)
    apis.on(
        "tickets", "GET", "macros/", body=[macro_json(title=EVIL, body=EVIL + " {{ 7|add:1 }}")]
    )
    html = technician.get("/tickets/41/").content.decode()
    assert "<script>alert(1)" not in html
    assert "{{ 7|add:1 }}" in html  # never evaluated
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2


def test_the_history_names_teams(technician: Client, apis: FakeApis) -> None:
    serve_workspace(apis, team_id=3)
    entry = {"actor_id": 3, "field": "team_id", "from": None, "to": 3, "at": "2026-03-02T10:00:00Z"}
    apis.on("tickets", "GET", "41/history/", body=page([entry]))
    html = technician.get("/tickets/41/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Equipo\n                    — → Soporte de red" in html
