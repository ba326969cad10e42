"""The whole stack started as `make up` starts it, checked through the real nginx.

Two shapes: the embedded defaults (SQLite, embedded broker) a bare machine gets, and
PostgreSQL + RabbitMQ configured through the environment.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate
from stack import PREFIXES, SERVICES, Stack, running_stack

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(
        not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()),
        reason="nginx is not installed (apt-get install -y nginx)",
    ),
]

POSTGRES = "postgres://postgres@127.0.0.1:5432"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture(scope="module", params=["embedded", "postgres-rabbitmq"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    extra: dict[str, str] = {}
    if request.param == "postgres-rabbitmq":
        extra = {f"{n.upper()}_DATABASE_URL": f"{POSTGRES}/servidesk_stack_{n}" for n in SERVICES}
        extra["BROKER_URL"] = RABBITMQ
    else:
        # The developer's own .env must not move this run off the embedded defaults.
        extra = {f"{n.upper()}_DATABASE_URL": "" for n in SERVICES}
        extra |= {"DATABASE_URL": "", "BROKER_URL": ""}
    with running_stack(tmp_path_factory.mktemp(request.param), extra) as running:
        yield running


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
    response = gateway.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Servidesk" in response.text


@pytest.mark.parametrize("prefix", [p for s, p in PREFIXES.items() if s != "web"])
def test_unknown_api_route_is_json_404(gateway: httpx.Client, prefix: str) -> None:
    response = gateway.get(f"{prefix}no-such-thing/")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"message", "extra"}


def test_request_id_is_set_by_nginx_and_kept_when_sent(gateway: httpx.Client) -> None:
    made = gateway.get("/api/tickets/health/live")
    assert len(made.headers["x-request-id"]) >= 16
    kept = gateway.get("/api/tickets/health/live", headers={"X-Request-ID": "trace-42"})
    assert kept.headers["x-request-id"] == "trace-42"
