"""The whole stack started as `make up` starts it, checked through the real nginx.

Every test runs on both shapes (see conftest): the embedded defaults a bare machine gets
and PostgreSQL + RabbitMQ configured through the environment.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from openapi_spec_validator import validate
from stack import PREFIXES, SERVICES, Stack

pytestmark = pytest.mark.stack


@pytest.fixture
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_live_and_ready_through_nginx(gateway: httpx.Client, service: str) -> None:
    for probe in ("live", "ready"):
        response = gateway.get(f"{PREFIXES[service]}health/{probe}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ok"
        assert body["service"] == service


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_serves_a_valid_openapi_3_schema(gateway: httpx.Client, service: str) -> None:
    response = gateway.get(f"{PREFIXES[service]}schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    validate(schema)


@pytest.mark.parametrize("service", SERVICES)
def test_swagger_ui_and_its_assets_load(gateway: httpx.Client, service: str) -> None:
    page = gateway.get(f"{PREFIXES[service]}docs/")
    assert page.status_code == 200
    asset = f"{PREFIXES[service]}static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"
    assert asset in page.text
    assert gateway.get(asset).status_code == 200


def test_web_answers_at_the_root(gateway: httpx.Client) -> None:
    response = gateway.get("/", follow_redirects=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Servidesk" in response.text


@pytest.mark.parametrize("prefix", [p for s, p in PREFIXES.items() if s != "web"])
def test_unknown_api_route_is_json_404(gateway: httpx.Client, prefix: str) -> None:
    response = gateway.get(f"{prefix}no-such-thing/")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"message", "extra"}


@pytest.mark.parametrize(
    ("path", "authorization"),
    [
        ("/api/accounts/me/", "Bearer not-a-jwt"),
        ("/api/tickets/", "Bearer a.b.c"),
        ("/api/notifications/", "Basic dXNlcjpwYXNz"),
        ("/api/reports/summary/", "Bearer"),
    ],
)
def test_bad_authorization_is_401_in_the_common_shape(
    gateway: httpx.Client, path: str, authorization: str
) -> None:
    response = gateway.get(path, headers={"Authorization": authorization})
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert body["message"]


def test_request_id_is_set_by_nginx_and_kept_when_sent(gateway: httpx.Client) -> None:
    made = gateway.get("/api/tickets/health/live")
    assert len(made.headers["x-request-id"]) >= 16
    kept = gateway.get("/api/tickets/health/live", headers={"X-Request-ID": "trace-42"})
    assert kept.headers["x-request-id"] == "trace-42"
