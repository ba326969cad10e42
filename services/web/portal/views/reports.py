"""The admins' reports dashboard; charts and downloads are fetched from reports with the
admin's token and passed through (the browser never holds a token).

Exports (issue 22) are made in the background by reports: the dashboard's buttons POST
to ``export_start``, which asks reports for a job. With JavaScript
(``portal/exports.js``) the page stays and shows the progress it polls from
``export_status``, then fetches the file; without, the browser lands on the job's page
(``export_job``), which reloads itself (a ``Refresh`` header) until the file is ready and
then offers it (``export_download``, passed through from reports). Notifier's "your
report is ready" links to that page too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, Final
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from portal import conf, forms
from portal.api import ApiError, ServiceUnavailableError, client_for
from portal.api.types import Category, Person
from portal.decorators import admin_required
from portal.middleware import note_unavailable
from portal.views.common import attempt, unavailable_message

CHARTS: Final = {
    "status": gettext_lazy("Tickets by status"),
    "created-resolved": gettext_lazy("Created and resolved tickets over time"),
    "backlog": gettext_lazy("Open tickets (backlog) over time"),
    "resolution-time": gettext_lazy("How long tickets took to resolve"),
    "technicians": gettext_lazy("Workload per technician"),
}
#: The satisfaction chart, shown in its own section (and only when reports has ``csat``).
CSAT_CHART: Final = ("csat", gettext_lazy("Good and bad answers over time"))
#: Every chart the dashboard may pass through.
PROXIED_CHARTS: Final = frozenset({*CHARTS, CSAT_CHART[0]})
CHART_FORMATS: Final = ("svg", "png")
EXPORTS: Final = {"pdf": "PDF", "xlsx": "Excel", "csv": "CSV"}
#: Upstream headers a download keeps.
PASSED_HEADERS: Final = ("Content-Type", "Content-Disposition", "Content-Length")


def _filter_form(request: HttpRequest, categories: list[Category]) -> forms.ReportFilterForm:
    people: list[Person] = attempt(request, client_for(request).tickets.assignees, [])
    return forms.ReportFilterForm(request.GET, categories=categories, people=people)


#: The dashboard's filters, as the reports API names them.
FILTERS: Final = ("from", "to", "category", "priority", "assignee_id")
#: Seconds between two reloads of a job's page (without JavaScript) or two polls (with).
EXPORT_REFRESH_SECONDS: Final = 2


def _params(request: HttpRequest) -> dict[str, str]:
    """The report query of the page's query string (the API validates it)."""
    return _filters(request.GET)


def _filters(data: Any) -> dict[str, str]:
    """The report query of ``data`` (a query string or a form), with the page's language."""
    params = {name: str(data.get(name, "")).strip() for name in FILTERS}
    params = {name: value for name, value in params.items() if value}
    params["lang"] = get_language() or settings.LANGUAGE_CODE
    return params


#: The seven figures of the summary's ``csat`` and of each of its rows.
CSAT_FIGURES: Final = (
    "answered",
    "good",
    "bad",
    "score",
    "surveyed",
    "responded",
    "response_rate",
)


def _csat_figures(data: dict[str, Any]) -> dict[str, float | None]:
    """A satisfaction block's figures; one missing or not a number is None (a dash on
    the page), never a broken page."""

    def number(value: Any) -> float | None:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return value if numeric else None

    return {name: number(data.get(name)) for name in CSAT_FIGURES}


def _named(text: Any, fallback: str) -> str:
    return text if isinstance(text, str) and text else fallback


def _csat_tables(
    csat: dict[str, Any], category_names: dict[str, str]
) -> list[tuple[str, str, list[tuple[str, dict[str, float | None]]]]]:
    """The satisfaction breakdowns as ``(caption, heading, [(name, figures), ...])``:
    technicians and teams by the names reports gives them (as in the technicians' table),
    a deleted team said so; categories by their name in tickets, else reports' label."""

    def rows(key: str) -> list[dict[str, Any]]:
        value = csat.get(key)
        return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []

    def fallback(row: dict[str, Any], key: str, nobody: str) -> str:
        return nobody if row.get(key) is None else f"#{row[key]}"

    technicians = [
        (
            _named(row.get("name"), fallback(row, "assignee_id", _("Unassigned"))),
            _csat_figures(row),
        )
        for row in rows("by_technician")
    ]
    teams = []
    for row in rows("by_team"):
        name = _named(row.get("name"), fallback(row, "team_id", _("No team")))
        if row.get("deleted") is True:
            name = _("%(name)s (deleted)") % {"name": name}
        teams.append((name, _csat_figures(row)))
    categories = []
    for row in rows("by_category"):
        code = row.get("category")
        slug = code if isinstance(code, str) else ""
        name = category_names.get(slug) or _named(row.get("label"), slug)
        categories.append((name, _csat_figures(row)))
    return [
        (_("Satisfaction per technician"), _("Technician"), technicians),
        (_("Satisfaction per team"), _("Team"), teams),
        (_("Satisfaction per category"), _("Category"), categories),
    ]


@admin_required
def dashboard(request: HttpRequest) -> HttpResponse:
    categories: list[Category] = attempt(request, client_for(request).tickets.categories, [])
    form = _filter_form(request, categories)
    summary: dict[str, Any] | None = None
    status = 200
    form.is_valid()
    try:
        summary = client_for(request).reports.summary(_params(request))
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        status = 503
    except ApiError as exc:
        forms.show_api_errors(form, exc)
        status = 400
    query = urlencode({k: v for k, v in _params(request).items() if k != "lang"})
    period = (summary or {}).get("period") or {}
    category_names = {category.slug: category.name for category in categories}
    # An older reports deploy answers without ``csat``: the section is left out.
    csat = (summary or {}).get("csat")
    if not isinstance(csat, dict):
        csat = None
    context = {
        "form": form,
        "summary": summary,
        "category_names": category_names,
        "csat": _csat_figures(csat) if csat is not None else None,
        "csat_tables": _csat_tables(csat, category_names) if csat is not None else [],
        "csat_chart": (
            CSAT_CHART[1],
            f"{reverse('portal:report_chart', args=[CSAT_CHART[0], 'svg'])}?{query}",
        ),
        "period_from": parse_date(str(period.get("from", ""))),
        "period_to": parse_date(str(period.get("to", ""))),
        "query": query,
        "charts": [
            (name, title, f"{reverse('portal:report_chart', args=[name, 'svg'])}?{query}")
            for name, title in CHARTS.items()
        ],
        "exports": list(EXPORTS.items()),
        "export_filters": [
            (name, value) for name, value in _params(request).items() if name != "lang"
        ],
    }
    return render(request, "portal/reports/dashboard.html", context, status=status)


def _pass_through(
    request: HttpRequest, path: str, *, attachment: bool
) -> HttpResponse | StreamingHttpResponse:
    """Stream ``path`` of the reports API to the browser, or explain why not."""
    stack = ExitStack()
    try:
        upstream = stack.enter_context(
            client_for(request).connection.stream(
                "reports",
                path,
                params=_params(request),
                timeout=conf.api_download_timeout(),
            )
        )
    except (ServiceUnavailableError, ApiError) as exc:
        stack.close()
        if not attachment:
            return HttpResponse(status=503 if isinstance(exc, ServiceUnavailableError) else 400)
        if isinstance(exc, ServiceUnavailableError):
            messages.error(request, unavailable_message(exc))
        else:
            messages.error(
                request,
                _("The file could not be made: %(reason)s")
                % {"reason": " ".join([exc.message, *(m for v in exc.fields.values() for m in v)])},
            )
        return redirect(f"{reverse('portal:reports')}?{request.GET.urlencode()}")

    def body() -> Iterator[bytes]:
        with stack:
            yield from upstream.iter_bytes()

    response = StreamingHttpResponse(body())
    for name in PASSED_HEADERS:
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@admin_required
def chart(request: HttpRequest, name: str, fmt: str) -> HttpResponse | StreamingHttpResponse:
    if name not in PROXIED_CHARTS or fmt not in CHART_FORMATS:
        raise Http404
    return _pass_through(request, f"charts/{name}.{fmt}", attachment=False)


@admin_required
def export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    if fmt not in EXPORTS:
        raise Http404
    return _pass_through(request, f"export.{fmt}", attachment=True)


# --- exports made in the background (issue 22) ------------------------------------------


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def _api_reason(exc: ApiError) -> str:
    return " ".join([exc.message, *(m for v in exc.fields.values() for m in v)])


def _start_refused(request: HttpRequest, reason: str, status: int, back: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"message": reason}, status=status)
    messages.error(request, reason)
    return redirect(back)


@admin_required
@require_POST
def export_start(request: HttpRequest) -> HttpResponse:
    """Ask reports for a job; to its page (a form), or its addresses (JSON, for the script)."""
    fmt = request.POST.get("format", "")
    filters = _filters(request.POST)
    shown = {name: value for name, value in filters.items() if name != "lang"}
    back = f"{reverse('portal:reports')}?{urlencode(shown)}"
    if fmt not in EXPORTS:
        return _start_refused(request, _("Unknown format."), 400, back)
    try:
        job = client_for(request).reports.post(
            "exports/", {"format": fmt, **filters}, dict[str, Any]
        )
    except ServiceUnavailableError as exc:
        return _start_refused(request, unavailable_message(exc), 503, back)
    except ApiError as exc:
        reason = _("The file could not be made: %(reason)s") % {"reason": _api_reason(exc)}
        return _start_refused(request, reason, exc.status, back)
    job_id = str(job.get("id", ""))
    page = reverse("portal:report_export_job", args=[job_id])
    if _wants_json(request):
        return JsonResponse(
            {
                "id": job_id,
                "page_url": page,
                "status_url": reverse("portal:report_export_status", args=[job_id]),
                "label": _progress_label({"status": "queued", "progress": 0}),
                "poll_seconds": 1,
            },
            status=202,
        )
    return redirect(page)


def _job(request: HttpRequest, job_id: UUID) -> dict[str, Any]:
    """Reports' view of the job; 404 for one that is not the user's (or is gone)."""
    try:
        return client_for(request).reports.get(f"exports/{job_id}/", dict[str, Any])
    except ServiceUnavailableError:
        raise
    except ApiError as exc:  # not found, or no longer theirs to see (403)
        raise Http404 from exc


def _progress(job: dict[str, Any]) -> int:
    value = job.get("progress")
    return max(0, min(100, value)) if isinstance(value, int) and not isinstance(value, bool) else 0


def _progress_label(job: dict[str, Any]) -> str:
    status = job.get("status")
    if status == "done":
        return _("Your report is ready.")
    if status == "failed":
        return _("The report could not be made.")
    return _("Preparing the report… %(progress)s %%") % {"progress": _progress(job)}


def _job_state(job: dict[str, Any], job_id: UUID) -> dict[str, Any]:
    status = (
        job.get("status")
        if job.get("status") in ("queued", "running", "done", "failed")
        else "queued"
    )
    return {
        "status": status,
        "progress": _progress(job),
        "label": _progress_label(job),
        "error": str(job.get("error") or ""),
        "finished": status in ("done", "failed"),
        "download_url": (
            reverse("portal:report_export_download", args=[job_id]) if status == "done" else None
        ),
    }


@admin_required
@require_GET
def export_job(request: HttpRequest, job_id: UUID) -> HttpResponse:
    """The job's page: progress while it is made (reloading itself), then the file."""
    try:
        job = _job(request, job_id)
    except ServiceUnavailableError as exc:
        note_unavailable(request, exc)
        response = render(request, "portal/reports/export_job.html", {"job": None}, status=503)
        response["Refresh"] = str(EXPORT_REFRESH_SECONDS * 5)
        return response
    state = _job_state(job, job_id)
    context = {
        "job": state,
        "format_label": EXPORTS.get(str(job.get("format")), ""),
        "file_name": str(job.get("file_name") or ""),
        "expires_at": parse_datetime(str(job.get("expires_at") or "")),
    }
    response = render(request, "portal/reports/export_job.html", context)
    if not state["finished"]:
        response["Refresh"] = str(EXPORT_REFRESH_SECONDS)  # a reload, also without JavaScript
    response["Cache-Control"] = "private, no-store"
    return response


@admin_required
@require_GET
def export_status(request: HttpRequest, job_id: UUID) -> JsonResponse:
    """The job's state for the dashboard's script (JSON)."""
    try:
        job = _job(request, job_id)
    except ServiceUnavailableError as exc:
        return JsonResponse({"message": unavailable_message(exc)}, status=503)
    response = JsonResponse(_job_state(job, job_id))
    response["Cache-Control"] = "private, no-store"
    return response


@admin_required
@require_GET
def export_download(request: HttpRequest, job_id: UUID) -> HttpResponse | StreamingHttpResponse:
    """The job's file, passed through from reports; to the job's page if not there."""
    stack = ExitStack()
    try:
        upstream = stack.enter_context(
            client_for(request).connection.stream(
                "reports", f"exports/{job_id}/download/", timeout=conf.api_download_timeout()
            )
        )
    except (ServiceUnavailableError, ApiError) as exc:
        stack.close()
        if isinstance(exc, ApiError) and exc.status == 404:
            raise Http404 from exc
        if isinstance(exc, ServiceUnavailableError):
            messages.error(request, unavailable_message(exc))
        return redirect("portal:report_export_job", job_id)

    def body() -> Iterator[bytes]:
        with stack:
            yield from upstream.iter_bytes()

    response = StreamingHttpResponse(body())
    for name in PASSED_HEADERS:
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
