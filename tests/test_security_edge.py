"""The edge of every service, as deployed: production settings under gunicorn, no nginx.

The five services run here with ``core.settings.production`` (DEBUG off, TLS expected
from the proxy, secrets from the environment) and the image's gunicorn config, on the
session's PostgreSQL stack databases reached through a TCP proxy this module owns (so the
database can be cut). A test-only URLconf adds two views that fail on purpose. Checked
for each service: CORS for configured origins only, the service's own write throttles,
bodies over its limit, and that no error answer (404, 405, 400, 401, 403, 413, 500, 503)
carries a secret, a traceback, SQL or a file path, in one shape.

Then, through nginx on the session stack: a browser session (web's cookie, or accounts'
Django admin cookie) never authenticates an API call, a 1 MB ticket description is
refused with nothing written, and the browser UI gets its Content-Security-Policy.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from stack import ROOT, SERVICES, Stack, free_port

sys.path.insert(0, str(ROOT / "shared"))
from servidesk_shared.keys import KeyPair, generate_keypair
from servidesk_testing import make_access_token
from servidesk_testing.proxy import TcpProxy

pytestmark = pytest.mark.stack

HOST = "help.example.com"
ORIGIN = "https://app.example.com"
FOREIGN_ORIGIN = "https://evil.example"
DB_PASSWORD = "edge-db-password-" + secrets.token_hex(8)  # trust auth ignores it; must never show
PREFIX = {
    "accounts": "/api/accounts/",
    "tickets": "/api/tickets/",
    "notifier": "/api/notifications/",
    "reports": "/api/reports/",
    "web": "/",
}
APIS = ("accounts", "tickets", "notifier", "reports")
# Written into a folder on PYTHONPATH: the service's own production settings and URLs,
# plus two views that fail on purpose (they exist only in this test).
EDGE_SETTINGS = """
from core.settings.production import *  # noqa: F403

ROOT_URLCONF = "edge_urls"
# The image collects (and compresses) static files at build time, for the manifest storage;
# minutes of CPU that say nothing about errors, so pages name their files plainly here.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
"""
EDGE_URLS = """
from django.conf import settings
from django.db import connection
from django.urls import path

from core import urls as service_urls

handler400 = service_urls.handler400
handler403 = service_urls.handler403
handler404 = service_urls.handler404
handler500 = service_urls.handler500


def fail(request):
    raise RuntimeError(f"deliberate failure, SECRET_KEY={settings.SECRET_KEY}")


def bad_sql(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT edge_secret_column FROM edge_no_such_table")


urlpatterns = [
    path(f"{settings.SERVICE_PREFIX}edge-test/fail/", fail),
    path(f"{settings.SERVICE_PREFIX}edge-test/bad-sql/", bad_sql),
    *service_urls.urlpatterns,
]
"""


@dataclass
class Production:
    """The five services under production settings, and what they were given."""

    urls: dict[str, str]
    log: Path
    keys: KeyPair
    secret_key: str
    database: TcpProxy  # in front of PostgreSQL
    user_ids: dict[str, int]

    def client(self, service: str) -> httpx.Client:
        # As nginx would pass it on: the public host, and https at the edge.
        return httpx.Client(
            base_url=self.urls[service],
            headers={"Host": HOST, "X-Forwarded-Proto": "https"},
            timeout=30,
        )

    def token(self, role: str = "client", user_id: int | None = None) -> dict[str, str]:
        """A bearer header signed with the key the services were given."""
        uid = user_id if user_id is not None else self.user_ids.get(role, 900_000)
        access = make_access_token(
            user_id=uid, role=role, username=f"edge{uid}", private_pem=self.keys.private_pem
        )
        return {"Authorization": f"Bearer {access}"}

    def secrets(self) -> list[str]:
        private_body = "".join(self.keys.private_pem.strip().splitlines()[1:-1])
        return [self.secret_key, DB_PASSWORD, private_body[:40], private_body[-40:]]


def demo_user_ids(stack: Stack) -> dict[str, int]:
    url = stack.env["ACCOUNTS_DATABASE_URL"]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT username, id FROM users_user WHERE username IN ('admin', 'cliente1')"
        ).fetchall()
    ids = dict(rows)
    return {"admin": ids["admin"], "client": ids["cliente1"]}


def wait_live(
    urls: dict[str, str], processes: dict[str, subprocess.Popen[bytes]], log: Path
) -> None:
    deadline = time.monotonic() + 120
    pending = set(urls)
    while pending:
        for name in sorted(pending):
            if processes[name].poll() is not None:
                pytest.fail(f"{name} exited:\n{log.read_text()[-3000:]}")
            try:
                response = httpx.get(
                    f"{urls[name]}{PREFIX[name]}health/live",
                    headers={"Host": HOST, "X-Forwarded-Proto": "https"},
                    timeout=5,
                )
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                pending.discard(name)
        if time.monotonic() > deadline:
            pytest.fail(f"not live after 120 s: {sorted(pending)}\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def production(pg_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    folder = tmp_path_factory.mktemp("edge-production")
    (folder / "edge_settings.py").write_text(EDGE_SETTINGS)
    (folder / "edge_urls.py").write_text(EDGE_URLS)
    keys = generate_keypair()
    secret_key = secrets.token_urlsafe(64)
    database = TcpProxy("127.0.0.1", 5432)
    database.restore()
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JWT_", "SECRET_KEY", "DJANGO_", "THROTTLE_"))
        and not k.endswith("_DATABASE_URL")
    }
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "edge_settings",
        "PYTHONPATH": os.pathsep.join([str(folder), base.get("PYTHONPATH", "")]),
        "SERVIDESK_ENV_FILE": os.devnull,
        "SERVIDESK_VAR_DIR": str(folder / "var"),
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": HOST,
        "JWT_PUBLIC_KEY": keys.public_pem,
        "CORS_ALLOWED_ORIGINS": ORIGIN,
        # The embedded broker under this fixture's var/: production refuses the local
        # RabbitMQ's example guest password, and these services run no relay or consumer.
        "BROKER_URL": "",
        "LOG_JSON": "false",
        # Low limits, so a handful of requests shows each throttle at work.
        "THROTTLE_WRITE_USER": "5/min",
        "THROTTLE_WRITE_ANON": "5/min",
        "THROTTLE_LOGIN_IP": "3/min",
        "THROTTLE_REFRESH_IP": "3/min",
        "THROTTLE_PASSWORD_RESET_IP": "3/hour",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        **{f"{n.upper()}_API_URL": urls[n] for n in APIS},
    }
    # These servers share the stack's databases, and so its database cache: the counts
    # the earlier tests' requests from this address left there would spend the low
    # budgets above before the throttle tests start.
    for name in SERVICES:
        with psycopg.connect(pg_stack.env[f"{name.upper()}_DATABASE_URL"]) as db:
            if db.execute("SELECT to_regclass('servidesk_cache')").fetchone() != (None,):
                db.execute("DELETE FROM servidesk_cache")
    log = folder / "services.log"
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with open(log, "wb") as out:
        for name in SERVICES:
            database_url = pg_stack.env[f"{name.upper()}_DATABASE_URL"]
            path = urlsplit(database_url).path
            service_env = {
                **env,
                "DATABASE_URL": f"postgres://postgres:{DB_PASSWORD}@127.0.0.1:{database.port}{path}",
                # Each server empties its metrics folder on start: one folder each, as
                # one container each would have.
                "PROMETHEUS_MULTIPROC_DIR": str(folder / f"metrics-{name}"),
            }
            if name == "accounts":
                service_env["JWT_PRIVATE_KEY"] = keys.private_pem
            processes[name] = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("gunicorn")),
                    "--config",
                    str(ROOT / "deploy" / "docker" / "gunicorn.conf.py"),
                    "--bind",
                    f"127.0.0.1:{ports[name]}",
                    "core.wsgi",
                ],
                cwd=ROOT / "services" / name,
                env=service_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    try:
        wait_live(urls, processes, log)
        yield Production(urls, log, keys, secret_key, database, demo_user_ids(pg_stack))
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        database.close()


# --- What no error answer may show ----------------------------------------------------------

LEAK_PATTERNS = [
    *(
        re.compile(p, re.I)
        for p in (
            r"traceback",
            r'File "',
            r"\w\.py\b",
            r"site-packages",
            r"/work/|/home/|/usr/|/opt/|/tmp/",
            r"edge_no_such_table|edge_secret_column",
            r"psycopg|OperationalError|ProgrammingError|RuntimeError|Exception\b",
            r"deliberate failure",
            r"SECRET_KEY|PRIVATE KEY",
            r"postgres://|127\.0\.0\.1:\d+",
        )
    ),
    # SQL as the database would see it (upper case: a page's <select> is not SQL).
    re.compile(r"\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bUPDATE\b.+\bSET\b"),
]


def assert_nothing_leaks(production: Production, response: httpx.Response) -> None:
    body = response.text
    for secret in production.secrets():
        assert secret not in body, f"a secret is in the {response.status_code} body"
    for pattern in LEAK_PATTERNS:
        assert not pattern.search(body), f"{pattern.pattern!r} in {response.status_code}: {body}"
    for name, value in response.headers.items():
        assert production.secret_key not in value, name


def assert_api_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """The APIs' one error shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["extra"], dict)
    if code is not None:
        assert body["extra"].get("code") == code, body
    # The request id leads from the answer to the service's log line.
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


# --- Error answers of each API ------------------------------------------------------------


@dataclass(frozen=True)
class ApiCase:
    """One API's endpoints for each kind of error (method, path under its prefix)."""

    needs_database: tuple[str, str, str]  # method, path, role
    forbidden_to_clients: tuple[str, str]
    wrong_method: tuple[str, str, str]  # method, path, role
    json_write: tuple[str, str] | None  # parses a JSON body; None: the API has no such write


CASES = {
    "accounts": ApiCase(("GET", "me/", "client"), ("GET", "users/"), ("PUT", "auth/token/", ""),
                        ("PATCH", "me/")),
    "tickets": ApiCase(("GET", "", "client"), ("POST", "categories/"), ("DELETE", "", "client"),
                       ("POST", "")),
    "notifier": ApiCase(("GET", "", "client"), ("GET", "deliveries/"),
                        ("DELETE", "unread-count/", "client"), None),
    "reports": ApiCase(("GET", "summary/", "admin"), ("GET", "summary/"),
                       ("POST", "summary/", "admin"), None),
}  # fmt: skip


def call(
    production: Production, service: str, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    with production.client(service) as http:
        return http.request(method, f"{PREFIX[service]}{path}", **kwargs)


@pytest.mark.parametrize("service", APIS)
def test_api_errors_have_one_shape_and_reveal_nothing(production: Production, service: str) -> None:
    case = CASES[service]
    answers: list[tuple[httpx.Response, int, str | None]] = []

    answers.append((call(production, service, "GET", "edge-test/no-such-route/"), 404, "not_found"))
    method, path, role = case.wrong_method
    headers = production.token(role) if role else {}
    answers.append((call(production, service, method, path, headers=headers), 405, None))
    # A host the service does not serve (a forged Host header).
    with httpx.Client(base_url=production.urls[service], timeout=30) as http:
        bad_host = http.get(
            f"{PREFIX[service]}health/live",
            headers={"Host": "evil.example", "X-Forwarded-Proto": "https"},
        )
    answers.append((bad_host, 400, "bad_request"))
    answers.append((call(production, service, "GET", case.needs_database[1]), 401, None))
    garbage = {"Authorization": "Bearer not.a.token"}
    answers.append(
        (call(production, service, "GET", case.needs_database[1], headers=garbage), 401, None)
    )
    method, path = case.forbidden_to_clients
    forbidden = call(production, service, method, path, headers=production.token("client"), json={})
    answers.append((forbidden, 403, None))
    answers.append((call(production, service, "GET", "edge-test/fail/"), 500, "server_error"))
    answers.append((call(production, service, "GET", "edge-test/bad-sql/"), 500, "server_error"))

    for response, status, code in answers:
        assert_api_error(response, status, code)
        assert_nothing_leaks(production, response)
    # What the answers leave out is in the log, under the answer's request id.
    failed_id = answers[-2][0].headers["x-request-id"]
    assert_logged(production, failed_id, "deliberate failure")


def assert_logged(production: Production, request_id: str, text: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        log = production.log.read_text(errors="replace")
        if request_id in log and text in log:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{request_id} / {text!r} not logged")
        time.sleep(0.2)


@pytest.mark.parametrize("service", [s for s in APIS if CASES[s].json_write])
def test_malformed_json_is_a_400_that_reveals_nothing(production: Production, service: str) -> None:
    method, path = CASES[service].json_write  # type: ignore[misc]
    response = call(
        production,
        service,
        method,
        path,
        headers={**production.token("client"), "Content-Type": "application/json"},
        content=b'{"title": "unterminated',
    )
    assert_api_error(response, 400, "parse_error")
    assert_nothing_leaks(production, response)


@pytest.mark.parametrize("service", APIS)
def test_a_body_over_the_limit_is_a_413_before_it_is_read(
    production: Production, service: str
) -> None:
    # To a real endpoint, signed in: refused before routing, authentication or parsing.
    _, path, role = CASES[service].needs_database
    response = call(
        production,
        service,
        "POST",
        path,
        headers={**production.token(role), "Content-Type": "application/json"},
        content=b"[" + b"1," * (1_400_000) + b"1]",  # about 2.8 MB, over 2.5 MB
    )
    assert_api_error(response, 413, "request_too_large")
    assert response.json()["extra"]["limit"] == 2_621_440
    assert_nothing_leaks(production, response)


@pytest.mark.parametrize("service", SERVICES)
def test_a_lost_database_is_a_503_that_reveals_nothing(
    production: Production, service: str
) -> None:
    production.database.cut()
    try:
        if service == "web":
            # A session cookie makes web read its session table.
            with production.client("web") as http:
                http.cookies.set("servidesk_session", "x" * 32)
                response = http.get("/tickets/")
        else:
            method, path, role = CASES[service].needs_database
            response = call(production, service, method, path, headers=production.token(role))
    finally:
        production.database.restore()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert_nothing_leaks(production, response)
    if service != "web":
        assert_api_error(response, 503, "service_unavailable")
    # Healed by itself once the database is back (connections are checked before reuse).
    deadline = time.monotonic() + 30
    while True:
        with production.client(service) as http:
            ready = http.get(f"{PREFIX[service]}health/ready")
        if ready.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert ready.status_code == 200, ready.text


# --- Web's error pages --------------------------------------------------------------------


def test_web_error_pages_are_pages_that_reveal_nothing(production: Production) -> None:
    with production.client("web") as http:
        not_found = http.get("/edge-test/no-such-page/")
        wrong_method = http.get("/logout/")
        forged = http.post("/login/", data={"username": "admin", "password": "x"})
        failing = http.get("/edge-test/fail/")
        sql = http.get("/edge-test/bad-sql/")
        # A browser on the site itself: its CSRF cookie (Secure, so set by hand over this
        # plain-http hop) and its Origin; Django reads the body only after checking those.
        secret = http.get("/login/").cookies["servidesk_csrftoken"]
        http.cookies.set("servidesk_csrftoken", secret)
        too_big = http.post(
            "/login/",
            data={"username": "a" * 2_700_000, "password": "x"},
            headers={"Origin": f"https://{HOST}"},
        )
    with httpx.Client(base_url=production.urls["web"], timeout=30) as http:
        bad_host = http.get(
            "/login/", headers={"Host": "evil.example", "X-Forwarded-Proto": "https"}
        )
    expected = [
        (not_found, 404), (wrong_method, 405), (forged, 403), (failing, 500), (sql, 500),
        (too_big, 400), (bad_host, 400),
    ]  # fmt: skip
    for response, status in expected:
        assert response.status_code == status, (status, response.text[:500])
        assert_nothing_leaks(production, response)
        if status != 405:  # Django's bare 405 has no body at all
            assert response.headers["content-type"].startswith("text/html")
            assert "Servidesk" in response.text


# --- CORS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_cors_answers_configured_origins_only(production: Production, service: str) -> None:
    path = f"{PREFIX[service]}health/live"
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}  # fmt: skip
    with production.client(service) as http:
        allowed_pre = http.options(path, headers={"Origin": ORIGIN, **preflight})
        allowed = http.get(path, headers={"Origin": ORIGIN})
        foreign_pre = http.options(path, headers={"Origin": FOREIGN_ORIGIN, **preflight})
        foreign = http.get(path, headers={"Origin": FOREIGN_ORIGIN})

    assert allowed_pre.status_code == 200
    assert allowed_pre.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in allowed_pre.headers["access-control-allow-methods"]
    assert "authorization" in allowed_pre.headers["access-control-allow-headers"]
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "X-Request-ID" in allowed.headers["access-control-expose-headers"]
    assert "origin" in allowed.headers["vary"].lower()
    # Tokens travel in a header, never in cookies: no credentials for any origin.
    for response in (allowed_pre, allowed):
        assert "access-control-allow-credentials" not in response.headers
    for response in (foreign_pre, foreign):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


# --- The services' own throttles (no nginx in front) --------------------------------------


def test_writes_are_throttled_per_user(production: Production) -> None:
    # tickets and notifier; reads stay free, and another user has a budget of its own.
    for service, path in (("tickets", ""), ("notifier", "read-all/")):
        user = production.token("client", user_id=800_000 + len(path))
        statuses = [call(production, service, "POST", path, headers=user, json={}).status_code
                    for _ in range(5)]  # fmt: skip
        refused = call(production, service, "POST", path, headers=user, json={})
        assert 429 not in statuses, statuses
        assert_api_error(refused, 429, "throttled")
        assert int(refused.headers["retry-after"]) > 0
        assert call(production, service, "GET", "", headers=user).status_code == 200
        other = production.token("client", user_id=810_000 + len(path))
        assert call(production, service, "POST", path, headers=other, json={}).status_code != 429


def test_anonymous_writes_are_throttled_per_address(production: Production) -> None:
    # notifier's Twilio callback is the one anonymous write outside accounts.
    address = {"X-Forwarded-For": "198.51.100.23"}
    statuses = [
        call(production, "notifier", "POST", "twilio/status/", headers=address, data={}).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [403] * 5  # unsigned: refused by the view
    assert statuses[5] == 429
    other = {"X-Forwarded-For": "198.51.100.24"}
    assert (
        call(production, "notifier", "POST", "twilio/status/", headers=other, data={}).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("path", "body", "allowed"),
    [
        ("auth/token/", {"username": "nobody", "password": "wrong-password"}, 3),
        ("auth/token/refresh/", {"refresh": "not-a-token"}, 3),
        ("auth/password/reset/", {"email": "nobody@example.com"}, 3),
    ],
)
def test_sign_in_refresh_and_reset_are_throttled_by_accounts_itself(
    production: Production, path: str, body: dict[str, str], allowed: int
) -> None:
    address = {"X-Forwarded-For": f"203.0.113.{len(path)}"}
    statuses = [
        call(production, "accounts", "POST", path, headers=address, json=body).status_code
        for _ in range(allowed)
    ]
    refused = call(production, "accounts", "POST", path, headers=address, json=body)
    assert 429 not in statuses, statuses
    assert_api_error(refused, 429, "throttled")
    assert int(refused.headers["retry-after"]) > 0
    assert re.search(r"\d", refused.json()["message"])  # says how long to wait


# --- Through nginx on the session stack ----------------------------------------------------


def sign_in_to_web(stack: Stack, http: httpx.Client, username: str, password: str) -> None:
    page = http.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    response = http.post(
        "/login/",
        data={"csrfmiddlewaretoken": token[1], "username": username, "password": password},
    )
    assert response.status_code == 302, response.text[:500]
    assert "servidesk_session" in http.cookies


def test_a_web_session_cookie_never_authenticates_an_api(pg_stack: Stack) -> None:
    reads = {"accounts": "me/", "tickets": "", "notifier": "", "reports": "summary/"}
    writes = {"accounts": ("PATCH", "me/"), "tickets": ("POST", ""),
              "notifier": ("POST", "read-all/"), "reports": ("GET", "export.csv")}  # fmt: skip
    with httpx.Client(base_url=pg_stack.base_url, timeout=30) as http:
        sign_in_to_web(pg_stack, http, "admin", "Mesa-de-ayuda-A1")
        assert http.get("/tickets/").status_code == 200  # the session works for pages
        csrf = {"X-CSRFToken": http.cookies.get("servidesk_csrftoken", "")}
        for service in APIS:
            read = http.get(f"{PREFIX[service]}{reads[service]}")
            assert_api_error(read, 401)
            method, path = writes[service]
            write = http.request(method, f"{PREFIX[service]}{path}", json={}, headers=csrf)
            assert_api_error(write, 401)


def test_accounts_admin_session_cookie_never_authenticates_the_api(pg_stack: Stack) -> None:
    username, password = f"edge{uuid.uuid4().hex[:6]}", secrets.token_urlsafe(16)
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput",
         "--username", username, "--email", f"{username}@example.com"],
        cwd=ROOT / "services" / "accounts",
        env={**pg_stack.env, "DJANGO_SUPERUSER_PASSWORD": password},
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with httpx.Client(base_url=pg_stack.base_url, timeout=30) as http:
        login = "/api/accounts/admin/login/"
        form = http.get(login)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None
        signed = http.post(
            login,
            data={"csrfmiddlewaretoken": token[1], "username": username, "password": password,
                  "next": "/api/accounts/admin/"},
        )  # fmt: skip
        assert signed.status_code == 302, signed.text[:300]
        assert http.get("/api/accounts/admin/").status_code == 200  # the admin session works
        for path in ("me/", "users/"):
            response = http.get(f"/api/accounts/{path}")
            assert response.status_code == 401, (path, response.text)


def test_a_1_mb_description_is_refused_and_nothing_is_written(pg_stack: Stack) -> None:
    signed = httpx.post(
        f"{pg_stack.service_url('accounts')}/api/accounts/auth/token/",
        json={"username": "cliente2", "password": "Mesa-de-ayuda-C2"},
        timeout=30,
    )
    assert signed.status_code == 200, signed.text
    title = f"edge-1mb-{uuid.uuid4().hex}"
    with httpx.Client(
        base_url=pg_stack.base_url,
        headers={"Authorization": f"Bearer {signed.json()['access']}"},
        timeout=60,
    ) as http:
        response = http.post("/api/tickets/", json={"title": title, "description": "x" * 1_048_576})
        assert response.status_code == 400, response.text[:300]
        body = response.json()
        assert set(body) == {"message", "extra"}
        assert "description" in body["extra"]["fields"]
        assert http.get("/api/tickets/", params={"q": title}).json()["results"] == []
    with psycopg.connect(pg_stack.env["TICKETS_DATABASE_URL"]) as conn:
        written = conn.execute("SELECT count(*) FROM tickets_ticket WHERE title = %s", [title])
        assert written.fetchone() == (0,)
        events = conn.execute(
            "SELECT count(*) FROM servidesk_outbox_outboxmessage WHERE envelope::text LIKE %s",
            [f"%{title}%"],
        )
        assert events.fetchone() == (0,)


def test_web_pages_carry_the_content_security_policy(pg_stack: Stack) -> None:
    response = httpx.get(f"{pg_stack.base_url}/login/", timeout=30)
    policy = response.headers["content-security-policy"]
    directives = dict(
        [*part.strip().split(" ", 1), ""][:2] for part in policy.split(";") if part.strip()
    )
    assert directives["default-src"] == "'self'"
    assert "script-src" not in directives  # falls back to 'self': no inline script runs
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers.get_list("content-security-policy") == [policy]
