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
    context = {
        "form": form,
        "summary": summary,
        "category_names": {category.slug: category.name for category in categories},
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
    if name not in CHARTS or fmt not in CHART_FORMATS:
        raise Http404
    return _pass_through(request, f"charts/{name}.{fmt}", attachment=False)


@admin_required
def export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    if fmt not in EXPORTS:
        raise Http404
    return _pass_through(request, f"export.{fmt}", attachment=True)
