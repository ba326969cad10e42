"""URLs of the reports service, all under /api/reports/ (nginx passes paths through unchanged)."""

from django.urls import include, path

from servidesk_shared.metrics import metrics_urlpatterns
from servidesk_shared.urls import service_urlpatterns

# Prometheus text, for the scraper on this port (nginx does not route it).
urlpatterns = [
    *metrics_urlpatterns("api/reports/"),
    *service_urlpatterns(
        "api/reports/",
        [
            path("dead-letters/", include("servidesk_shared.events.dead_letter_api")),
            path("", include("reports.urls")),
        ],
    ),
]

handler400 = "servidesk_shared.errors.json_bad_request"
handler403 = "servidesk_shared.errors.json_permission_denied"
handler404 = "servidesk_shared.errors.json_page_not_found"
handler500 = "servidesk_shared.errors.json_server_error"
