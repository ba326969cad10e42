"""The reports API: thin views over ``metrics``, ``charts`` and ``exports``.

Access: admins only. An authenticated technician or client gets **403**, not 404. The
contract's 404 rule exists so that ids cannot be probed; these endpoints have no ids and
are listed in the public schema, so a 404 would hide nothing and only mislead the UI.
Permissions are checked before the query string is read, so a non-admin learns nothing
from validation either (a bad query is still a 403 for them).

Language: Django's ``LocaleMiddleware`` negotiates from ``Accept-Language``; a ``lang``
parameter (``es``, ``en``) overrides it for labels, numbers, dates and file contents.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import get_language, get_supported_language_variant, override
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import charts, selectors, services
from reports.api.serializers import (
    ExportAcceptedSerializer,
    ExportJobSerializer,
    ExportRequestSerializer,
    ReportQuerySerializer,
)
from reports.exports.common import CONTENT_TYPES, file_name
from reports.exports.csvfile import csv_chunks
from reports.exports.jobs import filters_of, names_for
from reports.exports.pdf import build_pdf
from reports.exports.xlsx import build_xlsx_file
from reports.metrics import ReportQuery
from reports.models import ExportJob, ExportStatus
from reports.report_cache import cached_report
from servidesk_shared.errors import ConflictError
from servidesk_shared.permissions import IsAdmin

ERRORS = {
    400: OpenApiResponse(description="Invalid query: `extra.fields` names each bad parameter."),
    401: OpenApiResponse(description="No valid access token."),
    403: OpenApiResponse(description="The caller is not an admin."),
}


def _binary(media_type: str, description: str) -> dict[Any, Any]:
    return {
        (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description),
        **ERRORS,
    }


class ReportView(APIView):
    permission_classes = [IsAdmin]

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        language = _requested_language(request.GET.get("lang", ""))
        if language is None:
            return super().dispatch(request, *args, **kwargs)
        with override(language):
            response = super().dispatch(request, *args, **kwargs)
        response.headers["Content-Language"] = language
        return response

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Downloads are not rendered by DRF: an ``Accept: application/pdf`` must not be a
        # 406. Whatever the client accepts, errors come back as JSON.
        return super().perform_content_negotiation(request, force=True)

    def report_query(self, request: Request) -> ReportQuery:
        serializer = ReportQuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.to_query()


def _requested_language(value: str) -> str | None:
    if not value:
        return None
    try:
        return get_supported_language_variant(value)
    except LookupError:
        return None  # the serializer reports it, in the negotiated language


Download = TypeVar("Download", bound=HttpResponseBase)


def _download(response: Download, name: str, *, inline: bool = False) -> Download:
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


QUERY = [ReportQuerySerializer]


class SummaryView(ReportView):
    @extend_schema(
        parameters=QUERY,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The metrics."), **ERRORS},
        summary="Metrics of a period",
    )
    def get(self, request: Request) -> Response:
        query = self.report_query(request)
        return Response(cached_report(query).summary)


class ChartView(ReportView):
    @extend_schema(
        parameters=[
            *QUERY,
            OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(charts.CHARTS)),
            OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(charts.FORMATS)),
        ],
        responses={
            **_binary("image/png", "The chart as PNG."),
            (200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.BINARY, description="As SVG."),
            404: OpenApiResponse(description="No chart has this name."),
        },
        summary="One chart of a period",
    )
    def get(self, request: Request, name: str, fmt: str) -> HttpResponse:
        if name not in charts.CHARTS:
            raise NotFound(
                _("No chart is called %(name)s. Charts: %(names)s.")
                % {"name": name, "names": ", ".join(charts.CHARTS)}
            )
        query = self.report_query(request)
        image = charts.render(name, cached_report(query).summary, fmt=fmt)
        response = HttpResponse(image, content_type=CONTENT_TYPES[fmt])
        return _download(response, file_name(query, fmt, stem=f"servidesk-{name}"), inline=True)


class PdfExportView(ReportView):
    @extend_schema(
        parameters=QUERY,
        responses=_binary("application/pdf", "The report as PDF."),
        summary="The report as PDF",
    )
    def get(self, request: Request) -> HttpResponse:
        query = self.report_query(request)
        report = cached_report(query)
        document = build_pdf(report, query, names=names_for(report, query))
        return _download(
            HttpResponse(document, content_type=CONTENT_TYPES["pdf"]), file_name(query, "pdf")
        )


class XlsxExportView(ReportView):
    @extend_schema(
        parameters=QUERY,
        responses=_binary(CONTENT_TYPES["xlsx"], "The report as an Excel workbook."),
        summary="The report as an Excel workbook",
    )
    def get(self, request: Request) -> FileResponse:
        query = self.report_query(request)
        report = cached_report(query)
        workbook = build_xlsx_file(report, query, names=names_for(report, query))
        response = FileResponse(workbook, content_type=CONTENT_TYPES["xlsx"])
        return _download(response, file_name(query, "xlsx"))


class CsvExportView(ReportView):
    @extend_schema(
        parameters=QUERY,
        responses=_binary("text/csv", "The period's tickets as CSV."),
        summary="The period's tickets as CSV",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = self.report_query(request)
        response = StreamingHttpResponse(csv_chunks(query), content_type=CONTENT_TYPES["csv"])
        return _download(response, file_name(query, "csv"))


# --- export jobs (issue 22) --------------------------------------------------------------


class ExportJobView(APIView):
    """A job is its owner's: anyone else's (another admin's too) is not found."""

    permission_classes = [IsAdmin]

    def job(self, request: Request, job_id: str) -> ExportJob:
        job = selectors.export_job_of(owner_id=str(request.user.id), job_id=job_id)
        if job is None:
            raise NotFound(_("No export job has this id."))
        return job


JOB_ERRORS = {
    401: OpenApiResponse(description="No valid access token."),
    403: OpenApiResponse(description="The caller is not an admin."),
    404: OpenApiResponse(description="No job of the caller's has this id (or its day is over)."),
}


class ExportJobCreateView(ExportJobView):
    @extend_schema(
        request=ExportRequestSerializer,
        responses={
            202: ExportAcceptedSerializer,
            400: ERRORS[400],
            401: ERRORS[401],
            403: ERRORS[403],
            429: OpenApiResponse(description="Too many of the caller's exports in progress."),
        },
        summary="Start an export in the background",
        description=(
            "Queues the file (`format`: pdf, xlsx or csv) of the report the summary's "
            "parameters describe. Poll `exports/<id>/` for `status` and `progress`; the "
            "file is at `exports/<id>/download/` for a day once `status` is `done`, and "
            "the caller hears of it in their notifications (`report.export_ready`)."
        ),
    )
    def post(self, request: Request) -> Response:
        serializer = ExportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        query = serializer.to_query()
        language = serializer.validated_data.get("lang") or get_language()
        job = services.export_create(
            owner_id=str(request.user.id),
            export_format=serializer.validated_data["format"],
            filters=filters_of(query),
            language=language,
        )
        status_url = reverse("reports-export-job", args=[job.pk])
        body = {"id": job.pk, "status": job.status, "progress": job.progress}
        response = Response(
            ExportAcceptedSerializer({**body, "status_url": status_url}).data, status=202
        )
        response.headers["Location"] = status_url
        return response


class ExportJobDetailView(ExportJobView):
    @extend_schema(
        responses={200: ExportJobSerializer, **JOB_ERRORS},
        summary="An export job's status and progress",
    )
    def get(self, request: Request, job_id: str) -> Response:
        response = Response(ExportJobSerializer(self.job(request, job_id)).data)
        response.headers["Cache-Control"] = "private, no-store"
        return response


class ExportJobDownloadView(ExportJobView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file, as `export.<format>` gives it."
            ),
            **JOB_ERRORS,
            409: OpenApiResponse(description="The file is not ready (or the job failed)."),
        },
        summary="An export job's file",
    )
    def get(self, request: Request, job_id: str) -> HttpResponse:
        job = self.job(request, job_id)
        if job.status == ExportStatus.FAILED:
            raise ConflictError(
                _("This export failed: %(error)s") % {"error": job.error},
                extra={"status": job.status},
            )
        if job.status != ExportStatus.DONE:
            raise ConflictError(
                _("The file is not ready yet (%(progress)d %%).") % {"progress": job.progress},
                extra={"status": job.status, "progress": job.progress},
            )
        content = selectors.export_content(job=job)
        return _download(HttpResponse(content, content_type=job.content_type), job.file_name)
