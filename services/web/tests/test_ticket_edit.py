"""Staff edit a ticket (with the version they read: a stale edit is a conflict, never a
lost update) and open tickets on behalf of a client they look up."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.fakes import FakeApis, error, serve_ticket, team_json, ticket_json

pytestmark = pytest.mark.django_db

CATEGORIES = [
    {"slug": "hardware", "name": "Equipos", "is_active": True},
    {"slug": "red", "name": "Red", "is_active": True},
    {"slug": "old", "name": "Antigua", "is_active": False},
]
EDIT = {
    "title": "La impresora de la 2ª planta",
    "description": "Sale una hoja en blanco.\nSolo en dúplex.",
    "priority": "high",
    "category": "red",
    "version": "4",
}


def serve_edit(apis: FakeApis, **overrides: object) -> None:
    apis.on("tickets", "GET", "41/", body=ticket_json(version=4, **overrides))
    apis.on("tickets", "GET", "categories/", body=CATEGORIES)


# --- Editing ----------------------------------------------------------------------------


def test_the_ticket_page_offers_staff_the_edit_page(technician: Client, apis: FakeApis) -> None:
    serve_ticket(apis, version=4)
    html = technician.get("/tickets/41/").content.decode()
    assert 'href="/tickets/41/edit/"' in html


def test_the_edit_form_is_prefilled_with_the_version_it_read(
    technician: Client, apis: FakeApis
) -> None:
    serve_edit(apis)
    response = technician.get("/tickets/41/edit/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="La impresora no imprime"' in html
    assert "Sale una hoja en blanco.</textarea>" in html
    assert '<option value="medium" selected>' in html
    assert '<option value="hardware" selected>' in html
    assert 'value="old"' not in html  # inactive and not the ticket's: not offered
    assert '<input type="hidden" name="version" value="4"' in html


def test_an_inactive_category_the_ticket_has_stays_choosable(
    technician: Client, apis: FakeApis
) -> None:
    serve_edit(apis, category="old")
    html = technician.get("/tickets/41/edit/").content.decode()
    assert '<option value="old" selected>' in html


def test_an_edit_sends_a_patch_with_the_version(technician: Client, apis: FakeApis) -> None:
    serve_edit(apis)
    apis.on("tickets", "PATCH", "41/", body=ticket_json(version=5))
    response = technician.post("/tickets/41/edit/", EDIT, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert response["Location"] == "/tickets/41/"
    assert apis.called("tickets", "PATCH", "41/")[0].body == {
        "title": "La impresora de la 2ª planta",
        "description": "Sale una hoja en blanco.\nSolo en dúplex.",
        "priority": "high",
        "category": "red",
        "tags": [],
        "version": 4,
    }


def test_clearing_the_category_sends_null(admin: Client, apis: FakeApis) -> None:
    serve_edit(apis)
    apis.on("tickets", "PATCH", "41/", body=ticket_json(version=5))
    admin.post("/tickets/41/edit/", EDIT | {"category": ""})
    assert apis.called("tickets", "PATCH", "41/")[0].body["category"] is None


def test_a_stale_edit_shows_the_conflict_and_keeps_what_was_typed(
    technician: Client, apis: FakeApis
) -> None:
    serve_edit(apis, title="Cambiado por otra persona", priority="urgent")
    apis.routes[("tickets", "GET", "41/")] = (
        200,
        ticket_json(version=6, title="Cambiado por otra persona", priority="urgent"),
    )
    apis.on("tickets", "PATCH", "41/", 409, error("Stale.", code="stale_version"))
    response = technician.post("/tickets/41/edit/", EDIT, HTTP_ACCEPT_LANGUAGE="es")
    html = response.content.decode()
    assert response.status_code == 409
    assert "Alguien cambió este ticket mientras lo editabas" in html
    assert 'data-testid="conflict"' in html
    assert "<dd>Cambiado por otra persona</dd>" in html  # what it says now
    assert 'value="La impresora de la 2ª planta"' in html  # what was typed, kept
    assert "Solo en dúplex.</textarea>" in html
    # Sending again is deliberate: against the version just shown, not the stale one.
    assert '<input type="hidden" name="version" value="6"' in html


def test_api_field_errors_are_shown_next_to_their_fields(
    technician: Client, apis: FakeApis
) -> None:
    serve_edit(apis)
    apis.on(
        "tickets",
        "PATCH",
        "41/",
        400,
        error("Datos no válidos.", {"category": ["Esta categoría ya no se usa."]}),
    )
    response = technician.post("/tickets/41/edit/", EDIT)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_category-errors"' in html
    assert "Esta categoría ya no se usa." in html
    assert 'value="La impresora de la 2ª planta"' in html


def test_a_blank_title_is_refused_before_the_api(technician: Client, apis: FakeApis) -> None:
    serve_edit(apis)
    response = technician.post("/tickets/41/edit/", EDIT | {"title": "  "})
    assert response.status_code == 400
    assert 'id="id_title-errors"' in response.content.decode()
    assert apis.called("tickets", "PATCH", "41/") == []


def test_clients_never_see_nor_post_the_edit_form(client_user: Client, apis: FakeApis) -> None:
    serve_edit(apis)
    serve_ticket(apis)
    assert "/tickets/41/edit/" not in client_user.get("/tickets/41/").content.decode()
    assert client_user.get("/tickets/41/edit/").status_code == 403
    assert client_user.post("/tickets/41/edit/", EDIT).status_code == 403
    assert apis.called("tickets", "PATCH", "41/") == []


def test_editing_a_ticket_staff_may_not_see_is_a_404_page(
    technician: Client, apis: FakeApis
) -> None:
    assert technician.get("/tickets/999/edit/").status_code == 404


def test_the_edit_page_escapes_what_users_wrote(technician: Client, apis: FakeApis) -> None:
    evil = '"><script>alert(1)</script>'
    serve_edit(apis, title=evil, description=evil)
    html = technician.get("/tickets/41/edit/").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_edit_page_says_when_tickets_is_down(technician: Client, apis: FakeApis) -> None:
    apis.down.add("tickets")
    response = technician.get("/tickets/41/edit/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert "Not available right now: Tickets" in response.content.decode()


# --- Opening a ticket for a client ------------------------------------------------------

ANA = {"id": 7, "username": "ana", "name": "Ana Cliente", "email": "ana@example.com"}


def test_staff_look_the_client_up_then_open_the_ticket_for_them(
    technician: Client, apis: FakeApis
) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    apis.on("tickets", "GET", "clients/", body=[ANA])
    html = technician.get("/tickets/new/?client_q=ana").content.decode()
    assert apis.called("tickets", "GET", "clients/")[0].params == {"q": ["ana"]}
    assert '<option value="7">Ana Cliente &lt;ana@example.com&gt;</option>' in html
    assert 'name="client_q" value="ana"' in html
    apis.on("tickets", "POST", "", 201, ticket_json(id=77, number="SD-1077"))
    response = technician.post(
        "/tickets/new/",
        {
            "client_q": "ana",
            "client_id": "7",
            "title": "VPN caída",
            "description": "Llamó por teléfono",
            "priority": "high",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/tickets/77/"
    assert apis.called("tickets", "POST", "")[0].body == {
        "client_id": "7",
        "title": "VPN caída",
        "description": "Llamó por teléfono",
        "priority": "high",
    }


def test_staff_must_choose_a_client(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    response = technician.post(
        "/tickets/new/", {"title": "VPN", "description": "d", "priority": "low"}
    )
    assert response.status_code == 400
    assert 'id="id_client_id-errors"' in response.content.decode()
    assert apis.called("tickets", "POST", "") == []


def test_a_search_without_matches_says_so(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    apis.on("tickets", "GET", "clients/", body=[])
    html = technician.get("/tickets/new/?client_q=nadie").content.decode()
    assert 'data-testid="no-clients"' in html


def test_client_names_are_escaped(technician: Client, apis: FakeApis) -> None:
    evil = "<img src=x onerror=alert(1)>"
    apis.on("tickets", "GET", "categories/", body=[])
    apis.on("tickets", "GET", "clients/", body=[ANA | {"name": evil, "email": ""}])
    html = technician.get("/tickets/new/?client_q=%3Cimg").content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_clients_get_no_client_picker(client_user: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    html = client_user.get("/tickets/new/?client_q=ana").content.decode()
    assert 'name="client_id"' not in html
    assert 'data-testid="client-search"' not in html
    assert apis.called("tickets", "GET", "clients/") == []


# --- Team and tags ----------------------------------------------------------------------

TEAMS = [team_json(), team_json(id=4, name="Equipos")]


def serve_teams(apis: FakeApis, teams: list[dict[str, object]] | None = None) -> None:
    apis.on("tickets", "GET", "teams/", body=TEAMS if teams is None else teams)


def test_staff_edit_the_team_and_the_tags(technician: Client, apis: FakeApis) -> None:
    serve_edit(apis, team_id=3, tags=["impresoras", "2ª planta"])
    serve_teams(apis)
    html = technician.get("/tickets/41/edit/").content.decode()
    assert '<option value="3" selected>Soporte de red</option>' in html
    assert '<option value="">Sin equipo</option>' in html
    assert 'value="impresoras, 2ª planta"' in html
    assert 'list="tag-suggestions"' in html
    assert 'data-source="/tickets/tags/"' in html
    apis.on("tickets", "PATCH", "41/", body=ticket_json(version=5))
    technician.post("/tickets/41/edit/", EDIT | {"team_id": "4", "tags": " VPN, ,vpn , Red "})
    body = apis.called("tickets", "PATCH", "41/")[0].body
    assert body["team_id"] == 4
    assert body["tags"] == ["vpn", "red"]


def test_an_unchanged_team_is_not_sent_so_a_new_category_brings_its_own(
    technician: Client, apis: FakeApis
) -> None:
    serve_edit(apis, team_id=3)
    serve_teams(apis)
    apis.on("tickets", "PATCH", "41/", body=ticket_json(version=5))
    technician.post("/tickets/41/edit/", EDIT | {"team_id": "3"})
    assert "team_id" not in apis.called("tickets", "PATCH", "41/")[0].body
    technician.post("/tickets/41/edit/", EDIT | {"team_id": ""})
    assert apis.called("tickets", "PATCH", "41/")[1].body["team_id"] is None


def test_without_teams_the_team_is_left_alone(technician: Client, apis: FakeApis) -> None:
    serve_edit(apis, team_id=3)
    apis.on("tickets", "GET", "teams/", 403, error("No."))
    assert 'name="team_id"' not in technician.get("/tickets/41/edit/").content.decode()
    apis.on("tickets", "PATCH", "41/", body=ticket_json(version=5))
    assert technician.post("/tickets/41/edit/", EDIT).status_code == 302
    assert "team_id" not in apis.called("tickets", "PATCH", "41/")[0].body


def test_a_too_long_tag_is_refused_before_the_api(technician: Client, apis: FakeApis) -> None:
    serve_edit(apis)
    response = technician.post("/tickets/41/edit/", EDIT | {"tags": "x" * 51})
    assert response.status_code == 400
    assert 'id="id_tags-errors"' in response.content.decode()
    assert apis.called("tickets", "PATCH", "41/") == []


def test_a_stale_edit_shows_the_team_and_tags_now_and_keeps_the_typed_ones(
    technician: Client, apis: FakeApis
) -> None:
    serve_edit(apis)
    serve_teams(apis)
    apis.routes[("tickets", "GET", "41/")] = (
        200,
        ticket_json(version=6, team_id=4, tags=["urgente"]),
    )
    apis.on("tickets", "PATCH", "41/", 409, error("Stale.", code="stale_version"))
    response = technician.post(
        "/tickets/41/edit/", EDIT | {"team_id": "3", "tags": "mis, etiquetas"}
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert '<dd data-testid="conflict-team">Equipos</dd>' in html
    assert '<dd data-testid="conflict-tags">urgente</dd>' in html
    assert '<option value="3" selected>Soporte de red</option>' in html
    assert 'value="mis, etiquetas"' in html


def test_editing_a_merged_ticket_shows_the_apis_refusal(technician: Client, apis: FakeApis) -> None:
    serve_edit(apis, merged_into_id=42)
    apis.on("tickets", "GET", "42/", body=ticket_json(id=42, number="SD-1042"))
    apis.on(
        "tickets",
        "PATCH",
        "41/",
        409,
        error("Este ticket se fusionó con otro.", code="merged", merged_into_id=42),
    )
    response = technician.post("/tickets/41/edit/", EDIT)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Este ticket se fusionó con otro." in html
    assert 'data-testid="merged-banner"' in html
    assert '<a href="/tickets/42/">SD-1042</a>' in html


def test_a_merged_ticket_offers_no_edit_form(technician: Client, apis: FakeApis) -> None:
    serve_edit(apis, merged_into_id=42)
    apis.on("tickets", "GET", "42/", body=ticket_json(id=42, number="SD-1042"))
    html = technician.get("/tickets/41/edit/").content.decode()
    assert 'data-testid="merged-banner"' in html
    assert 'action="/tickets/41/edit/"' not in html
    assert '<a href="/tickets/41/" class="button button-secondary">' in html


def test_team_names_and_tags_are_escaped_on_the_edit_page(
    technician: Client, apis: FakeApis
) -> None:
    evil = '"><script>alert(1)</script>'
    serve_edit(apis, team_id=3, tags=[evil])
    serve_teams(apis, [team_json(name=evil)])
    html = technician.get("/tickets/41/edit/").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- Tag suggestions and the client search without a reload --------------------------


def test_tag_suggestions_come_from_the_api_as_json(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "tags/", body=[{"name": "vpn", "ticket_count": 9}])
    response = technician.get("/tickets/tags/?q=%20VP")
    assert response.status_code == 200
    assert response.json() == {"results": [{"name": "vpn", "ticket_count": 9}]}
    assert apis.called("tickets", "GET", "tags/")[0].params == {"q": ["vp"]}


def test_tag_suggestions_say_when_tickets_is_down(technician: Client, apis: FakeApis) -> None:
    apis.down.add("tickets")
    response = technician.get("/tickets/tags/?q=v")
    assert response.status_code == 503
    assert response.json()["results"] == []


def test_clients_get_no_tag_suggestions(client_user: Client, apis: FakeApis) -> None:
    assert client_user.get("/tickets/tags/?q=v").status_code == 403
    assert apis.called("tickets", "GET", "tags/") == []


def test_the_client_lookup_answers_json(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "clients/", body=[ANA])
    response = technician.get("/tickets/clients/?q=ana")
    assert response.json() == {
        "results": [{"id": "7", "label": "Ana Cliente <ana@example.com>"}],
        "message": "",
    }
    apis.on("tickets", "GET", "clients/", body=[])
    answer = technician.get("/tickets/clients/?q=nadie", HTTP_ACCEPT_LANGUAGE="es").json()
    assert answer == {"results": [], "message": "Ningún cliente activo coincide con esta búsqueda."}


def test_the_client_lookup_shows_the_apis_refusal(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "clients/", 400, error("Búsqueda demasiado larga."))
    response = technician.get("/tickets/clients/?q=ana")
    assert response.status_code == 400
    assert response.json()["message"] == "Búsqueda demasiado larga."


def test_searching_the_client_keeps_what_was_typed(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[])
    apis.on("tickets", "GET", "clients/", body=[ANA])
    response = technician.post(
        "/tickets/new/",
        {
            "client_q": "ana",
            "find_client": "1",
            "title": "VPN caída",
            "description": "Llamó por teléfono",
            "priority": "high",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert apis.called("tickets", "POST", "") == []  # nothing sent
    assert 'value="VPN caída"' in html
    assert "Llamó por teléfono</textarea>" in html
    assert '<option value="high" selected>' in html
    assert '<option value="7">Ana Cliente &lt;ana@example.com&gt;</option>' in html
    assert "errors" not in html.split("<main", 1)[1].split('class="field', 1)[0]
    assert 'data-client-lookup="/tickets/clients/"' in html
