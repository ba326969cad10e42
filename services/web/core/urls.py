"""URLs of the web service: the browser UI at the root of the gateway."""

from django.urls import include, path
from portal.views import api_reference

from servidesk_shared.metrics import metrics_urlpatterns
from servidesk_shared.urls import service_urlpatterns

urlpatterns = [
    # Prometheus text, for the scraper on this port (nginx does not route it).
    *metrics_urlpatterns(""),
    *service_urlpatterns("", [], catch_all=False),
    # The gateway's API reference for the four APIs (nginx routes these two paths here).
    path("api/docs/", api_reference.docs, name="api_docs"),
    path("api/schema/", api_reference.schema_index, name="api_schema_index"),
    path("", include("portal.urls")),
]

handler400 = "portal.views.errors.bad_request"
handler403 = "portal.views.errors.permission_denied"
handler404 = "portal.views.errors.page_not_found"
handler500 = "portal.views.errors.server_error"
