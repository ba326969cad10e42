"""Administration pages (users, categories, SLA targets) and the reports dashboard with
its charts and downloads passed through from reports."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client

from tests.fakes import FakeApis, error, page, profile_json

pytestmark = pytest.mark.django_db

USERS = [
    profile_json(id=1, username="admin", email="admin@servidesk.example", full_name="Admin")
    | {"role": "admin", "is_active": True},
    profile_json(id=5, username="cliente1", email="cliente1@servidesk.example")
    | {"full_name": "Cliente Uno", "is_active": True},
]
SUMMARY = {
    "period": {"from": "2026-02-01", "to": "2026-03-02", "time_zone": "UTC", "interval": "day"},
    "totals": {"created": 1234, "open": 34, "resolved": 1200, "reopened": 5, "unassigned": 2},
    "by_status": [{"status": "pending", "label": "Pending", "count": 30}],
    "by_priority": [{"priority": "high", "label": "High", "count": 12}],
    "by_category": [{"category": "hardware", "label": "Hardware", "count": 9}],
    "first_response": {"median_hours": 1.5, "sla": {"compliance": 0.8731}},
    "resolution": {"median_hours": 20.25, "sla": {"compliance": None}},
    "reopen_rate": 0.05,
    "activity": {"backlog_start": 10, "backlog_end": 34},
    "technicians": [
        {
            "assignee_id": "3",
            "name": "Técnico Uno",
            "assigned": 1000,
            "open": 1,
            "resolved": 999,
            "median_resolution_hours": 3.25,
            "resolution_sla_compliance": 1.0,
        }
    ],
}


def serve_filters(apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[{"slug": "hardware", "name": "Hardware"}])
    apis.on("tickets", "GET", "assignees/", body=[{"id": 3, "name": "Técnico Uno"}])


@pytest.mark.parametrize(
    "path", ["/admin/users/", "/admin/categories/", "/admin/sla/", "/reports/"]
)
def test_admin_pages_are_for_admins_only(technician: Client, apis: FakeApis, path: str) -> None:
    assert technician.get(path).status_code == 403
    assert [c for c in apis.calls if c.service != "notifier"] == []


# --- Users ------------------------------------------------------------------------------


def test_the_user_list_offers_role_changes_and_deactivation(admin: Client, apis: FakeApis) -> None:
    apis.on("accounts", "GET", "users/", body=page(USERS))
    html = admin.get("/admin/users/?role=client&q=uno", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert apis.called("accounts", "GET", "users/")[0].params == {"role": ["client"], "q": ["uno"]}
    assert "/admin/users/5/role/" in html
    assert "/admin/users/5/active/" in html
    assert "/admin/users/1/active/" not in html  # not oneself


def test_creating_a_technician(admin: Client, apis: FakeApis) -> None:
    apis.on("accounts", "POST", "users/", 201, USERS[1] | {"role": "technician"})
    response = admin.post(
        "/admin/users/",
        {
            "username": "tecnico9",
            "email": "t9@servidesk.example",
            "role": "technician",
            "password": "a-long-passphrase",
        },
    )
    assert response.status_code == 302
    assert apis.called("accounts", "POST", "users/")[0].body == {
        "username": "tecnico9",
        "email": "t9@servidesk.example",
        "role": "technician",
        "password": "a-long-passphrase",
    }


def test_creating_a_user_shows_field_errors(admin: Client, apis: FakeApis) -> None:
    apis.on("accounts", "GET", "users/", body=page(USERS))
    apis.on(
        "accounts",
        "POST",
        "users/",
        400,
        error("Invalid.", {"email": ["Ya existe un usuario con ese correo."]}),
    )
    response = admin.post(
        "/admin/users/",
        {"username": "x", "email": "a@b.example", "role": "technician", "password": "p" * 12},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_email-errors"' in html
    assert "Ya existe un usuario con ese correo." in html


def test_changing_a_role_and_deactivating(admin: Client, apis: FakeApis) -> None:
    apis.on("accounts", "PATCH", "users/5/", body=USERS[1])
    admin.post("/admin/users/5/role/", {"role": "technician"}, HTTP_REFERER="/admin/users/")
    admin.post("/admin/users/5/active/", {"is_active": "false"})
    sent = [c.body for c in apis.called("accounts", "PATCH", "users/5/")]
    assert sent == [{"role": "technician"}, {"is_active": False}]


def test_a_refused_change_is_explained(admin: Client, apis: FakeApis) -> None:
    apis.on("accounts", "GET", "users/", body=page(USERS))
    apis.on(
        "accounts",
        "PATCH",
        "users/5/",
        400,
        error("Datos no válidos.", {"role": ["No puede cambiar su propio rol."]}),
    )
    response = admin.post("/admin/users/5/role/", {"role": "client"}, follow=True)
    assert "No puede cambiar su propio rol." in response.content.decode()


# --- Categories and SLA -----------------------------------------------------------------


def test_categories_are_created_and_edited(admin: Client, apis: FakeApis) -> None:
    apis.on("tickets", "POST", "categories/", 201, {"slug": "red", "name": "Red"})
    apis.on("tickets", "PATCH", "categories/red/", body={"slug": "red", "name": "Redes"})
    admin.post("/admin/categories/", {"name": "Red", "slug": "red", "description": ""})
    admin.post("/admin/categories/red/", {"red-name": "Redes", "red-description": ""})
    assert apis.called("tickets", "POST", "categories/")[0].body == {
        "name": "Red",
        "slug": "red",
        "description": "",
    }
    assert apis.called("tickets", "PATCH", "categories/red/")[0].body == {
        "name": "Redes",
        "description": "",
        "is_active": False,
    }


def test_a_taken_category_code_is_shown_next_to_the_field(admin: Client, apis: FakeApis) -> None:
    apis.on("tickets", "GET", "categories/", body=[{"slug": "red", "name": "Red"}])
    apis.on(
        "tickets",
        "POST",
        "categories/",
        400,
        error("Invalid.", {"slug": ["Ya existe una categoría con este código."]}),
    )
    response = admin.post("/admin/categories/", {"name": "Red", "slug": "red"})
    assert response.status_code == 400
    assert 'id="id_slug-errors"' in response.content.decode()


def test_sla_targets_are_saved_per_priority(admin: Client, apis: FakeApis) -> None:
    targets = [
        {"priority": p, "first_response_hours": 8, "resolution_hours": 72, "is_default": True}
        for p in ("low", "medium", "high", "urgent")
    ]
    apis.on("tickets", "GET", "sla-targets/", body=targets)
    apis.on("tickets", "PUT", "sla-targets/high/", body=targets[2])
    html = admin.get("/admin/sla/").content.decode()
    assert 'name="high-first_response_hours"' in html
    response = admin.post(
        "/admin/sla/",
        {"priority": "high", "high-first_response_hours": "2", "high-resolution_hours": "12"},
    )
    assert response.status_code == 302
    assert apis.called("tickets", "PUT", "sla-targets/high/")[0].body == {
        "first_response_hours": 2,
        "resolution_hours": 12,
    }
    bad = admin.post(
        "/admin/sla/",
        {"priority": "high", "high-first_response_hours": "0", "high-resolution_hours": "12"},
    )
    assert bad.status_code == 400
    assert 'id="id_high-first_response_hours-errors"' in bad.content.decode()


# --- Reports ----------------------------------------------------------------------------


def test_the_dashboard_shows_localized_kpis_charts_and_downloads(
    admin: Client, apis: FakeApis
) -> None:
    serve_filters(apis)
    apis.on("reports", "GET", "summary/", body=SUMMARY)
    html = admin.get("/reports/?from=2026-02-01&category=hardware").content.decode()
    assert apis.called("reports", "GET", "summary/")[0].params == {
        "from": ["2026-02-01"],
        "category": ["hardware"],
        "lang": ["es"],
    }
    assert "1\u00a0234" in html  # Spanish thousands
    assert "87,3\u00a0%" in html  # Spanish decimals
    assert "20,3" in html  # 20.25 hours, rounded half up
    assert "/reports/charts/backlog.svg?from=2026-02-01&amp;category=hardware" in html
    # Each download is a job in reports (issue 22): a form carrying the filters.
    assert html.count('action="/reports/exports/"') == 3
    assert '<input type="hidden" name="category" value="hardware">' in html
    english = admin.get("/reports/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "87.3\u00a0%" in english
    assert "1,234" in english


def test_report_errors_are_shown_next_to_the_filter(admin: Client, apis: FakeApis) -> None:
    serve_filters(apis)
    apis.on(
        "reports",
        "GET",
        "summary/",
        400,
        error("Invalid.", {"to": ["La fecha final no puede ser anterior a la inicial."]}),
    )
    response = admin.get("/reports/?from=2026-03-01&to=2026-02-01")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_to-errors"' in html
    assert "La fecha final no puede ser anterior a la inicial." in html


def test_the_dashboard_says_when_reports_is_down(admin: Client, apis: FakeApis) -> None:
    serve_filters(apis)
    apis.down.add("reports")
    response = admin.get("/reports/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert "Not available right now: Reports" in response.content.decode()


def test_downloads_are_passed_through_with_the_admins_token(admin: Client, apis: FakeApis) -> None:
    pdf = b"%PDF-1.7\n...\n%%EOF"

    def export(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=pdf,
            headers={
                "Content-Type": "application/pdf",
                "Content-Disposition": 'attachment; filename="servidesk-report.pdf"',
            },
        )

    apis.handle("reports", "GET", "export.pdf", export)
    response = admin.get("/reports/export.pdf?from=2026-02-01")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="servidesk-report.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    call = apis.called("reports", "GET", "export.pdf")[0]
    assert call.headers["Authorization"].startswith("Bearer ")
    assert call.params == {"from": ["2026-02-01"], "lang": ["es"]}


def test_a_failed_download_goes_back_to_the_dashboard_with_the_reason(
    admin: Client, apis: FakeApis
) -> None:
    apis.down.add("reports")
    response = admin.get("/reports/export.xlsx?from=2026-02-01")
    assert response.status_code == 302
    assert response["Location"] == "/reports/?from=2026-02-01"


def test_unknown_charts_and_formats_are_404(admin: Client, apis: FakeApis) -> None:
    assert admin.get("/reports/charts/secret.svg").status_code == 404
    assert admin.get("/reports/charts/status.exe").status_code == 404
    assert admin.get("/reports/export.docx").status_code == 404
    assert apis.called("reports", "GET", "charts/secret.svg") == []
