"""Access to pages: signed in, and for some pages a role. The APIs still decide what each
user may do; these only keep people away from pages that would show them nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _

from portal.api.session import current_user
from portal.middleware import login_redirect
from servidesk_shared.vocabulary import Role

View = Callable[..., HttpResponseBase]


def signed_in(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if current_user(request) is None:
            return login_redirect(request)
        return view(request, *args, **kwargs)

    return wrapped


def role_required(*roles: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = current_user(request)
            if user is None:
                return login_redirect(request)
            if user.role not in roles:
                message = _("This page is not available to your account.")
                return render(
                    request, "portal/error.html", {"message": message, "status": 403}, status=403
                )
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


staff_required = role_required(Role.TECHNICIAN, Role.ADMIN)
admin_required = role_required(Role.ADMIN)
