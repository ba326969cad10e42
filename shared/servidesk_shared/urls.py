"""The URLs every service mounts under its prefix: health, schema, docs, JSON 404.

The OpenAPI schema (``schema/``) and Swagger UI (``docs/``) are public, as the design asks
and integrators need, unless ``PUBLIC_API_DOCS`` is false: then both answer 404, like any
path the service does not have.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponseBase
from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from servidesk_shared import health
from servidesk_shared.errors import api_not_found


def api_docs_public() -> bool:
    """Whether the schema and Swagger UI are served (``PUBLIC_API_DOCS``, default true)."""
    return bool(getattr(settings, "PUBLIC_API_DOCS", True))


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema of the service, or 404 when the docs are not public."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not api_docs_public():
            raise Http404("API docs are not public")
        return super().dispatch(request, *args, **kwargs)


class DocsView(SpectacularSwaggerView):
    """Swagger UI on the schema above, or 404 when the docs are not public."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not api_docs_public():
            raise Http404("API docs are not public")
        return super().dispatch(request, *args, **kwargs)


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
        path("schema/", SchemaView.as_view(), name="schema"),
        path("docs/", DocsView.as_view(url_name="schema"), name="docs"),
    ]
    tail: list[Any] = [re_path(r"^.*$", api_not_found)] if catch_all else []
    return [path(prefix, include([*common, *routes, *tail]))]
