"""Small JSON answers for the page scripts (servidesk.js): tag suggestions and the client
search of the new-ticket page. Every page works without them; these only save a reload."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from portal.api import ApiError, ServiceUnavailableError, client_for
from portal.decorators import staff_required
from portal.forms import client_choice
from portal.views.common import unavailable_message

#: Longer queries than the APIs take are cut, not sent.
QUERY_MAX = 100


def _failure(exc: ApiError) -> JsonResponse:
    if isinstance(exc, ServiceUnavailableError):
        return JsonResponse({"message": unavailable_message(exc), "results": []}, status=503)
    return JsonResponse({"message": exc.message, "results": []}, status=400)


@staff_required
@require_GET
def tag_suggestions(request: HttpRequest) -> JsonResponse:
    """``{"results": [{"name", "ticket_count"}]}``: existing tags starting with ``q``."""
    prefix = " ".join(request.GET.get("q", "").split())[:50].lower()
    try:
        found = client_for(request).tickets.tags(prefix)
    except ApiError as exc:
        return _failure(exc)
    results = [{"name": tag.name, "ticket_count": tag.ticket_count} for tag in found]
    return JsonResponse({"results": results})


@staff_required
@require_GET
def client_lookup(request: HttpRequest) -> JsonResponse:
    """``{"results": [{"id", "label"}]}``: active clients matching ``q`` (staff)."""
    query = request.GET.get("q", "").strip()[:QUERY_MAX]
    if not query:
        message = _("Type part of a name, username or email.")
        return JsonResponse({"results": [], "message": message})
    try:
        found = client_for(request).tickets.clients(query)
    except ApiError as exc:
        return _failure(exc)
    results = [dict(zip(("id", "label"), client_choice(person), strict=True)) for person in found]
    message = "" if results else _("No active client matches this search.")
    return JsonResponse({"results": results, "message": message})
