"""The live ticket page's one write: "I am writing a reply" (``portal.live``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from portal.decorators import staff_required
from portal.live import services
from portal.views.common import user_of


@require_POST
@staff_required
def ticket_typing(request: HttpRequest, ticket_id: str) -> HttpResponse:
    """Staff viewing the ticket see "<name> is replying…" for a few seconds. 204 always
    (a call within the throttle adds nothing): it is a hint, not a record."""
    user = user_of(request)
    services.typing_record(ticket_id=str(ticket_id), user_id=user.id, name=user.display_name)
    return HttpResponse(status=204)
