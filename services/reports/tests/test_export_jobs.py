"""Exports made in the background (issue 22): the API, the job's life and the worker.

The worker runs in this process, on its own thread and database connection, against the
real PostgreSQL: it is woken by the NOTIFY of the API's commit, claims the job with
``SKIP LOCKED``, writes each step of progress and finishes the job together with
``report.export_ready`` in reports' outbox.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from reports import services
from reports.exports import jobs
from reports.exports.worker import ExportWorker
from reports.models import ExportJob, ExportStatus

from servidesk_shared.outbox.models import OutboxMessage
from servidesk_testing import auth_header
from tests.conftest import ADMIN_ID
from tests.desk import Desk

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}
OTHER_ADMIN_ID = 2


def start(client: Client, **body: Any) -> Any:
    return client.post("/api/reports/exports/", body, content_type="application/json")


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.fixture
def worker(settings: Any) -> Iterator[ExportWorker]:
    """The worker loop, running on a thread of its own until the test ends. It polls only
    every 30 s: a job done sooner was announced (NOTIFY, or this process's nudge)."""
    settings.REPORTS_EXPORT_POLL_SECONDS = 30
    running = ExportWorker()
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    running.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()


# --- the API -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_is_queued_with_its_normalised_query(admin_client: Client) -> None:
    response = start(admin_client, format="pdf", tag=" VPN ", **MARCH, lang="en")
    assert response.status_code == 400  # no ticket has that tag: as for summary/
    assert response.json()["extra"]["fields"]["tag"]

    response = start(admin_client, format="xlsx", **MARCH, priority="high", lang="en")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["progress"]) == ("queued", 0)
    assert response.headers["Location"] == body["status_url"]
    assert body["status_url"] == f"/api/reports/exports/{body['id']}/"
    job = ExportJob.objects.get(pk=body["id"])
    assert (job.owner_id, job.format, job.language) == (str(ADMIN_ID), "xlsx", "en")
    assert job.filters == {
        "from": "2025-03-01",
        "to": "2025-03-31",
        "category": None,
        "priority": "high",
        "status": None,
        "assignee_id": None,
        "team_id": None,
        "tag": [],
        "interval": None,
    }
    assert timedelta(hours=23) < job.expires_at - job.created_at <= timedelta(hours=24)

    status = admin_client.get(body["status_url"])
    assert status.status_code == 200
    assert status.json()["status"] == "queued"
    assert status.json()["download_url"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "format"),
        ({"format": "docx"}, "format"),
        ({"format": "pdf", "from": "2025-02-30"}, "from"),
        ({"format": "pdf", "from": "2025-03-31", "to": "2025-03-01"}, "to"),
        ({"format": "pdf", "priority": "whenever"}, "priority"),
        ({"format": "pdf", "colour": "blue"}, "colour"),
        ({"format": "pdf", "lang": "xx"}, "lang"),
    ],
)
def test_bad_requests_name_the_parameter(
    desk: Desk, admin_client: Client, body: dict[str, Any], field: str
) -> None:
    response = start(admin_client, **body)
    assert response.status_code == 400
    assert field in response.json()["extra"]["fields"]
    assert not ExportJob.objects.exists()


@pytest.mark.django_db
def test_a_body_that_is_not_an_object_is_a_400(admin_client: Client) -> None:
    response = admin_client.post("/api/reports/exports/", "[1, 2]", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.django_db
def test_only_admins_start_jobs_and_only_the_owner_sees_one(admin_client: Client) -> None:
    assert start(Client(), format="pdf").status_code == 401
    technician = Client(headers=auth_header(user_id=7, role="technician"))
    assert start(technician, format="pdf").status_code == 403

    job_id = start(admin_client, format="csv").json()["id"]
    other = Client(headers=auth_header(user_id=OTHER_ADMIN_ID, role="admin"))
    for path in (f"/api/reports/exports/{job_id}/", f"/api/reports/exports/{job_id}/download/"):
        assert other.get(path).status_code == 404
        assert technician.get(path).status_code == 403
        assert Client().get(path).status_code == 401
    assert admin_client.get("/api/reports/exports/not-a-uuid/").status_code == 404
    assert admin_client.get(f"/api/reports/exports/{uuid.uuid4()}/").status_code == 404


@pytest.mark.django_db
def test_a_read_only_api_key_may_not_start_one() -> None:
    reader = Client(headers=auth_header(user_id="apikey:3", role="admin", scope="read"))
    assert start(reader, format="pdf").status_code == 403


@pytest.mark.django_db
def test_too_many_unfinished_jobs_are_refused(admin_client: Client, settings: Any) -> None:
    settings.REPORTS_EXPORT_MAX_PENDING = 2
    assert start(admin_client, format="csv").status_code == 202
    assert start(admin_client, format="csv").status_code == 202
    refused = start(admin_client, format="csv")
    assert refused.status_code == 429
    assert refused.json()["message"]


@pytest.mark.django_db
def test_the_file_is_not_there_before_it_is_made_and_not_after_its_day(
    admin_client: Client,
) -> None:
    job_id = start(admin_client, format="csv").json()["id"]
    download = f"/api/reports/exports/{job_id}/download/"
    early = admin_client.get(download)
    assert early.status_code == 409
    assert early.json()["extra"] == {"status": "queued", "progress": 0}

    ExportJob.objects.filter(pk=job_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert admin_client.get(f"/api/reports/exports/{job_id}/").status_code == 404
    assert admin_client.get(download).status_code == 404
    assert services.export_prune() == 1
    assert not ExportJob.objects.exists()


# --- the worker ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_worker_makes_the_same_file_as_the_synchronous_export_and_says_so(
    desk: Desk, admin_client: Client, api: Any, worker: ExportWorker
) -> None:
    time.sleep(0.5)  # the worker is waiting by now
    response = start(admin_client, format="pdf", **MARCH, lang="en")
    assert response.status_code == 202
    job_id = response.json()["id"]
    status_url = response.json()["status_url"]

    seen: list[int] = []

    def done() -> bool:
        body = admin_client.get(status_url).json()
        seen.append(body["progress"])
        return bool(body["status"] == "done")

    wait_until(done, timeout=25)  # before the worker's next poll
    body = admin_client.get(status_url).json()
    assert body["progress"] == 100
    assert body["download_url"] == f"/api/reports/exports/{job_id}/download/"
    assert seen == sorted(seen)  # progress never goes back

    download = admin_client.get(body["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == (
        'attachment; filename="servidesk-report_2025-03-01_2025-03-31.pdf"'
    )
    assert download["Cache-Control"] == "private, no-store"
    assert download.content == api("export.pdf", **MARCH, lang="en").content
    assert body["size"] == len(download.content)

    (event,) = OutboxMessage.objects.filter(event_type="report.export_ready")
    assert event.aggregate_id == job_id
    assert event.envelope["producer"] == "reports"
    data = event.envelope["data"]
    assert data["user_id"] == str(ADMIN_ID)
    assert data["export_id"] == job_id
    assert data["format"] == "pdf"
    assert data["download_path"] == f"/reports/exports/{job_id}/"


@pytest.mark.django_db(transaction=True)
def test_a_csv_job_gives_the_synchronous_csv(desk: Desk, admin_client: Client, api: Any) -> None:
    job_id = start(admin_client, format="csv", **MARCH).json()["id"]
    ExportWorker().run_once()
    download = admin_client.get(f"/api/reports/exports/{job_id}/download/")
    assert download.status_code == 200
    assert download.content == b"".join(api("export.csv", **MARCH).streaming_content)


@pytest.mark.django_db
def test_progress_grows_in_whole_percents_below_100(desk: Desk) -> None:
    query = jobs.query_of({"from": "2025-03-01", "to": "2025-03-31", "tag": [], "interval": None})
    for export_format in ("pdf", "xlsx", "csv"):
        steps: list[int] = []
        rendered = jobs.render(export_format, query, progress=steps.append)
        assert rendered.content
        assert steps == sorted(set(steps)), export_format
        assert steps[0] >= 0
        assert steps[-1] == 99, export_format
        assert len(steps) >= 3, export_format


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_died_is_made_again_and_the_dead_one_changes_nothing(
    desk: Desk, admin_client: Client
) -> None:
    job_id = start(admin_client, format="csv", **MARCH).json()["id"]
    dead = services.export_claim()
    assert dead is not None
    assert str(dead.pk) == job_id
    assert services.export_claim() is None  # held: nobody else takes it
    assert services.export_progress(job=dead, progress=40)
    assert ExportJob.objects.get(pk=job_id).progress == 40

    # Its worker dies; the lease runs out.
    ExportJob.objects.filter(pk=job_id).update(lease_until=timezone.now() - timedelta(seconds=1))
    taken = ExportWorker().run_once()
    assert taken is not None
    job = ExportJob.objects.get(pk=job_id)
    assert (job.status, job.progress, job.attempts) == ("done", 100, 2)

    # The first worker comes back to life: its writes are refused.
    assert not services.export_progress(job=dead, progress=50)
    rendered = jobs.Rendered(content=b"stale", file_name="x.csv", content_type="text/csv")
    assert not services.export_finish(job=dead, rendered=rendered)
    assert not services.export_fail(job=dead, error="late")
    assert ExportJob.objects.get(pk=job_id).size != len(b"stale")
    assert OutboxMessage.objects.filter(event_type="report.export_ready").count() == 1


@pytest.mark.django_db
def test_a_job_that_keeps_killing_its_workers_fails(admin_client: Client, settings: Any) -> None:
    settings.REPORTS_EXPORT_MAX_ATTEMPTS = 2
    job_id = start(admin_client, format="csv", **MARCH).json()["id"]
    for _attempt in range(2):
        assert services.export_claim() is not None
        ExportJob.objects.filter(pk=job_id).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
    assert services.export_claim() is None
    job = ExportJob.objects.get(pk=job_id)
    assert job.status == ExportStatus.FAILED
    assert job.error
    failed = admin_client.get(f"/api/reports/exports/{job_id}/download/")
    assert failed.status_code == 409
    assert failed.json()["extra"]["status"] == "failed"
