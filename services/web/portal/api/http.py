"""One pooled ``httpx.Client`` per service and the headers every call carries.

Tests replace the network with ``use_transport(httpx.MockTransport(handler))``.
"""

from __future__ import annotations

import threading
from typing import Final

import httpx
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import get_language

from portal import conf
from servidesk_shared.request_id import HEADER as REQUEST_ID_HEADER
from servidesk_shared.request_id import current_request_id

#: Where each service mounts its API (ARCHITECTURE.md, "Ports and routes").
PREFIXES: Final = {
    "accounts": "/api/accounts/",
    "tickets": "/api/tickets/",
    "notifier": "/api/notifications/",
    "reports": "/api/reports/",
}

_lock = threading.Lock()
_clients: dict[tuple[str, str], httpx.Client] = {}
_transport: httpx.BaseTransport | None = None


def base_url(service: str) -> str:
    return conf.api_url(service)


def default_timeout() -> httpx.Timeout:
    return httpx.Timeout(conf.api_timeout(), connect=conf.api_connect_timeout())


def client(service: str) -> httpx.Client:
    """The process's client for ``service`` (keep-alive connections are reused)."""
    key = (service, base_url(service))
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            _clients[key] = httpx.Client(
                base_url=key[1],
                timeout=default_timeout(),
                transport=_transport,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
            )
        return _clients[key]


def use_transport(transport: httpx.BaseTransport | None) -> None:
    """Route every later call through ``transport`` (tests), or the network again (None)."""
    global _transport  # noqa: PLW0603 (the process-wide switch is the point)
    with _lock:
        for existing in _clients.values():
            existing.close()
        _clients.clear()
        _transport = transport


def client_ip(request: HttpRequest) -> str:
    """The browser's address: nginx, the edge, sets ``X-Forwarded-For`` to it alone; the
    last entry is the one the nearest proxy added (like DRF's ``NUM_PROXIES = 1``)."""
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if forwarded:
        last = forwarded.rsplit(",", maxsplit=1)[-1].strip()
        if last:
            return last
    return str(request.META.get("REMOTE_ADDR", ""))


def base_headers(request: HttpRequest | None) -> dict[str, str]:
    headers = {
        "Accept": "application/json",
        "Accept-Language": get_language() or settings.LANGUAGE_CODE,
    }
    request_id = current_request_id()
    if request_id != "-":
        headers[REQUEST_ID_HEADER] = request_id
    if request is not None:
        address = client_ip(request)
        if address:
            headers["X-Forwarded-For"] = address
    return headers
