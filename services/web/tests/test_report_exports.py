"""Report exports made in the background (issue 22), as web shows them: the dashboard's
forms start a job in reports; the script polls its state (JSON) and the job's page reloads
itself until the file is ready, then offers it, passed through from reports."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.test import Client

from tests.fakes import FakeApis, error
from tests.test_admin_reports import SUMMARY, serve_filters

pytestmark = pytest.mark.django_db

JOB_ID = "7f1c2a9e-3b7d-4e4b-9a43-0c1d2e3f4a5b"
PAGE = f"/reports/exports/{JOB_ID}/"


def job(**fields: Any) -> dict[str, Any]:
    return {
        "id": JOB_ID,
        "status": "running",
        "progress": 40,
        "format": "pdf",
        "error": "",
        "file_name": "",
        "expires_at": "2026-03-02T09:30:00Z",
    } | fields


def test_the_dashboard_offers_each_export_as_a_form_with_its_filters(
    admin: Client, apis: FakeApis
) -> None:
    serve_filters(apis)
    apis.on("reports", "GET", "summary/", body=SUMMARY)
    html = admin.get("/reports/?from=2026-02-01&category=hardware").content.decode()
    assert html.count('action="/reports/exports/"') == 3
    assert '<input type="hidden" name="format" value="xlsx">' in html
    assert '<input type="hidden" name="from" value="2026-02-01">' in html
    assert '<input type="hidden" name="category" value="hardware">' in html
    assert "/static/portal/exports.js" in html
    assert "<script>" not in html  # no inline script (CSP)


def test_without_javascript_the_form_leads_to_the_jobs_page(admin: Client, apis: FakeApis) -> None:
    apis.on("reports", "POST", "exports/", 202, {"id": JOB_ID, "status": "queued", "progress": 0})
    response = admin.post("/reports/exports/", {"format": "pdf", "from": "2026-02-01", "to": ""})
    assert response.status_code == 302
    assert response["Location"] == PAGE
    (call,) = apis.called("reports", "POST", "exports/")
    assert call.body == {"format": "pdf", "from": "2026-02-01", "lang": "es"}
    assert call.headers["Authorization"].startswith("Bearer ")

    apis.on("reports", "GET", f"exports/{JOB_ID}/", body=job())
    page = admin.get(PAGE)
    assert page.status_code == 200
    assert page["Refresh"] == "2"  # reloads itself
    html = page.content.decode()
    assert "Preparando el informe… 40\u00a0%" in html or "Preparando el informe… 40 %" in html
    assert 'value="40"' in html

    apis.on(
        "reports",
        "GET",
        f"exports/{JOB_ID}/",
        body=job(status="done", progress=100, file_name="servidesk-report.pdf"),
    )
    done = admin.get(PAGE)
    assert "Refresh" not in done
    html = done.content.decode()
    assert f'href="/reports/exports/{JOB_ID}/download/"' in html
    assert "Tu informe está listo." in html


def test_with_javascript_the_page_polls_the_jobs_state(admin: Client, apis: FakeApis) -> None:
    apis.on("reports", "POST", "exports/", 202, {"id": JOB_ID, "status": "queued", "progress": 0})
    started = admin.post("/reports/exports/", {"format": "csv"}, HTTP_ACCEPT="application/json")
    assert started.status_code == 202
    body = started.json()
    assert body["page_url"] == PAGE
    assert body["status_url"] == f"{PAGE}status/"

    apis.on("reports", "GET", f"exports/{JOB_ID}/", body=job(progress=65))
    state = admin.get(body["status_url"]).json()
    assert state["status"] == "running"
    assert state["progress"] == 65
    assert state["label"].startswith("Preparando el informe… 65")
    assert state["download_url"] is None

    apis.on("reports", "GET", f"exports/{JOB_ID}/", body=job(status="failed", error="Sin datos"))
    failed = admin.get(body["status_url"]).json()
    assert (failed["status"], failed["error"]) == ("failed", "Sin datos")


def test_bad_filters_go_back_to_the_dashboard_or_answer_json(admin: Client, apis: FakeApis) -> None:
    apis.on(
        "reports",
        "POST",
        "exports/",
        400,
        error("Invalid.", {"to": ["La fecha final no puede ser anterior a la inicial."]}),
    )
    plain = admin.post("/reports/exports/", {"format": "pdf", "from": "2026-03-01"})
    assert plain.status_code == 302
    assert plain["Location"] == "/reports/?from=2026-03-01"
    scripted = admin.post("/reports/exports/", {"format": "pdf"}, HTTP_ACCEPT="application/json")
    assert scripted.status_code == 400
    assert "La fecha final" in scripted.json()["message"]
    unknown = admin.post("/reports/exports/", {"format": "docx"}, HTTP_ACCEPT="application/json")
    assert unknown.status_code == 400
    apis.down.add("reports")
    down = admin.post("/reports/exports/", {"format": "pdf"}, HTTP_ACCEPT="application/json")
    assert down.status_code == 503


def test_the_file_is_passed_through_and_a_missing_job_is_404(admin: Client, apis: FakeApis) -> None:
    pdf = b"%PDF-1.7\n%%EOF"

    def download(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=pdf,
            headers={
                "Content-Type": "application/pdf",
                "Content-Disposition": 'attachment; filename="servidesk-report.pdf"',
            },
        )

    apis.handle("reports", "GET", f"exports/{JOB_ID}/download/", download)
    response = admin.get(f"{PAGE}download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf  # type: ignore[attr-defined]
    assert response["Content-Disposition"] == 'attachment; filename="servidesk-report.pdf"'
    assert response["Cache-Control"] == "private, no-store"

    apis.on("reports", "GET", f"exports/{JOB_ID}/download/", 409, error("Not ready."))
    assert admin.get(f"{PAGE}download/")["Location"] == PAGE
    other = "00000000-0000-4000-8000-000000000000"
    assert admin.get(f"/reports/exports/{other}/").status_code == 404  # reports: 404
    assert admin.get(f"/reports/exports/{other}/download/").status_code == 404
    assert admin.get("/reports/exports/not-a-uuid/").status_code == 404


def test_exports_are_for_admins(technician: Client, apis: FakeApis) -> None:
    assert technician.post("/reports/exports/", {"format": "pdf"}).status_code == 403
    assert technician.get(PAGE).status_code == 403
    assert apis.called("reports", "POST", "exports/") == []
