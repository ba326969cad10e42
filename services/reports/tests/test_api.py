"""The reports API: who may call it, what it refuses, headers, language and query counts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from servidesk_testing import auth_header
from servidesk_testing.contract import assert_error_shape
from tests.dataset import ANA, FIRST_LINE, TEMPORARY, UNNAMED_TEAM
from tests.desk import Desk, at

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}
ENDPOINTS = [
    "summary/",
    "charts/status.png",
    "charts/backlog.svg",
    "export.pdf",
    "export.xlsx",
    "export.csv",
]


# --- who may call -------------------------------------------------------------------------

# One table: (role or None for anonymous) x endpoint -> status. Everyone but admins is
# refused; technicians and clients get 403 (see reports/api/views.py for why not 404).
ACCESS = [
    (None, 401),
    ("client", 403),
    ("technician", 403),
    ("admin", 200),
]


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("role", "expected"), ACCESS)
def test_access(client: Client, endpoint: str, role: str | None, expected: int) -> None:
    headers = auth_header(user_id=7, role=role) if role else {}
    response = client.get(f"/api/reports/{endpoint}", MARCH, headers=headers)
    assert response.status_code == expected, response.content[:200]
    if expected != 200:
        assert response["Content-Type"] == "application/json"
        assert_error_shape(response.json())


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["client", "technician"])
def test_non_admins_learn_nothing_from_validation(client: Client, role: str) -> None:
    response = client.get(
        "/api/reports/summary/",
        {"from": "nonsense", "category": "secret"},
        headers=auth_header(user_id=7, role=role),
    )
    assert response.status_code == 403


# --- bad input ----------------------------------------------------------------------------

BAD_INPUT = [
    ({"from": "2025-13-01"}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "2025-02-30"}, "to"),
    ({"from": "2025-03-31", "to": "2025-03-01"}, "to"),
    ({"from": "1900-01-01", "to": "2025-01-01"}, "from"),
    ({"from": "2000-01-01", "to": "2025-01-01"}, "to"),  # longer than REPORTS_MAX_DAYS
    ({**MARCH, "priority": "critical"}, "priority"),
    ({**MARCH, "status": "archived"}, "status"),
    ({**MARCH, "category": "no-such-category"}, "category"),
    ({**MARCH, "category": "x" * 101}, "category"),
    ({**MARCH, "assignee_id": "999"}, "assignee_id"),
    ({**MARCH, "interval": "month"}, "interval"),
    ({**MARCH, "lang": "fr"}, "lang"),
    ({**MARCH, "catgory": "network"}, "catgory"),
    ({**MARCH, "team_id": "999"}, "team_id"),
    ({**MARCH, "team_id": "x" * 101}, "team_id"),
    ({**MARCH, "tag": "no-such-tag"}, "tag"),
    ({**MARCH, "tag": ["vip", "no-such-tag"]}, "tag"),
    ({**MARCH, "tag": [f"t{n}" for n in range(11)]}, "tag"),
    ({**MARCH, "tag": "x" * 101}, "tag"),
]


@pytest.mark.parametrize(
    ("params", "field"), BAD_INPUT, ids=lambda v: v if isinstance(v, str) else ""
)
@pytest.mark.parametrize("endpoint", ["summary/", "export.csv", "charts/status.png"])
def test_bad_input_is_400_with_the_field(
    desk: Desk, api: Any, params: dict[str, str], field: str, endpoint: str
) -> None:
    response = api(endpoint, **params)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert_error_shape(body)
    assert list(body["extra"]["fields"]) == [field], body
    assert all(isinstance(m, str) and m for m in body["extra"]["fields"][field])


def test_a_repeated_parameter_is_refused(desk: Desk, admin_client: Client) -> None:
    response = admin_client.get("/api/reports/summary/?category=network&category=email")
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["category"]


def test_messages_follow_the_language(desk: Desk, api: Any) -> None:
    spanish = api("summary/", headers={"Accept-Language": "es"}, **{**MARCH, "priority": "x"})
    english = api("summary/", headers={"Accept-Language": "en"}, **{**MARCH, "category": "nope"})
    assert spanish.json()["message"] == "Los datos enviados no son válidos."
    assert english.json()["extra"]["fields"]["category"] == ["No ticket has this category."]
    by_parameter = api("summary/", **{**MARCH, "category": "nope", "lang": "es"})
    assert by_parameter.json()["extra"]["fields"]["category"] == [
        "Ningún ticket tiene esta categoría."
    ]


def test_blank_filters_mean_no_filter(desk: Desk, api: Any) -> None:
    plain = api("summary/", **MARCH).json()
    blank = api(
        "summary/",
        **MARCH,
        category="",
        priority="",
        assignee_id="",
        status="",
        team_id="",
        tag=["", " "],
        lang="",
    ).json()
    assert blank == plain


def test_team_and_repeated_tag_filters(desk: Desk, api: Any) -> None:
    both = api("summary/", **MARCH, tag=["vip", "correo"]).json()
    assert both["filters"]["tag"] == ["vip", "correo"]
    assert both["totals"]["created"] == 1  # the one ticket with both tags
    # Tags are matched as tickets stores them: trimmed, lower-case.
    assert api("summary/", **MARCH, tag=[" VIP ", "Correo"]).json()["totals"] == both["totals"]
    vip = api("summary/", **MARCH, tag="vip").json()
    assert vip["totals"]["created"] == 3
    team = api("summary/", **MARCH, team_id=str(FIRST_LINE), tag="vip").json()
    assert team["totals"]["created"] == 1
    assert [row["team_id"] for row in team["by_team"]] == [str(FIRST_LINE)]
    assert team["filters"]["team_id"] == str(FIRST_LINE)
    no_team = api("summary/", **MARCH, team_id="none").json()
    assert [row["team_id"] for row in no_team["by_team"]] == [None]
    # A deleted team still filters its old tickets; one known from tickets only too.
    assert api("summary/", **MARCH, team_id=str(TEMPORARY)).status_code == 200
    assert api("summary/", **MARCH, team_id=str(UNNAMED_TEAM)).status_code == 200


def test_an_empty_range_is_200(desk: Desk, api: Any) -> None:
    response = api("summary/", **{"from": "2024-06-01", "to": "2024-06-07"})
    assert response.status_code == 200
    assert response.json()["totals"]["created"] == 0
    for endpoint in ENDPOINTS[1:]:
        assert api(endpoint, **{"from": "2024-06-01", "to": "2024-06-07"}).status_code == 200


def test_defaults_are_the_last_30_days(desk: Desk, api: Any) -> None:
    period = api("summary/").json()["period"]
    days = (date.fromisoformat(period["to"]) - date.fromisoformat(period["from"])).days
    assert days == 29


def test_assignee_none_and_known_ids(desk: Desk, api: Any) -> None:
    assert api("summary/", **MARCH, assignee_id="none").json()["totals"]["unassigned"] == 2
    assert api("summary/", **MARCH, assignee_id=str(ANA)).status_code == 200
    assert api("summary/", **MARCH, assignee_id="12").status_code == 200  # known from tickets only


# --- what comes back ----------------------------------------------------------------------


def test_summary_is_the_report(desk: Desk, api: Any) -> None:
    response = api("summary/", **MARCH, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["period"] == {
        "from": "2025-03-01",
        "to": "2025-03-31",
        "time_zone": "Europe/Madrid",
        "interval": "day",
        "as_of": "2025-03-31T22:00:00Z",
    }
    assert [row["label"] for row in body["by_status"]] == [
        "Pending",
        "In progress",
        "Waiting on client",
        "Resolved",
        "Closed",
    ]


def test_labels_follow_accept_language_and_lang(desk: Desk, api: Any) -> None:
    spanish = api("summary/", **MARCH, headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert [row["label"] for row in spanish.json()["by_status"]] == [
        "Pendiente",
        "En progreso",
        "Esperando al cliente",
        "Resuelto",
        "Cerrado",
    ]
    assert spanish["Content-Language"] == "es"
    overridden = api("summary/", **MARCH, lang="en", headers={"Accept-Language": "es"})
    assert [row["label"] for row in overridden.json()["by_priority"]] == [
        "Low",
        "Medium",
        "High",
        "Urgent",
    ]
    assert overridden["Content-Language"] == "en"
    assert "Accept-Language" in overridden["Vary"]


@pytest.mark.parametrize(
    ("endpoint", "content_type", "disposition"),
    [
        (
            "export.pdf",
            "application/pdf",
            'attachment; filename="servidesk-report_2025-03-01_2025-03-31.pdf"',
        ),
        (
            "export.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            'attachment; filename="servidesk-report_2025-03-01_2025-03-31.xlsx"',
        ),
        (
            "export.csv",
            "text/csv; charset=utf-8",
            'attachment; filename="servidesk-report_2025-03-01_2025-03-31.csv"',
        ),
        (
            "charts/status.png",
            "image/png",
            'inline; filename="servidesk-status_2025-03-01_2025-03-31.png"',
        ),
        (
            "charts/created-resolved.svg",
            "image/svg+xml",
            'inline; filename="servidesk-created-resolved_2025-03-01_2025-03-31.svg"',
        ),
    ],
)
def test_download_headers(
    desk: Desk, api: Any, endpoint: str, content_type: str, disposition: str
) -> None:
    response = api(endpoint, **MARCH)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == disposition
    assert response["Cache-Control"] == "private, no-store"


def test_an_accept_header_for_the_file_type_is_fine(desk: Desk, admin_client: Client) -> None:
    response = admin_client.get(
        "/api/reports/export.pdf", MARCH, headers={"Accept": "application/pdf"}
    )
    assert response.status_code == 200
    refused = admin_client.get(
        "/api/reports/export.pdf", {"to": "x"}, headers={"Accept": "application/pdf"}
    )
    assert refused.status_code == 400
    assert refused["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "name",
    ["status", "created-resolved", "backlog", "resolution-time", "technicians", "teams", "csat"],
)
def test_charts(desk: Desk, api: Any, name: str) -> None:
    png = api(f"charts/{name}.png", **MARCH)
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    svg = api(f"charts/{name}.svg", **MARCH, lang="es")
    assert b"<svg" in svg.content
    # Same data, same bytes.
    assert api(f"charts/{name}.png", **MARCH).content == png.content
    assert api(f"charts/{name}.svg", **MARCH, lang="es").content == svg.content


def test_chart_labels_are_translated(desk: Desk, api: Any) -> None:
    assert b"Tickets por estado" in api("charts/status.svg", **MARCH, lang="es").content
    assert b"Tickets by status" in api("charts/status.svg", **MARCH, lang="en").content
    assert (
        b"Carga de trabajo por t\xc3\xa9cnico"
        in api("charts/technicians.svg", **MARCH, lang="es").content
    )


JUNE = {"from": "2025-06-01", "to": "2025-06-30"}


def test_the_satisfaction_chart(desk: Desk, api: Any) -> None:
    june = api("charts/csat.svg", **JUNE, lang="es").content
    assert "Satisfacción (respuestas buenas) por día".encode() in june
    assert b"Todo el periodo: 75,0" in june
    weekly = api("charts/csat.svg", **JUNE, interval="week", lang="en").content
    assert b"Satisfaction (good answers) per week" in weekly
    # March: surveys went out, nobody answered.
    march = api("charts/csat.svg", **MARCH, lang="en").content
    assert b"No answers to the survey in this period" in march
    assert api("charts/csat.png", **JUNE).content.startswith(b"\x89PNG")


def test_summary_has_the_satisfaction_object(desk: Desk, api: Any) -> None:
    body = api("summary/", **JUNE, lang="en").json()
    csat = body["csat"]
    assert set(csat) == {
        "answered",
        "good",
        "bad",
        "score",
        "surveyed",
        "responded",
        "response_rate",
        "timeline",
        "by_technician",
        "by_team",
        "by_category",
    }
    assert [row["date"] for row in csat["timeline"]] == [row["date"] for row in body["timeline"]]
    assert set(csat["by_technician"][0]) == {
        "assignee_id",
        "name",
        "answered",
        "good",
        "bad",
        "score",
        "surveyed",
        "responded",
        "response_rate",
    }
    assert {"team_id", "name", "deleted"} <= set(csat["by_team"][0])
    assert {"category", "label"} <= set(csat["by_category"][0])
    assert body["totals"]["closed"] == 2


@pytest.mark.parametrize(("status", "count"), [("waiting", 2), ("closed", 2), ("pending", 1)])
def test_the_new_statuses_filter(desk: Desk, api: Any, status: str, count: int) -> None:
    body = api("summary/", **JUNE, status=status).json()
    assert body["filters"]["status"] == status
    assert body["totals"]["created"] == count
    assert api("export.csv", **JUNE, status=status).status_code == 200
    pdf = api("export.pdf", **JUNE, status=status, lang="es")
    assert pdf.status_code == 200


def test_a_technician_known_only_from_an_answer_is_a_valid_filter(db: None, api: Any) -> None:
    desk = Desk()
    ticket = desk.ticket(at(2025, 6, 2, 9, 0))
    ticket.assign(77, at(2025, 6, 2, 9, 5)).resolve(at(2025, 6, 2, 10, 0))
    ticket.rate("good", at(2025, 6, 2, 11, 0))
    ticket.assign(None, at(2025, 6, 2, 12, 0))
    desk.apply()
    body = api("summary/", **JUNE, assignee_id="77").json()
    assert body["totals"]["created"] == 0  # nobody's ticket now
    assert (body["csat"]["answered"], body["csat"]["by_technician"][0]["name"]) == (1, "#77")
    assert api("summary/", **JUNE, assignee_id="78").status_code == 400


def test_an_unknown_chart_is_a_json_404(desk: Desk, api: Any) -> None:
    response = api("charts/pie.png", **MARCH)
    assert response.status_code == 404
    assert_error_shape(response.json())
    assert "status" in response.json()["message"]
    assert api("charts/status.gif", **MARCH).status_code == 404


def test_the_schema_documents_the_endpoints(client: Client, db: None) -> None:
    schema = client.get("/api/reports/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert {"/api/reports/summary/", "/api/reports/export.pdf", "/api/reports/export.xlsx"} <= set(
        paths
    )
    parameters = {p["name"] for p in paths["/api/reports/summary/"]["get"]["parameters"]}
    assert {
        "from",
        "to",
        "category",
        "priority",
        "assignee_id",
        "status",
        "team_id",
        "tag",
        "lang",
    } <= parameters


# --- query counts -------------------------------------------------------------------------


def more_tickets(count: int) -> None:
    """``count`` more tickets, each with its own technician, team (with a lead) and tag,
    resolved and answered (so the satisfaction tables grow too)."""
    desk = Desk(first_number=1000)
    for index in range(count):
        desk.team(200 + index, f"Equipo {index}", member_ids=(100 + index,), lead_id=100 + index)
        ticket = desk.ticket(
            at(2025, 3, 2 + index % 20, 10, 0),
            category="network",
            team_id=200 + index,
            tags=(f"tag{index}", "vip"),
        )
        ticket.assign(100 + index, at(2025, 3, 2 + index % 20, 10, 5))
        ticket.resolve(at(2025, 3, 2 + index % 20, 12, 0))
        ticket.rate("good" if index % 3 else "bad", at(2025, 3, 2 + index % 20, 13, 0))
    desk.apply()


def queries(api: Any, endpoint: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api(endpoint, **MARCH, category="network")
        if response.streaming:
            b"".join(response.streaming_content)
        assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "endpoint",
    [
        "summary/",
        "export.xlsx",
        "export.csv",
        "export.pdf",
        "charts/technicians.png",
        "charts/teams.png",
        "charts/csat.png",
    ],
)
def test_query_counts_do_not_grow_with_tickets_or_technicians(
    desk: Desk, api: Any, endpoint: str
) -> None:
    few = queries(api, endpoint)
    more_tickets(30)  # 30 more tickets, technicians, teams and tags
    assert queries(api, endpoint) == few


def test_summary_query_count(desk: Desk, api: Any, django_assert_num_queries: Any) -> None:
    # No transaction around a read: the caller in the user directory, the category check,
    # the grouped cohort, the durations per technician, the satisfaction groups (answers
    # and surveys), the timeline, the teams, the technicians' and leads' names and the
    # per-tag counts.
    with django_assert_num_queries(9):
        api("summary/", **MARCH, category="network")
    # A check per filter given: the team, and all the tags at once (no category here).
    with django_assert_num_queries(10):
        api("summary/", **MARCH, team_id=str(FIRST_LINE), tag=["vip", "impresora"])
