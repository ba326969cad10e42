"""Admin pages for teams, the canned responses page, and a technician's switch for
automatic assignment (issue 18)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.fakes import PEOPLE, FakeApis, error, macro_json, profile_json, team_json

pytestmark = pytest.mark.django_db

EVIL = '"><script>alert(1)</script>'
CATEGORIES = [{"slug": "red", "name": "Red"}, {"slug": "hardware", "name": "Equipos"}]


def serve_teams(apis: FakeApis) -> None:
    apis.on("tickets", "GET", "teams/", body=[team_json()])
    apis.on("tickets", "GET", "teams/3/", body=team_json())
    apis.on("tickets", "GET", "assignees/", body=PEOPLE)
    apis.on("tickets", "GET", "categories/", body=CATEGORIES)


# --- Teams ------------------------------------------------------------------------------


def test_admins_see_the_teams_with_members_lead_rule_and_categories(
    admin: Client, apis: FakeApis
) -> None:
    serve_teams(apis)
    response = admin.get("/admin/teams/", HTTP_ACCEPT_LANGUAGE="es")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h3>Soporte de red</h3>" in html
    assert "Teo Técnico (responsable), Tina Técnica" in html
    assert "<dd>Por turnos (round robin)</dd>" in html
    assert "<dd>Red</dd>" in html
    assert 'href="/admin/teams/3/"' in html
    assert 'action="/admin/teams/3/delete/"' in html
    assert 'href="/admin/teams/" aria-current="page">Equipos</a>' in html  # the admin's menu
    # The new team's members and categories are checkboxes in a fieldset.
    assert "<legend>Miembros</legend>" in html
    assert 'type="checkbox" name="member_ids" value="4"' in html
    assert 'type="checkbox" name="category_slugs" value="hardware"' in html


def test_an_admin_creates_a_team(admin: Client, apis: FakeApis) -> None:
    serve_teams(apis)
    apis.on("tickets", "POST", "teams/", 201, team_json(id=9, name="Campo"))
    response = admin.post(
        "/admin/teams/",
        {
            "name": "Campo",
            "member_ids": ["3", "4"],
            "lead_id": "4",
            "assignment": "least_open",
            "category_slugs": ["hardware"],
        },
    )
    assert response.status_code == 302
    assert apis.called("tickets", "POST", "teams/")[0].body == {
        "name": "Campo",
        "member_ids": ["3", "4"],
        "lead_id": "4",
        "assignment": "least_open",
        "category_slugs": ["hardware"],
        "sla_targets": {},
        "escalation": {"raise_priority": False, "reassign_to_lead": False},
    }


def test_the_lead_must_be_a_member(admin: Client, apis: FakeApis) -> None:
    serve_teams(apis)
    response = admin.post(
        "/admin/teams/",
        {"name": "Campo", "member_ids": ["3"], "lead_id": "4", "assignment": "manual"},
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert response.status_code == 400
    assert "El responsable tiene que ser uno de los miembros." in response.content.decode()
    assert apis.called("tickets", "POST", "teams/") == []


def test_the_apis_refusal_of_a_team_is_shown_next_to_its_field(
    admin: Client, apis: FakeApis
) -> None:
    serve_teams(apis)
    apis.on("tickets", "POST", "teams/", 400, error("No.", {"name": ["Ya existe ese equipo."]}))
    response = admin.post("/admin/teams/", {"name": "Soporte de red", "assignment": "manual"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_name-errors"' in html
    assert "Ya existe ese equipo." in html


def test_an_admin_edits_a_team(admin: Client, apis: FakeApis) -> None:
    serve_teams(apis)
    html = admin.get("/admin/teams/3/").content.decode()
    assert 'value="Soporte de red"' in html
    assert 'name="member_ids" value="3" id="id_member_ids_0" checked' in html
    assert '<option value="3" selected>Teo Técnico</option>' in html
    assert '<option value="round_robin" selected>' in html
    assert 'name="category_slugs" value="red" id="id_category_slugs_0" checked' in html
    apis.on("tickets", "PATCH", "teams/3/", body=team_json(name="Redes"))
    response = admin.post(
        "/admin/teams/3/", {"name": "Redes", "member_ids": ["3"], "assignment": "manual"}
    )
    assert response["Location"] == "/admin/teams/"
    assert apis.called("tickets", "PATCH", "teams/3/")[0].body == {
        "name": "Redes",
        "member_ids": ["3"],
        "lead_id": None,
        "assignment": "manual",
        "category_slugs": [],
        "sla_targets": {},
        "escalation": {"raise_priority": False, "reassign_to_lead": False},
    }


def test_a_member_who_left_the_staff_stays_choosable(admin: Client, apis: FakeApis) -> None:
    serve_teams(apis)
    apis.on("tickets", "GET", "teams/3/", body=team_json(member_ids=[3, 99]))
    html = admin.get("/admin/teams/3/").content.decode()
    assert 'name="member_ids" value="99"' in html


def test_an_admin_deletes_a_team(admin: Client, apis: FakeApis) -> None:
    serve_teams(apis)
    apis.on("tickets", "DELETE", "teams/3/", 204)
    response = admin.post("/admin/teams/3/delete/")
    assert response["Location"] == "/admin/teams/"
    assert len(apis.called("tickets", "DELETE", "teams/3/")) == 1


def test_a_new_team_name_shows_in_the_queue_at_once(admin: Client, apis: FakeApis) -> None:
    serve_teams(apis)
    apis.on("tickets", "GET", "", body={"results": [], "next": None, "previous": None})
    admin.get("/tickets/")  # team names are now kept for a minute
    apis.on("tickets", "GET", "teams/", body=[team_json(name="Redes")])
    apis.on("tickets", "PATCH", "teams/3/", body=team_json(name="Redes"))
    admin.post("/admin/teams/3/", {"name": "Redes", "assignment": "manual"})
    assert '<option value="3">Redes</option>' in admin.get("/tickets/").content.decode()


def test_team_pages_are_for_admins_only(technician: Client, apis: FakeApis) -> None:
    serve_teams(apis)
    assert technician.get("/admin/teams/").status_code == 403
    assert (
        technician.post("/admin/teams/", {"name": "X", "assignment": "manual"}).status_code == 403
    )
    assert technician.post("/admin/teams/3/delete/").status_code == 403
    assert apis.called("tickets", "POST", "teams/") == []
    assert apis.called("tickets", "DELETE", "teams/3/") == []


def test_team_and_member_names_are_escaped(admin: Client, apis: FakeApis) -> None:
    serve_teams(apis)
    apis.on("tickets", "GET", "teams/", body=[team_json(name=EVIL)])
    apis.on("tickets", "GET", "assignees/", body=[PEOPLE[0] | {"name": EVIL}])
    html = admin.get("/admin/teams/").content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_teams_page_says_when_tickets_is_down(admin: Client, apis: FakeApis) -> None:
    apis.down.add("tickets")
    response = admin.get("/admin/teams/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert "Not available right now: Tickets" in response.content.decode()


# --- Canned responses -------------------------------------------------------------------

MACROS = [
    macro_json(),
    macro_json(id=6, title="Cierre", shared=True, owner_id=1, actions={"internal": True}),
]


def serve_macros(apis: FakeApis) -> None:
    apis.on("tickets", "GET", "macros/", body=MACROS)
    apis.on("tickets", "GET", "macros/5/", body=MACROS[0])
    apis.on("tickets", "GET", "macros/6/", body=MACROS[1])
    apis.on("tickets", "GET", "teams/", body=[team_json()])


def test_staff_see_their_responses_and_the_shared_ones(technician: Client, apis: FakeApis) -> None:
    serve_macros(apis)
    html = technician.get("/responses/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "<h3>Pedir el modelo</h3>" in html
    assert '<h3>Cierre <span class="badge badge-muted">Compartida</span></h3>' in html
    assert "<li>Estado: En progreso</li>" in html
    assert "<li>Etiquetas: impresoras</li>" in html
    assert "<li>Se publica como nota interna</li>" in html
    # Their own one can be changed; the shared one only by an admin.
    assert 'href="/responses/5/"' in html
    assert 'href="/responses/6/"' not in html
    # The placeholders are explained next to the text.
    assert "Puedes usar {cliente} (el nombre del cliente), {numero}" in html
    assert 'name="shared"' not in html  # technicians do not share


def test_admins_may_change_and_share_shared_responses(admin: Client, apis: FakeApis) -> None:
    serve_macros(apis)
    html = admin.get("/responses/").content.decode()
    assert 'href="/responses/6/"' in html
    assert 'name="shared"' in html


def test_a_technician_creates_a_response_with_actions(technician: Client, apis: FakeApis) -> None:
    serve_macros(apis)
    apis.on("tickets", "POST", "macros/", 201, macro_json(id=7))
    response = technician.post(
        "/responses/",
        {
            "title": "Pedir captura",
            "body": "Hola {cliente}, ¿nos mandas una captura? {tecnico}",
            "status": "in_progress",
            "priority": "",
            "team_id": "3",
            "add_tags": "Captura, pendiente cliente",
            "internal": "",
            "shared": "on",  # not offered to technicians: ignored
        },
    )
    assert response["Location"] == "/responses/"
    assert apis.called("tickets", "POST", "macros/")[0].body == {
        "title": "Pedir captura",
        "body": "Hola {cliente}, ¿nos mandas una captura? {tecnico}",
        "actions": {
            "status": "in_progress",
            "team_id": 3,
            "add_tags": ["captura", "pendiente cliente"],
        },
    }


def test_an_admin_creates_a_shared_internal_note(admin: Client, apis: FakeApis) -> None:
    serve_macros(apis)
    apis.on("tickets", "POST", "macros/", 201, macro_json(id=7, shared=True))
    admin.post(
        "/responses/", {"title": "Nota", "body": "Revisar", "internal": "on", "shared": "on"}
    )
    assert apis.called("tickets", "POST", "macros/")[0].body == {
        "title": "Nota",
        "body": "Revisar",
        "actions": {"internal": True},
        "shared": True,
    }


def test_editing_a_response_is_prefilled_and_patches_it(technician: Client, apis: FakeApis) -> None:
    serve_macros(apis)
    html = technician.get("/responses/5/").content.decode()
    assert 'value="Pedir el modelo"' in html
    assert '<option value="in_progress" selected>' in html
    assert 'value="impresoras"' in html
    apis.on("tickets", "PATCH", "macros/5/", body=macro_json(title="Modelo"))
    response = technician.post("/responses/5/", {"title": "Modelo", "body": "¿Modelo?"})
    assert response["Location"] == "/responses/"
    assert apis.called("tickets", "PATCH", "macros/5/")[0].body == {
        "title": "Modelo",
        "body": "¿Modelo?",
        "actions": {},
    }


def test_the_apis_refusal_of_an_edit_is_shown(technician: Client, apis: FakeApis) -> None:
    serve_macros(apis)
    apis.on("tickets", "PATCH", "macros/6/", 403, error("Solo un administrador puede."))
    response = technician.post("/responses/6/", {"title": "X", "body": "Y"})
    assert response.status_code == 400
    assert "Solo un administrador puede." in response.content.decode()


def test_deleting_a_response(technician: Client, apis: FakeApis) -> None:
    serve_macros(apis)
    apis.on("tickets", "DELETE", "macros/5/", 204)
    response = technician.post("/responses/5/delete/")
    assert response["Location"] == "/responses/"
    assert len(apis.called("tickets", "DELETE", "macros/5/")) == 1


def test_a_response_needs_a_title_and_a_text(technician: Client, apis: FakeApis) -> None:
    serve_macros(apis)
    response = technician.post("/responses/", {"title": "", "body": ""})
    assert response.status_code == 400
    assert apis.called("tickets", "POST", "macros/") == []


def test_response_titles_and_bodies_are_escaped(technician: Client, apis: FakeApis) -> None:
    serve_macros(apis)
    apis.on("tickets", "GET", "macros/", body=[macro_json(title=EVIL, body=EVIL)])
    html = technician.get("/responses/").content.decode()
    assert "<script>alert(1)" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2


def test_clients_have_no_canned_responses(client_user: Client, apis: FakeApis) -> None:
    assert client_user.get("/responses/").status_code == 403
    assert apis.called("tickets", "GET", "macros/") == []


# --- Availability -----------------------------------------------------------------------


def serve_profile(apis: FakeApis, role: str = "technician") -> None:
    apis.on("accounts", "GET", "me/", body=profile_json(id=3, username="tecnico1", role=role))
    apis.on("accounts", "GET", "auth/social/providers/", body=[])


def test_a_technician_sees_their_availability_on_the_profile(
    technician: Client, apis: FakeApis
) -> None:
    serve_profile(apis)
    apis.on("tickets", "GET", "assignees/", body=PEOPLE)
    html = technician.get("/profile/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'data-testid="availability"' in html
    assert "Disponible para asignación automática" in html
    assert 'name="available" aria-describedby="id_available-help" id="id_available" checked' in html


def test_an_unavailable_technician_sees_the_box_unticked(
    technician: Client, apis: FakeApis
) -> None:
    serve_profile(apis)
    apis.on("tickets", "GET", "assignees/", body=[PEOPLE[0] | {"available": False}])
    html = technician.get("/profile/").content.decode()
    assert 'id="id_available">' in html


def test_turning_availability_off_and_on(technician: Client, apis: FakeApis) -> None:
    apis.on("tickets", "PATCH", "assignees/me/", body=PEOPLE[0] | {"available": False})
    response = technician.post("/profile/availability/", {}, HTTP_ACCEPT_LANGUAGE="es")
    assert response["Location"] == "/profile/"
    apis.on("tickets", "PATCH", "assignees/me/", body=PEOPLE[0])
    technician.post("/profile/availability/", {"available": "on"})
    calls = apis.called("tickets", "PATCH", "assignees/me/")
    assert [c.body for c in calls] == [{"available": False}, {"available": True}]


def test_the_apis_refusal_of_availability_is_shown(technician: Client, apis: FakeApis) -> None:
    serve_profile(apis)
    apis.on("tickets", "GET", "assignees/", body=PEOPLE)
    apis.on("tickets", "PATCH", "assignees/me/", 409, error("El directorio aún no te conoce."))
    response = technician.post("/profile/availability/", {"available": "on"}, follow=True)
    assert response.status_code == 200
    assert "El directorio aún no te conoce." in response.content.decode()


def test_clients_have_no_availability(client_user: Client, apis: FakeApis) -> None:
    apis.on("accounts", "GET", "me/", body=profile_json())
    html = client_user.get("/profile/").content.decode()
    assert 'data-testid="availability"' not in html
    assert apis.called("tickets", "GET", "assignees/") == []
    assert client_user.post("/profile/availability/", {"available": "on"}).status_code == 403
    assert apis.called("tickets", "PATCH", "assignees/me/") == []
