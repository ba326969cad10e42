"""URLs of the web service: the browser UI at the root of the gateway."""

from django.urls import include, path

from servidesk_shared.urls import service_urlpatterns

urlpatterns = [
    *service_urlpatterns("", [], catch_all=False),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("portal.urls")),
]
