"""Routes of the reports API, mounted under ``/api/reports/`` by ``core.urls``."""

from django.urls import path, re_path

from reports.api import views

urlpatterns = [
    path("summary/", views.SummaryView.as_view(), name="reports-summary"),
    re_path(
        r"^charts/(?P<name>[\w-]+)\.(?P<fmt>png|svg)$",
        views.ChartView.as_view(),
        name="reports-chart",
    ),
    path("export.pdf", views.PdfExportView.as_view(), name="reports-export-pdf"),
    path("export.xlsx", views.XlsxExportView.as_view(), name="reports-export-xlsx"),
    path("export.csv", views.CsvExportView.as_view(), name="reports-export-csv"),
    # Exports made in the background (issue 22).
    path("exports/", views.ExportJobCreateView.as_view(), name="reports-export-jobs"),
    path("exports/<str:job_id>/", views.ExportJobDetailView.as_view(), name="reports-export-job"),
    path(
        "exports/<str:job_id>/download/",
        views.ExportJobDownloadView.as_view(),
        name="reports-export-job-download",
    ),
]
