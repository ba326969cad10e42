"""Issue 19's administration: business calendars (several openings a day, holidays, the
default one) and a team's calendar, SLA target overrides and escalation rule."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.fakes import PEOPLE, FakeApis, error, team_json

pytestmark = pytest.mark.django_db

EVIL = '"><script>alert(1)</script>'
WEEK = {
    "mon": [["09:00", "14:00"], ["15:00", "18:00"]],
    "tue": [["09:00", "18:00"]],
    "wed": [["09:00", "18:00"]],
    "thu": [["09:00", "18:00"]],
    "fri": [["08:00", "15:00"]],
    "sat": [],
    "sun": [],
}
TARGETS = [
    {"priority": p, "first_response_hours": f, "resolution_hours": r}
    for p, f, r in (("low", 24, 120), ("medium", 8, 48), ("high", 4, 24), ("urgent", 1, 8))
]


def calendar_json(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": 2,
        "name": "Oficina Madrid",
        "time_zone": "Europe/Madrid",
        "is_default": False,
        "week": WEEK,
        "holidays": [
            {"date": "2026-12-25", "name": "Navidad"},
            {"date": "2026-01-01", "name": "Año Nuevo"},
        ],
    }
    return data | overrides


def serve(apis: FakeApis) -> None:
    apis.on(
        "tickets",
        "GET",
        "calendars/",
        body=[calendar_json(id=1, name="24 horas", is_default=True), calendar_json()],
    )
    apis.on("tickets", "GET", "calendars/2/", body=calendar_json())
    apis.on("tickets", "GET", "assignees/", body=PEOPLE)
    apis.on("tickets", "GET", "categories/", body=[{"slug": "red", "name": "Red"}])
    apis.on("tickets", "GET", "teams/", body=[team_json()])
    apis.on("tickets", "GET", "teams/3/", body=team_json())
    apis.on("tickets", "GET", "sla-targets/", body=TARGETS)


CALENDAR_FORM = {
    "name": "Oficina Barcelona",
    "time_zone": "Europe/Madrid",
    "mon": "9:00-14:00, 15:00 \u2013 18:00",  # an en dash, as a word processor types it
    "tue": "09:00-18:00",
    "wed": "",
    "thu": "09:00-18:00",
    "fri": "08:00-15:00",
    "sat": "",
    "sun": "",
    "holidays": "2026-12-25 Navidad\n\n2026-09-11, Diada\n",
}


# --- Calendars --------------------------------------------------------------------------


def test_the_calendars_page_lists_openings_and_holidays(admin: Client, apis: FakeApis) -> None:
    serve(apis)
    response = admin.get("/admin/calendars/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/admin/calendars/" aria-current="page">Calendarios</a>' in html
    assert 'data-testid="default-calendar"' in html
    assert "<dt>Lunes</dt><dd>09:00\u201314:00, 15:00\u201318:00</dd>" in html
    assert "<dt>Sábado</dt><dd>Cerrado</dd>" in html
    assert "2 festivos" in html
    assert "Navidad" in html
    assert '<option value="Europe/Madrid" selected>Europe/Madrid</option>' in html
    # The default calendar cannot be deleted: no button for it.
    assert "/admin/calendars/1/delete/" not in html
    assert "/admin/calendars/2/delete/" in html


def test_an_admin_creates_a_calendar_with_several_openings_a_day(
    admin: Client, apis: FakeApis
) -> None:
    serve(apis)
    apis.on("tickets", "POST", "calendars/", 201, calendar_json(id=5, name="Oficina Barcelona"))
    response = admin.post("/admin/calendars/", CALENDAR_FORM | {"is_default": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/calendars/"
    assert apis.called("tickets", "POST", "calendars/")[0].body == {
        "name": "Oficina Barcelona",
        "time_zone": "Europe/Madrid",
        "is_default": True,
        "week": {
            "mon": [["09:00", "14:00"], ["15:00", "18:00"]],
            "tue": [["09:00", "18:00"]],
            "wed": [],
            "thu": [["09:00", "18:00"]],
            "fri": [["08:00", "15:00"]],
            "sat": [],
            "sun": [],
        },
        "holidays": [
            {"date": "2026-09-11", "name": "Diada"},
            {"date": "2026-12-25", "name": "Navidad"},
        ],
    }


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("mon", "9-14", "no es un horario como 09:00-14:00"),
        ("tue", "18:00-09:00", "termina antes de empezar"),
        ("wed", "09:00-14:00, 13:00-18:00", "no pueden solaparse"),
        ("holidays", "25/12/2026 Navidad", "Línea 1"),
        ("holidays", "2026-12-25 Navidad\n2026-12-25 Otra", "Línea 2"),
        ("time_zone", "Mars/Olympus", "Escoja una opción válida"),
    ],
)
def test_bad_openings_and_holidays_are_refused_next_to_their_field(
    admin: Client, apis: FakeApis, field: str, value: str, said: str
) -> None:
    serve(apis)
    response = admin.post(
        "/admin/calendars/", CALENDAR_FORM | {field: value}, HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_{field}-errors"' in html
    assert said in html
    assert apis.called("tickets", "POST", "calendars/") == []


def test_the_apis_errors_go_next_to_the_day_and_name_the_holiday(
    admin: Client, apis: FakeApis
) -> None:
    serve(apis)
    body = error(
        "No válido.",
        {"week.fri.0": ["Hora no válida."], "holidays.1.name": ["Demasiado largo."]},
    )
    apis.on("tickets", "POST", "calendars/", 400, body)
    response = admin.post("/admin/calendars/", CALENDAR_FORM, HTTP_ACCEPT_LANGUAGE="es")
    html = response.content.decode()
    assert response.status_code == 400
    fri = html[html.index('id="id_fri-errors"') :]
    assert fri.index("Hora no válida.") < 200
    assert "Festivo 2: Demasiado largo." in html


def test_an_admin_edits_a_calendar(admin: Client, apis: FakeApis) -> None:
    serve(apis)
    html = admin.get("/admin/calendars/2/").content.decode()
    assert 'value="09:00-14:00, 15:00-18:00"' in html
    assert "2026-12-25 Navidad\n2026-01-01 Año Nuevo</textarea>" in html
    apis.on("tickets", "PATCH", "calendars/2/", body=calendar_json())
    response = admin.post("/admin/calendars/2/", CALENDAR_FORM)
    assert response["Location"] == "/admin/calendars/"
    sent = apis.called("tickets", "PATCH", "calendars/2/")[0].body
    assert sent["week"]["mon"] == [["09:00", "14:00"], ["15:00", "18:00"]]
    assert sent["is_default"] is False


def test_the_default_calendar_cannot_be_deleted(admin: Client, apis: FakeApis) -> None:
    serve(apis)
    apis.on(
        "tickets",
        "DELETE",
        "calendars/1/",
        409,
        error("El calendario por defecto no se puede borrar.", code="default"),
    )
    response = admin.post("/admin/calendars/1/delete/")
    assert response["Location"] == "/admin/calendars/"
    html = admin.get("/admin/calendars/").content.decode()
    assert "El calendario por defecto no se puede borrar." in html


def test_calendar_names_are_escaped(admin: Client, apis: FakeApis) -> None:
    serve(apis)
    evil = calendar_json(name=EVIL, holidays=[{"date": "2026-12-25", "name": EVIL}])
    apis.on("tickets", "GET", "calendars/", body=[evil])
    html = admin.get("/admin/calendars/").content.decode()
    assert "<script>alert(1)" not in html


def test_technicians_cannot_manage_calendars(technician: Client, apis: FakeApis) -> None:
    assert technician.get("/admin/calendars/").status_code == 403
    assert technician.post("/admin/calendars/", CALENDAR_FORM).status_code == 403
    assert apis.called("tickets", "POST", "calendars/") == []


# --- A team's calendar, targets and escalation ------------------------------------------


def test_the_team_form_offers_calendars_targets_and_escalation(
    admin: Client, apis: FakeApis
) -> None:
    serve(apis)
    apis.on(
        "tickets",
        "GET",
        "teams/3/",
        body=team_json(
            calendar_id=2,
            sla_targets={"urgent": {"first_response_hours": 2.0, "resolution_hours": 6}},
            escalation={"raise_priority": True, "reassign_to_lead": False},
        ),
    )
    html = admin.get("/admin/teams/3/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<option value="2" selected>Oficina Madrid</option>' in html
    assert '<option value="">El calendario por defecto</option>' in html
    assert 'name="sla_urgent_first_response_hours" value="2"' in html
    assert 'name="sla_urgent_resolution_hours" value="6"' in html
    assert 'placeholder="Por defecto: 24"' in html  # the low priority's default
    assert 'name="escalate_raise_priority" id="id_escalate_raise_priority" checked' in html
    assert 'data-testid="team-sla-targets"' in html


def test_an_admin_sets_a_teams_calendar_targets_and_escalation(
    admin: Client, apis: FakeApis
) -> None:
    serve(apis)
    apis.on("tickets", "PATCH", "teams/3/", body=team_json())
    response = admin.post(
        "/admin/teams/3/",
        {
            "name": "Redes",
            "member_ids": ["3"],
            "lead_id": "3",
            "assignment": "manual",
            "calendar_id": "2",
            "sla_urgent_first_response_hours": "2",
            "sla_urgent_resolution_hours": "6",
            "sla_high_first_response_hours": "",
            "escalate_raise_priority": "on",
            "escalate_reassign_to_lead": "on",
        },
    )
    assert response["Location"] == "/admin/teams/"
    body = apis.called("tickets", "PATCH", "teams/3/")[0].body
    assert body["calendar_id"] == 2
    assert body["sla_targets"] == {"urgent": {"first_response_hours": 2, "resolution_hours": 6}}
    assert body["escalation"] == {"raise_priority": True, "reassign_to_lead": True}


def test_a_target_needs_both_hours_and_reassigning_needs_a_lead(
    admin: Client, apis: FakeApis
) -> None:
    serve(apis)
    response = admin.post(
        "/admin/teams/3/",
        {
            "name": "Redes",
            "assignment": "manual",
            "sla_high_first_response_hours": "3",
            "sla_low_resolution_hours": "0",
            "sla_medium_first_response_hours": "8",
            "sla_medium_resolution_hours": "4",
            "escalate_reassign_to_lead": "on",
        },
        HTTP_ACCEPT_LANGUAGE="es",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_sla_high_resolution_hours-errors"' in html
    assert 'id="id_sla_low_resolution_hours-errors"' in html
    assert 'id="id_sla_medium_resolution_hours-errors"' in html
    assert "La resolución no puede vencer antes que la primera respuesta." in html
    assert 'id="id_escalate_reassign_to_lead-errors"' in html
    assert apis.called("tickets", "PATCH", "teams/3/") == []


def test_the_apis_errors_on_targets_go_next_to_their_field(admin: Client, apis: FakeApis) -> None:
    serve(apis)
    body = error("No.", {"sla_targets.urgent.resolution_hours": ["Menor que la primera."]})
    apis.on("tickets", "PATCH", "teams/3/", 400, body)
    response = admin.post(
        "/admin/teams/3/",
        {
            "name": "Redes",
            "assignment": "manual",
            "sla_urgent_first_response_hours": "2",
            "sla_urgent_resolution_hours": "8",
        },
    )
    html = response.content.decode()
    errors = html[html.index('id="id_sla_urgent_resolution_hours-errors"') :]
    assert errors.index("Menor que la primera.") < 200


def test_without_calendars_the_teams_calendar_is_left_alone(admin: Client, apis: FakeApis) -> None:
    serve(apis)
    apis.down.discard("tickets")
    apis.on("tickets", "GET", "calendars/", 403, error("No."))
    apis.on("tickets", "PATCH", "teams/3/", body=team_json())
    html = admin.get("/admin/teams/3/").content.decode()
    assert 'name="calendar_id"' not in html
    admin.post("/admin/teams/3/", {"name": "Redes", "assignment": "manual"})
    assert "calendar_id" not in apis.called("tickets", "PATCH", "teams/3/")[0].body


def test_the_teams_page_says_each_teams_calendar_and_rule(admin: Client, apis: FakeApis) -> None:
    serve(apis)
    apis.on(
        "tickets",
        "GET",
        "teams/",
        body=[
            team_json(
                calendar_id=2,
                sla_targets={"urgent": {"first_response_hours": 2, "resolution_hours": 6}},
                escalation={"raise_priority": False, "reassign_to_lead": True},
            )
        ],
    )
    html = admin.get("/admin/teams/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<dd data-testid="team-calendar">Oficina Madrid</dd>' in html
    assert "Urgente: 2 h / 6 h" in html
    assert "reasignar al responsable" in html
