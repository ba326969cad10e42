"""The nginx gateway config, run for real against small stand-in upstreams.

Each upstream is a tiny HTTP server in this process that answers with what it received
(path, headers, its own name, the client port nginx used), so routing, headers, request
ids, limits and nginx's own error bodies are checked without the services. The whole
stack through nginx is tests/test_stack_routes.py's job.

Needs nginx (``apt-get install -y nginx``); skips without it locally, fails under CI.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_deployment_files import SERVICES, nginx_test, render_nginx

PREFIX_OF = {name: prefix for name, (_, prefix) in SERVICES.items()}
ERROR_KEYS = {"message", "extra"}


class EchoHandler(BaseHTTPRequestHandler):
    """Answers every request with JSON describing it; a few paths misbehave on purpose."""

    protocol_version = "HTTP/1.1"  # keep-alive, so nginx's upstream pool can be observed
    # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms for
    # a delayed ACK.
    disable_nagle_algorithm = True
    service = "?"
    extra_headers: ClassVar[dict[str, str]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers = 200, {"Content-Type": "application/json"}
        if self.path.endswith("/upstream-503"):
            # A service's own 503 (health/ready): it must reach the client unchanged.
            status = 503
        if self.path.endswith("/upstream-429"):
            # A service's own throttle: its Retry-After says how long, not the gateway's.
            status = 429
            headers["Retry-After"] = "37"
        if self.path.endswith("/framed"):
            headers["X-Frame-Options"] = "SAMEORIGIN"
            headers["Content-Security-Policy"] = "default-src 'none'"
        if self.path.endswith("/own-hsts"):
            # A service's own HSTS: the TLS gateway's policy replaces it.
            headers["Strict-Transport-Security"] = "max-age=60"
        payload = json.dumps(
            {
                "service": self.service,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_bytes": len(body),
                "client_port": self.client_address[1],
                # Enough bytes for gzip to be worth it (gzip_min_length is 1 KiB).
                "padding": "servidesk " * 200,
            }
        ).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        # Services echo the request id; the gateway must not let a second copy through.
        self.send_header("X-Request-ID", self.headers.get("X-Request-ID", "upstream-made"))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815 (the stdlib's names)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Gateway:
    url: str
    access_log: Path
    error_log: Path
    # The TLS variant's plain-http listener (it only redirects) and what its certificate
    # verifies against; unset otherwise.
    http_url: str = ""
    tls_verify: ssl.SSLContext | None = None

    def access_lines(self) -> list[dict[str, Any]]:
        lines = self.access_log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def nginx_binary() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if path is None:
        message = "nginx is not installed (apt-get install -y nginx)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run this check")
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, str]]:
    servers = []
    addresses: dict[str, str] = {}
    for name in SERVICES:
        handler = type(f"{name.title()}Handler", (EchoHandler,), {"service": name})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        addresses[name] = f"127.0.0.1:{server.server_address[1]}"
    yield addresses
    for server in servers:
        server.shutdown()
        server.server_close()


@contextmanager
def running_gateway(out_dir: Path, upstreams: dict[str, str], **options: Any) -> Iterator[Gateway]:
    """The local variant; ``options`` are render_local_config's (rates, expose_admin)."""
    nginx = nginx_binary()
    port = free_port()
    config = render_nginx.render_local_config(
        out_dir, listen=f"127.0.0.1:{port}", upstreams=upstreams, **options
    )
    gateway = Gateway(f"http://127.0.0.1:{port}", out_dir / "access.log", out_dir / "error.log")
    with serving(nginx, config, gateway, [port]):
        yield gateway


@contextmanager
def serving(nginx: str, config: Path, gateway: Gateway, ports: list[int]) -> Iterator[None]:
    """Run nginx with ``config`` in the foreground until every one of ``ports`` listens."""
    out_dir = config.parent
    with open(gateway.access_log, "wb") as stdout, open(gateway.error_log, "wb") as stderr:
        # The command `make up` runs (Procfile), in the foreground.
        process = subprocess.Popen(
            [nginx, "-e", "stderr", "-p", str(out_dir), "-c", str(config)],
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 15
        for port in ports:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"nginx exited: {gateway.error_log.read_text()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"nginx did not listen: {gateway.error_log.read_text()}")
                    time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def gateway(
    upstreams: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gateway"), upstreams) as running:
        yield running


@pytest.fixture(scope="module")
def dead_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    # Every upstream on a port nothing listens on: what nginx does when a service is down.
    port = free_port()
    dead = dict.fromkeys(SERVICES, f"127.0.0.1:{port}")
    with running_gateway(tmp_path_factory.mktemp("dead-gateway"), dead) as running:
        yield running


@pytest.fixture
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        yield http


def assert_error_shape(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["extra"] == {"code": code}


# --- Routing ------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_each_prefix_reaches_its_service_with_the_path_unchanged(
    client: httpx.Client, service: str
) -> None:
    path = f"{PREFIX_OF[service]}some/deep/path/?q=a%20b&page=2"
    echoed = client.get(path).json()
    assert echoed["service"] == service
    assert echoed["path"] == path


def test_social_login_browser_flow_goes_to_accounts(client: httpx.Client) -> None:
    echoed = client.get("/accounts/google/login/callback/?code=x").json()
    assert echoed["service"] == "accounts"
    assert echoed["path"] == "/accounts/google/login/callback/?code=x"


def test_methods_and_bodies_pass_through(client: httpx.Client) -> None:
    echoed = client.patch("/api/tickets/42/", json={"title": "x" * 5000}).json()
    assert echoed["method"] == "PATCH"
    assert echoed["body_bytes"] > 5000


def test_unknown_api_prefix_is_a_json_404_from_the_gateway(client: httpx.Client) -> None:
    response = client.get("/api/nothing-here/")
    assert_error_shape(response, 404, "not_found")


def test_gateway_health_answers_without_the_services(dead_gateway: Gateway) -> None:
    response = httpx.get(f"{dead_gateway.url}/_gateway/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "gateway"}


# --- Headers ------------------------------------------------------------------------------


def test_request_id_is_made_when_missing_and_the_same_upstream_and_back(
    client: httpx.Client,
) -> None:
    response = client.get("/api/tickets/")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert int(request_id, 16) >= 0
    assert response.json()["headers"]["x-request-id"] == request_id
    # The service's echo is hidden: exactly one X-Request-ID on the answer.
    assert response.headers.get_list("x-request-id") == [request_id]


def test_a_plausible_client_request_id_is_kept(client: httpx.Client) -> None:
    response = client.get("/api/reports/summary/", headers={"X-Request-ID": "trace-42.a:b_c"})
    assert response.headers["x-request-id"] == "trace-42.a:b_c"
    assert response.json()["headers"]["x-request-id"] == "trace-42.a:b_c"


@pytest.mark.parametrize("sent", ["has space", 'quote"s', "x" * 129, "semi;colon"])
def test_an_implausible_client_request_id_is_replaced(client: httpx.Client, sent: str) -> None:
    # The same rule as the services' middleware, so gateway and service log one id.
    response = client.get("/api/reports/summary/", headers={"X-Request-ID": sent})
    replaced = response.headers["x-request-id"]
    assert replaced != sent
    assert len(replaced) == 32
    assert response.json()["headers"]["x-request-id"] == replaced


def test_forwarded_headers_describe_the_real_client(client: httpx.Client, gateway: Gateway) -> None:
    host = gateway.url.removeprefix("http://")
    echoed = client.get(
        "/api/tickets/", headers={"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6"}
    ).json()
    headers = echoed["headers"]
    # nginx is the edge: a client cannot pass itself off as another address.
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    # Port included, so the services build correct absolute URLs (pagination links).
    assert headers["x-forwarded-host"] == host
    assert headers["host"] == host


def test_security_headers_on_api_answers_once_each(client: httpx.Client) -> None:
    response = client.get("/api/notifications/")
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    assert response.headers.get_list("x-frame-options") == ["DENY"]
    assert response.headers.get_list("referrer-policy") == ["same-origin"]
    # No page CSP on JSON: Swagger UI under /api/*/docs/ brings its own needs.
    assert "content-security-policy" not in response.headers


def test_web_pages_get_a_content_security_policy(client: httpx.Client) -> None:
    response = client.get("/tickets/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"


def test_a_service_keeps_its_own_security_headers(client: httpx.Client) -> None:
    response = client.get("/tickets/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers.get_list("content-security-policy") == ["default-src 'none'"]


def test_json_is_compressed_for_clients_that_accept_it(client: httpx.Client) -> None:
    raw = client.get("/api/tickets/", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in raw.headers["vary"]
    assert json.loads(raw.text)["service"] == "tickets"  # httpx decoded it
    plain = client.get("/api/tickets/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


# --- Upstream connections -----------------------------------------------------------------


def test_upstream_connections_are_kept_alive(client: httpx.Client) -> None:
    ports = {client.get("/api/reports/keepalive").json()["client_port"] for _ in range(5)}
    # One worker, sequential requests: the pooled connection is reused.
    assert len(ports) == 1


# --- nginx's own errors -------------------------------------------------------------------


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "web"])
def test_a_down_api_answers_json_502(dead_gateway: Gateway, service: str) -> None:
    response = httpx.get(f"{dead_gateway.url}{PREFIX_OF[service]}anything/", timeout=10)
    assert_error_shape(response, 502, "bad_gateway")
    assert response.headers["retry-after"]
    assert len(response.headers["x-request-id"]) == 32


def test_a_down_web_answers_an_html_page(dead_gateway: Gateway) -> None:
    response = httpx.get(f"{dead_gateway.url}/", timeout=10)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "Servidesk" in response.text


def test_a_services_own_503_reaches_the_client_unchanged(client: httpx.Client) -> None:
    response = client.get("/api/tickets/health/upstream-503")
    assert response.status_code == 503
    # The service's body, not the gateway's: readiness reasons stay visible.
    assert response.json()["service"] == "tickets"
    assert response.headers["retry-after"] == "5"


TEN_MB, UPLOAD_MB = 10 * 1024 * 1024, 26 * 1024 * 1024


def test_an_oversized_body_is_refused_in_json(client: httpx.Client) -> None:
    response = client.post(
        "/api/tickets/7/status/",
        content=b"x" * (TEN_MB + 1),
        headers={"Content-Type": "application/json"},
    )
    assert_error_shape(response, 413, "request_too_large")


@pytest.mark.parametrize(
    "path", ["/api/tickets/", "/api/tickets/7/comments/", "/api/tickets/7/attachments/"]
)
def test_the_routes_that_take_files_take_25_mib_of_them(client: httpx.Client, path: str) -> None:
    # Over the general limit, within the upload routes' own: it reaches the service.
    accepted = client.post(
        path, content=b"x" * (TEN_MB + 1), headers={"Content-Type": "multipart/form-data"}
    )
    assert accepted.status_code == 200
    assert accepted.json()["service"] == "tickets"
    refused = client.post(
        path, content=b"x" * (UPLOAD_MB + 1), headers={"Content-Type": "multipart/form-data"}
    )
    assert_error_shape(refused, 413, "request_too_large")


def test_a_services_own_429_keeps_its_retry_after(client: httpx.Client) -> None:
    response = client.post("/api/tickets/upstream-429", json={})
    assert response.status_code == 429
    assert response.json()["service"] == "tickets"  # the service's body, not nginx's
    assert response.headers.get_list("retry-after") == ["37"]


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/profile/", TEN_MB),
        ("/accounts/google/login/", TEN_MB),
        # Web's forms that carry files: a new ticket, a reply on the ticket's page.
        ("/tickets/new/", UPLOAD_MB),
        ("/tickets/7/", UPLOAD_MB),
    ],
)
def test_an_oversized_form_to_a_browser_route_is_refused_with_a_page(
    client: httpx.Client, path: str, limit: int
) -> None:
    response = client.post(
        path,
        content=b"x" * (limit + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "Servidesk" in response.text
    assert "nginx" not in response.text


# --- Rate limits --------------------------------------------------------------------------


@pytest.fixture
def limited_gateway(upstreams: dict[str, str], tmp_path: Path) -> Iterator[Gateway]:
    # Its own nginx, so the zones start empty and other tests never meet the limits.
    with running_gateway(tmp_path / "nginx", upstreams) as running:
        yield running


@pytest.mark.parametrize(
    "path",
    [
        "/api/accounts/auth/token/",
        "/api/accounts/auth/register/",
        "/api/accounts/auth/password/reset/",
    ],
)
def test_sign_in_register_and_reset_are_strictly_limited(
    limited_gateway: Gateway, path: str
) -> None:
    with httpx.Client(base_url=limited_gateway.url, timeout=10) as http:
        statuses = [http.post(path, json={}).status_code for _ in range(15)]
        # The default strict zone: 10 r/m with a burst of 10, so the 12th in a row waits.
        assert statuses[:11] == [200] * 11
        assert set(statuses[11:]) == {429}
        response = http.post(path, json={})
    assert_error_shape(response, 429, "rate_limited")
    assert response.headers["retry-after"]


def test_web_sign_in_form_shares_the_strict_zone_with_the_api(limited_gateway: Gateway) -> None:
    # The attack: guess passwords through web's /login/ form, which had no limit at the
    # gateway while the API's token endpoint had the strict one.
    form = "/login/"
    with httpx.Client(base_url=limited_gateway.url, timeout=10) as http:
        # Showing the form is not an attempt: any number of GETs pass and count nothing.
        shown = {http.get(form).status_code for _ in range(15)}
        # Web's other pages are not in the zone either.
        others = {http.post("/register/", data={}).status_code for _ in range(15)}
        posts = [http.post(form, data={"username": "x"}).status_code for _ in range(6)]
        # One budget per address for both doors: the API's attempts use up the same one.
        api = [http.post("/api/accounts/auth/token/", json={}).status_code for _ in range(5)]
        refused_form = http.post(form, data={"username": "x"})
        refused_api = http.post("/api/accounts/auth/token/", json={})
    assert shown == {200}
    assert others == {200}
    assert posts + api == [200] * 11
    # A browser route: the refusal is a page, like web's other errors.
    assert refused_form.status_code == 429
    assert refused_form.headers["content-type"].startswith("text/html")
    assert "Servidesk" in refused_form.text
    assert refused_form.headers["retry-after"]
    assert_error_shape(refused_api, 429, "rate_limited")


def test_web_sign_in_form_posts_reach_web_unchanged(client: httpx.Client) -> None:
    echoed = client.post("/login/?next=/tickets/", data={"username": "ana"}).json()
    assert echoed["service"] == "web"
    assert echoed["path"] == "/login/?next=/tickets/"
    assert echoed["method"] == "POST"


ADMIN_PATHS = [
    "/api/accounts/admin/",
    "/api/accounts/admin",
    "/api/accounts/admin/login/?next=/api/accounts/admin/",
    "/api/accounts/admin/users/user/1/change/",
    "/api/accounts//admin/",  # nginx merges slashes before matching
    "/api/accounts/%61dmin/",  # and decodes before matching
    "/api/tickets/admin/",
]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_the_django_admin_is_not_served_by_a_public_gateway(
    upstreams: dict[str, str], tmp_path: Path, path: str
) -> None:
    with (
        running_gateway(tmp_path / "nginx", upstreams, expose_admin=False) as gateway,
        httpx.Client(base_url=gateway.url, timeout=10) as http,
    ):
        refused = http.get(path)
        login = http.post("/api/accounts/admin/login/", data={"username": "admin"})
        # Web's own administration pages and other accounts paths are untouched.
        web_admin = http.get("/admin/users/").json()
        other = http.get("/api/accounts/administrators/").json()
    assert_error_shape(refused, 404, "not_found")
    assert_error_shape(login, 404, "not_found")
    assert web_admin["service"] == "web"
    assert other["service"] == "accounts"


def test_the_local_gateway_serves_the_django_admin_for_development(client: httpx.Client) -> None:
    echoed = client.get("/api/accounts/admin/login/").json()
    assert echoed["service"] == "accounts"
    assert echoed["path"] == "/api/accounts/admin/login/"


def test_gateway_expose_admin_decides_when_rendering(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    upstreams = dict(render_nginx.LOCAL_UPSTREAMS)
    gate = "location ~ ^/api/[^/]+/admin(?:/|$)"
    monkeypatch.delenv("GATEWAY_EXPOSE_ADMIN", raising=False)
    assert gate not in render_nginx.render_local_config(tmp_path, upstreams=upstreams).read_text()
    assert gate in render_nginx.render_compose_config()
    monkeypatch.setenv("GATEWAY_EXPOSE_ADMIN", "false")
    assert gate in render_nginx.render_local_config(tmp_path, upstreams=upstreams).read_text()
    monkeypatch.setenv("GATEWAY_EXPOSE_ADMIN", "true")
    assert gate not in render_tls(tmp_path / "tls", upstreams, free_port(), free_port()).read_text()
    monkeypatch.setenv("GATEWAY_EXPOSE_ADMIN", "maybe")
    with pytest.raises(render_nginx.RenderError, match="GATEWAY_EXPOSE_ADMIN"):
        render_nginx.render_local_config(tmp_path, upstreams=upstreams)


def test_the_social_login_flow_is_refused_with_a_page(
    upstreams: dict[str, str], tmp_path: Path
) -> None:
    # /accounts/ is a browser route: its 429 is a page with Retry-After, like web's errors.
    with (
        running_gateway(tmp_path / "nginx", upstreams, api_rate="1r/m") as gateway,
        httpx.Client(base_url=gateway.url, timeout=10) as http,
    ):
        statuses = [http.get("/accounts/google/login/").status_code for _ in range(52)]
        refused = http.get("/accounts/google/login/")
    assert statuses[:51] == [200] * 51
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert "Servidesk" in refused.text
    assert "nginx" not in refused.text
    assert refused.headers["retry-after"]


def test_token_refresh_and_other_api_calls_use_the_loose_zone(limited_gateway: Gateway) -> None:
    with httpx.Client(base_url=limited_gateway.url, timeout=10) as http:
        # 40 in a row fit the loose zone's burst (50); 12 would already trip the strict one.
        refreshes = {http.post("/api/accounts/auth/token/refresh/").status_code for _ in range(20)}
        reads = {http.get("/api/tickets/").status_code for _ in range(20)}
    assert refreshes == {200}
    assert reads == {200}


def test_the_loose_zone_stops_a_runaway_client(upstreams: dict[str, str], tmp_path: Path) -> None:
    # At 1 r/m only the burst (50, routes.conf) is left, so the outcome does not depend
    # on how fast this machine sends: 51 pass, then the zone refuses.
    with (
        running_gateway(tmp_path / "nginx", upstreams, api_rate="1r/m") as gateway,
        httpx.Client(base_url=gateway.url, timeout=10) as http,
    ):
        statuses = [http.get("/api/notifications/unread-count/").status_code for _ in range(55)]
        refused = http.get("/api/tickets/")
    assert statuses[:51] == [200] * 51
    assert set(statuses[51:]) == {429}
    # One zone for the whole API: a client refused on one service is refused on all.
    assert_error_shape(refused, 429, "rate_limited")


def test_rates_can_be_relaxed_for_load_tests(upstreams: dict[str, str], tmp_path: Path) -> None:
    with (
        running_gateway(tmp_path / "nginx", upstreams, auth_rate="10000r/s") as gateway,
        httpx.Client(base_url=gateway.url, timeout=10) as http,
    ):
        statuses = {http.post("/api/accounts/auth/token/").status_code for _ in range(30)}
    assert statuses == {200}


# --- Access log ---------------------------------------------------------------------------


def test_access_log_is_json_with_request_id_and_upstream_time(
    client: httpx.Client, gateway: Gateway, upstreams: dict[str, str]
) -> None:
    client.get("/api/tickets/logged/", headers={"X-Request-ID": "log-check-1"})
    deadline = time.monotonic() + 30
    while True:
        entries = [e for e in gateway.access_lines() if e["request_id"] == "log-check-1"]
        if entries or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["service"] == "gateway"
    assert entry["uri"] == "/api/tickets/logged/"
    assert entry["status"] == 200
    assert entry["upstream"] == upstreams["tickets"]
    assert float(entry["upstream_response_time"]) >= 0
    assert isinstance(entry["request_time"], float | int)


# --- The TLS variant ----------------------------------------------------------------------

HSTS = "max-age=31536000; includeSubDomains"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "servidesk test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def render_tls(out_dir: Path, upstreams: dict[str, str], https: int, http: int) -> Path:
    cert, key = self_signed_certificate(out_dir / "tls")
    return render_nginx.render_tls_config(
        out_dir,
        certificate=cert,
        certificate_key=key,
        listen=f"127.0.0.1:{https}",
        http_listen=f"127.0.0.1:{http}",
        upstreams=upstreams,
    )


@contextmanager
def running_tls_gateway(out_dir: Path, upstreams: dict[str, str]) -> Iterator[Gateway]:
    nginx = nginx_binary()
    https, http = free_port(), free_port()
    config = render_tls(out_dir, upstreams, https, http)
    gateway = Gateway(
        f"https://127.0.0.1:{https}",
        out_dir / "access.log",
        out_dir / "error.log",
        http_url=f"http://127.0.0.1:{http}",
        # The self-signed certificate is its own trust anchor: clients verify it for real.
        tls_verify=ssl.create_default_context(cafile=out_dir / "tls" / "cert.pem"),
    )
    with serving(nginx, config, gateway, [https, http]):
        yield gateway


@pytest.fixture(scope="module")
def tls_gateway(
    upstreams: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    with running_tls_gateway(tmp_path_factory.mktemp("tls-gateway"), upstreams) as running:
        yield running


@pytest.fixture
def tls_client(tls_gateway: Gateway) -> Iterator[httpx.Client]:
    assert tls_gateway.tls_verify is not None
    with httpx.Client(base_url=tls_gateway.url, timeout=10, verify=tls_gateway.tls_verify) as http:
        yield http


def test_tls_config_passes_nginx_t(upstreams: dict[str, str], tmp_path: Path) -> None:
    config = render_tls(tmp_path / "nginx", upstreams, free_port(), free_port())
    result = nginx_test(nginx_binary(), config, config.parent)
    assert result.returncode == 0, result.stderr
    text = config.read_text()
    assert f'include "{render_nginx.ROUTES}";' in text  # the same routes as plain http
    assert f'add_header Strict-Transport-Security "{HSTS}" always;' in text


def test_tls_render_refuses_odd_input(tmp_path: Path) -> None:
    upstreams = dict(render_nginx.LOCAL_UPSTREAMS)
    with pytest.raises(render_nginx.RenderError, match="must differ"):
        render_nginx.render_tls_config(
            tmp_path, certificate="c", certificate_key="k", listen="8443", http_listen="8443",
            upstreams=upstreams,
        )  # fmt: skip
    with pytest.raises(render_nginx.RenderError, match="certificate"):
        render_nginx.render_tls_config(
            tmp_path, certificate='c";', certificate_key="k", upstreams=upstreams
        )


@pytest.mark.parametrize("service", SERVICES)
def test_tls_routes_each_prefix_with_hsts_and_forwarded_proto(
    tls_client: httpx.Client, service: str
) -> None:
    response = tls_client.get(f"{PREFIX_OF[service]}some/path/?q=1")
    assert response.status_code == 200
    assert response.headers.get_list("strict-transport-security") == [HSTS]
    echoed = response.json()
    assert echoed["service"] == service
    assert echoed["path"] == f"{PREFIX_OF[service]}some/path/?q=1"
    assert echoed["headers"]["x-forwarded-proto"] == "https"
    # routes.conf's other headers are all still there.
    assert echoed["headers"]["x-request-id"] == response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_tls_gateway_does_not_serve_the_django_admin(tls_client: httpx.Client) -> None:
    response = tls_client.get("/api/accounts/admin/login/")
    assert_error_shape(response, 404, "not_found")
    assert response.headers.get_list("strict-transport-security") == [HSTS]


def test_tls_hsts_on_the_gateways_own_errors(tls_client: httpx.Client) -> None:
    response = tls_client.get("/api/nothing-here/")
    assert_error_shape(response, 404, "not_found")
    assert response.headers.get_list("strict-transport-security") == [HSTS]
    too_large = tls_client.post(
        "/api/tickets/7/status/",
        content=b"x" * (TEN_MB + 1),
        headers={"Content-Type": "application/json"},
    )
    assert_error_shape(too_large, 413, "request_too_large")
    assert too_large.headers.get_list("strict-transport-security") == [HSTS]


def test_tls_hsts_on_a_services_own_error_and_replaces_its_copy(tls_client: httpx.Client) -> None:
    failing = tls_client.get("/api/tickets/health/upstream-503")
    assert failing.status_code == 503
    assert failing.headers.get_list("strict-transport-security") == [HSTS]
    own = tls_client.get("/api/tickets/own-hsts")
    assert own.headers.get_list("strict-transport-security") == [HSTS]


def test_tls_plain_http_redirects_to_https(tls_gateway: Gateway) -> None:
    https_host = tls_gateway.url.removeprefix("https://")
    assert tls_gateway.tls_verify is not None
    with httpx.Client(timeout=10, verify=tls_gateway.tls_verify) as http:
        response = http.post(f"{tls_gateway.http_url}/api/tickets/a/b/?x=1&y=2", content=b"{}")
        # 308, not 301: a POST stays a POST with its body.
        assert response.status_code == 308
        location = f"https://{https_host}/api/tickets/a/b/?x=1&y=2"
        assert response.headers["location"] == location
        followed = http.get(f"{tls_gateway.http_url}/tickets/", follow_redirects=True)
        assert followed.status_code == 200
        assert str(followed.url) == f"https://{https_host}/tickets/"
        assert followed.json()["service"] == "web"
        # The liveness probe needs no TLS.
        health = http.get(f"{tls_gateway.http_url}/_gateway/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "service": "gateway"}
