"""What every page's template knows: who is signed in, the bell, what is unavailable."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from portal import conf
from portal.api import ApiError, ServiceUnavailableError, SignInRequiredError, client_for
from portal.api.session import current_user
from portal.live.selectors import live_since
from portal.middleware import note_unavailable, unavailable


def ui(request: HttpRequest) -> dict[str, Any]:
    user = current_user(request)
    unread: int | None = None
    if user is not None and request.resolver_match is not None:
        try:
            unread = client_for(request).notifier.unread_count()
        except ServiceUnavailableError as exc:
            note_unavailable(request, exc)
        except (ApiError, SignInRequiredError):
            unread = None
    return {
        "current_user": user,
        # The live stream starts after the newest row when the page is made (portal.live).
        "live_since": live_since() if user is not None else 0,
        "unread_count": unread,
        "unavailable_services": unavailable(request),
        "accounts_browser_url": conf.accounts_browser_url(),
    }
