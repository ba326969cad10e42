"""Request ids: taken from nginx's ``X-Request-ID`` or made here, echoed and logged.

The id lives in a context variable so every log line of the request carries it, and
outgoing calls to other services can pass it along.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
# Anything else (too long, odd characters) is replaced: the id ends up in logs verbatim.
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
# One line per request, so a request id can be followed through every service it reached.
access_logger = logging.getLogger("servidesk.access")
_PROBES = re.compile(r"/health/(?:live|ready)$")


def current_request_id() -> str:
    return request_id_var.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get(_META_KEY, "")
        request_id = incoming if _VALID.match(incoming) else new_request_id()
        request.META[_META_KEY] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            log_access(request, response.status_code, started)
        finally:
            request_id_var.reset(token)
        response[HEADER] = request_id
        return response


def log_access(request: HttpRequest, status: int, started: float) -> None:
    # Health probes come every few seconds from every checker: keep them out of INFO.
    level = logging.DEBUG if _PROBES.search(request.path) else logging.INFO
    if not access_logger.isEnabledFor(level):
        return
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    access_logger.log(
        level,
        "%s %s %s %.1fms",
        request.method,
        request.path,
        status,
        duration_ms,
        extra={
            "method": request.method,
            "path": request.path,
            "status": status,
            "duration_ms": duration_ms,
        },
    )


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` and ``service`` to every record."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.service = self.service
        return True
