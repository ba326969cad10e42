"""HTML error pages (the APIs answer JSON; the UI answers pages people can read)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import gettext as _


def _page(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(
        request, "portal/error.html", {"message": message, "status": status}, status=status
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, _("The request could not be understood."), 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, _("This page is not available to your account."), 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, _("This page does not exist, or you do not have access to it."), 404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    message = _(
        "This form has expired (it was open too long, or cookies are blocked). "
        "Go back, reload the page and try again."
    )
    return _page(request, message, 403)


def server_error(request: HttpRequest) -> HttpResponse:
    """No context processors here: whatever failed must not fail again while rendering."""
    template = loader.get_template("portal/500.html")
    return HttpResponse(template.render({}), status=500)
