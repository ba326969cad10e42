"""``health/live`` (the process answers) and ``health/ready`` (its dependencies answer).

Ready runs the checks named in ``SERVIDESK_READY_CHECKS``; each returns ``None`` when
fine or a short reason. Any reason makes the answer 503 with the reasons in JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from servidesk_shared.errors import error_body

logger = logging.getLogger(__name__)

Check = Callable[[], str | None]


def check_database() -> str | None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        connections["default"].close_if_unusable_or_obsolete()
        return f"database unreachable: {type(exc).__name__}"
    return None


def check_broker() -> str | None:
    from servidesk_shared.events.broker import broker_reachable  # noqa: PLC0415 (optional part)

    return broker_reachable()


def get_only(view: Callable[[HttpRequest], JsonResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Django's ``require_GET``, answering any other method in the one JSON error shape."""

    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            message = _('Method "%(method)s" not allowed.') % {"method": request.method}
            response = JsonResponse(error_body(message), status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)

    return wrapper


def _service_name() -> str:
    return str(getattr(settings, "SERVICE_NAME", ""))


@never_cache
@get_only
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "service": _service_name()})


@never_cache
@get_only
def ready(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    reasons: list[str] = []
    for dotted in getattr(settings, "SERVIDESK_READY_CHECKS", []):
        check: Check = import_string(dotted)
        name = dotted.rsplit(".", 1)[-1].removeprefix("check_")
        reason = check()
        checks[name] = reason or "ok"
        if reason:
            reasons.append(reason)
    if reasons:
        logger.warning("not ready: %s", "; ".join(reasons))
        return JsonResponse(
            {
                "status": "unavailable",
                "service": _service_name(),
                "message": "; ".join(reasons),
                "checks": checks,
            },
            status=503,
        )
    return JsonResponse({"status": "ok", "service": _service_name(), "checks": checks})
