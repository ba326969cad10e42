"""``health/live`` (the process answers) and ``health/ready`` (its dependencies answer).

Ready runs the checks named in ``SERVIDESK_READY_CHECKS`` (the database: a broker outage
does not take an API out of rotation, its writes go to the outbox); each returns ``None``
when fine or a short reason. Any reason makes the answer 503 with the reasons in JSON.

Relays, consumers and senders serve no HTTP: their health check
(``deploy/docker/worker_health.py``) runs ``worker_problems()``, the checks named in
``SERVIDESK_WORKER_CHECKS`` (the database and the broker).
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


def run_checks(dotted_paths: list[str]) -> dict[str, str | None]:
    """Each check's reason (``None``: fine), by its name without ``check_``."""
    results: dict[str, str | None] = {}
    for dotted in dotted_paths:
        check: Check = import_string(dotted)
        results[dotted.rsplit(".", 1)[-1].removeprefix("check_")] = check()
    return results


def worker_problems() -> list[str]:
    """Why this service's relays and consumers are not healthy: [] when they are."""
    checks = run_checks(getattr(settings, "SERVIDESK_WORKER_CHECKS", []))
    return [reason for reason in checks.values() if reason]


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
    results = run_checks(getattr(settings, "SERVIDESK_READY_CHECKS", []))
    checks = {name: reason or "ok" for name, reason in results.items()}
    reasons = [reason for reason in results.values() if reason]
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
