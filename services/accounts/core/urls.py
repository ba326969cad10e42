"""URLs of the accounts service: the API under /api/accounts/, the social-login browser
flow under /accounts/ (nginx passes paths through unchanged)."""

from django.contrib import admin
from django.urls import include, path

from servidesk_shared.metrics import metrics_urlpatterns
from servidesk_shared.urls import service_urlpatterns

urlpatterns = [
    # Prometheus text, for the scraper on this port (nginx does not route it).
    *metrics_urlpatterns("api/accounts/"),
    *service_urlpatterns(
        "api/accounts/",
        [
            path("dead-letters/", include("servidesk_shared.events.dead_letter_api")),
            path("", include("users.api.urls")),
            path("admin/", admin.site.urls),
        ],
    ),
    path("accounts/", include("users.social_urls")),
]

handler400 = "servidesk_shared.errors.json_bad_request"
handler403 = "servidesk_shared.errors.json_permission_denied"
handler404 = "servidesk_shared.errors.json_page_not_found"
handler500 = "servidesk_shared.errors.json_server_error"
