"""The gateway's API reference (``/api/docs/`` and ``/api/schema/``, routed to web by
nginx): one Swagger UI with a selector for the four APIs, and an index of their schemas.

Each schema stays served by its own service (``/api/<prefix>/schema/``); these pages only
point at them, with paths relative to the gateway that serves them all. Both answer 404,
in the APIs' error shape, when ``PUBLIC_API_DOCS`` is false, like the services' own.

The Swagger UI page runs no inline script: its settings travel as JSON
(``json_script``) and ``portal/api-docs.js`` starts it. It sends its own
Content-Security-Policy (nginx adds none under ``/api/``).
"""

from __future__ import annotations

from typing import Final

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from portal.api.http import PREFIXES
from servidesk_shared.errors import api_not_found
from servidesk_shared.urls import api_docs_public

#: The four APIs, in the selector's order, with their schemas' titles.
APIS: Final = (
    ("accounts", "Servidesk accounts API"),
    ("tickets", "Servidesk tickets API"),
    ("notifier", "Servidesk notifications API"),
    ("reports", "Servidesk reports API"),
)

#: What Swagger UI needs and nothing more: its script and styles from web's static files
#: (its components set inline styles), its images (some are data: URIs), the schemas and
#: "Try it out" calls to the gateway itself.
DOCS_CSP: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


def schemas() -> list[dict[str, str]]:
    """Each API's schema and Swagger UI, by path on the gateway; ``service`` is the
    service's name (notifier's prefix is ``/api/notifications/``)."""
    found = []
    for service, title in APIS:
        prefix = PREFIXES[service]
        found.append(
            {
                "service": service,
                "title": title,
                "url": f"{prefix}schema/",
                "docs": f"{prefix}docs/",
            }
        )
    return found


@require_safe
def schema_index(request: HttpRequest) -> HttpResponse:
    """``{"schemas": [{service, title, url, docs}, …]}`` for the four APIs."""
    if not api_docs_public():
        return api_not_found(request)
    return JsonResponse({"schemas": schemas()})


@require_safe
def docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI for the four APIs, one at a time (a selector at the top)."""
    if not api_docs_public():
        return api_not_found(request)
    specs = [{"url": item["url"], "name": item["title"]} for item in schemas()]
    response = render(request, "portal/api_docs.html", {"specs": specs})
    response["Content-Security-Policy"] = DOCS_CSP
    return response
