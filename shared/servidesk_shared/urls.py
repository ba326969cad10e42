"""The URLs every service mounts under its prefix: health, schema, docs, JSON 404."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from servidesk_shared import health
from servidesk_shared.errors import api_not_found


def service_urlpatterns(
    prefix: str, routes: list[Any], *, catch_all: bool = True
) -> list[URLPattern | URLResolver]:
    """``routes`` mounted under ``prefix`` (e.g. ``"api/tickets/"``) with the common endpoints.

    ``catch_all`` ends the prefix with a JSON 404, so an unknown API path never falls
    through to an HTML page, whatever ``DEBUG`` says.
    """
    common: list[Any] = [
        path("health/live", health.live, name="health-live"),
        path("health/ready", health.ready, name="health-ready"),
        path("schema/", SpectacularAPIView.as_view(), name="schema"),
        path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    ]
    tail: list[Any] = [re_path(r"^.*$", api_not_found)] if catch_all else []
    return [path(prefix, include([*common, *routes, *tail]))]
