"""The one way a webhook request leaves: the destination resolved and checked, the
connection pinned to the address checked, no redirects, a bounded wait and answer.

Outbound requests cannot reach the inside: every address the name resolves to must be
public (``is_global``, not multicast), else the request is refused; loopback, private
(10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16 with the metadata address
169.254.169.254, fe80::/10), shared (100.64/10), unspecified and reserved addresses are
all inside, and so is an IPv4 address written as IPv6 (``::ffff:127.0.0.1``).
``WEBHOOK_ALLOW_PRIVATE=true`` lifts this (tests and local use).

The request then connects to the very address that was checked (TLS still verifies the
certificate for the name, sent as SNI and ``Host``): a second resolution that answers
otherwise (DNS rebinding) is never made.

``Pools`` keeps one connection per destination alive between requests (the sender's).
The name is still resolved and checked before every request, and a kept connection is
used only while that check answers the very address it was opened to: when the name
resolves elsewhere, the old connection is closed and a new one opened to the new address,
checked.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.utils import translation
from django.utils.translation import gettext as _
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from notifications.webhooks.conf import WebhookSettings

#: Schemes an endpoint may use (``http`` only as ``url_problem`` allows it).
SCHEMES = ("https", "http")
MAX_URL_LENGTH = 2000


class RefusedError(Exception):
    """The destination is not one a webhook may reach."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_inside(address: str) -> bool:
    """Whether ``address`` (an IP address) is loopback, private, link-local, the metadata
    address or otherwise not a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def url_problem(url: str, conf: WebhookSettings) -> str | None:
    """What is wrong with ``url`` as an endpoint (in the active language), or None. The
    name is not resolved here (that happens before every request): only an address
    written in the URL is checked now."""
    return next(_url_problems(url, conf), None)


def _url_problems(url: str, conf: WebhookSettings) -> Iterator[str]:
    if len(url) > MAX_URL_LENGTH:
        yield _("The URL is longer than %(max)s characters.") % {"max": MAX_URL_LENGTH}
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        yield _("The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        yield _("Not a valid URL.")
        return
    if parts.scheme not in SCHEMES:
        yield _("The URL must start with https://.")
    if parts.scheme == "http" and not (conf.allow_http or conf.allow_private):
        yield _("The URL must use https:// (http:// needs WEBHOOK_ALLOW_HTTP=true).")
    host = parts.hostname
    if not host:
        yield _("The URL has no host.")
        return
    if parts.username is not None or parts.password is not None:
        yield _("The URL must not contain a user name or password.")
    if port == 0:
        yield _("Not a valid port.")
    if conf.allow_private:
        return
    if host == "localhost" or host.endswith(".localhost"):
        yield _("The URL points inside (%(host)s): refused.") % {"host": host}
    try:
        literal = str(ipaddress.ip_address(host))
    except ValueError:
        return
    if is_inside(literal):
        yield _("The URL points inside (%(host)s): refused.") % {"host": literal}


def resolve(host: str, port: int, conf: WebhookSettings) -> str:
    """The address to connect to for ``host``: every address it resolves to checked (one
    inside refuses the name), the first one taken."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise RefusedError(f"cannot resolve {host}: {exc}") from exc
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise RefusedError(f"cannot resolve {host}")
    if not conf.allow_private:
        for address in addresses:
            if is_inside(address):
                raise RefusedError(f"{host} resolves to {address}, an address inside (refused)")
    return addresses[0]


@functools.lru_cache(maxsize=4)
def tls_context(cafile: str) -> ssl.SSLContext:
    """The default client context trusting ``cafile``, made once per bundle: loading the
    bundle is most of an HTTPS request's CPU, and one context serves every thread."""
    return ssl.create_default_context(cafile=cafile)


@dataclass(frozen=True)
class Answer:
    """What came of one request: the status (None when there was no answer), how long it
    took, the first bytes of the answer, and what went wrong."""

    status: int | None
    duration_ms: int
    body: bytes = b""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


#: Where a pool goes: scheme, name, port and CA bundle.
Destination = tuple[str, str, int, str]


class Pools:
    """Kept-alive connections, one pool per destination (at most ``size``, the least
    recently used closed first), each tied to the checked address it connects to."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._pools: OrderedDict[Destination, tuple[str, urllib3.HTTPConnectionPool]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, destination: Destination, address: str) -> urllib3.HTTPConnectionPool:
        """The pool of ``destination`` connecting to ``address`` (checked just now by the
        caller): the kept one if it connects there, else a new one (the old one closed)."""
        with self._lock:
            kept = self._pools.pop(destination, None)
            if kept is not None and kept[0] == address:
                self._pools[destination] = kept
                return kept[1]
            stale = [kept[1]] if kept is not None else []
            pool = _new_pool(destination, address)
            self._pools[destination] = (address, pool)
            while len(self._pools) > self.size:
                stale.append(self._pools.popitem(last=False)[1][1])
        for old in stale:
            old.close()
        return pool

    def close(self) -> None:
        with self._lock:
            pools = [pool for _, pool in self._pools.values()]
            self._pools.clear()
        for pool in pools:
            pool.close()


def _new_pool(destination: Destination, address: str) -> urllib3.HTTPConnectionPool:
    """One connection at most, to ``address`` itself (never the name: no second lookup),
    nothing retried."""
    scheme, host, port, cafile = destination
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            port,
            retries=False,
            maxsize=1,
            ssl_context=tls_context(cafile),
            server_hostname=host,
            assert_hostname=host,
        )
    return urllib3.HTTPConnectionPool(address, port, retries=False, maxsize=1)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    conf: WebhookSettings,
    *,
    pools: Pools | None = None,
) -> Answer:
    """``POST body`` to ``url``; never raises for the endpoint's faults (see ``Answer``).

    With ``pools``, the connection is kept for the next request to the same destination
    (while its name resolves to the same address); without, it is closed."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    with translation.override("en"):  # the delivery log speaks English, as its other errors
        problem = url_problem(url, conf)
    if problem:
        return Answer(None, took(), error=f"refused: {problem}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = resolve(host, port, conf)
    except RefusedError as exc:
        return Answer(None, took(), error=exc.reason)
    named = f"[{host}]" if ":" in host else host
    default_port = port == (443 if parts.scheme == "https" else 80)
    sent_headers = {
        **headers,
        "Host": named if default_port else f"{named}:{port}",
        "Content-Type": "application/json",
        "User-Agent": "Servidesk-Webhooks/1",
    }
    cafile = certifi.where() if parts.scheme == "https" else ""
    destination = (parts.scheme, host, port, cafile)
    pool = pools.get(destination, address) if pools else _new_pool(destination, address)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = started + conf.timeout
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers=sent_headers,
            redirect=False,
            retries=False,
            # ``total`` bounds connecting and waiting for the answer together; the
            # body's read is bounded by ``deadline`` below.
            timeout=urllib3.Timeout(total=conf.timeout),
            preload_content=False,
            assert_same_host=False,
        )
        complete = False
        try:
            read = bytearray()
            while len(read) < conf.max_response_bytes and time.monotonic() < deadline:
                chunk = response.read(min(8192, conf.max_response_bytes - len(read)))
                if not chunk:
                    complete = True
                    break
                read += chunk
        finally:
            if not complete:  # the rest of the answer is not read: the connection goes
                response.close()
            response.release_conn()
        return Answer(response.status, took(), bytes(read))
    except NewConnectionError as exc:  # a subclass of urllib3's TimeoutError, yet no timeout
        return Answer(None, took(), error=f"connection error: {exc}"[:500])
    except TimeoutError:
        return Answer(None, took(), error=f"no answer within {conf.timeout:g} s")
    except (HTTPError, OSError) as exc:
        return Answer(None, took(), error=f"connection error: {type(exc).__name__}: {exc}"[:500])
    finally:
        if pools is None:
            pool.close()
