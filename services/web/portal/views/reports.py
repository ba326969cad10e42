"""The admins' reports dashboard; charts and downloads are fetched from reports with the
admin's token and passed through (the browser never holds a token)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, Final
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

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


def _params(request: HttpRequest) -> dict[str, str]:
    """The report query of the page's query string (the API validates it)."""
    names = ("from", "to", "category", "priority", "assignee_id")
    params = {name: request.GET.get(name, "").strip() for name in names}
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
        "exports": [
            (label, f"{reverse('portal:report_export', args=[fmt])}?{query}")
            for fmt, label in EXPORTS.items()
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
