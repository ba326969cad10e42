"""health/ready against real dependencies, and CORS limited to configured origins."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from servidesk_shared.health import worker_problems

pytestmark = pytest.mark.django_db

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


@override_settings(BROKER_URL=RABBITMQ)
def test_ready_with_the_real_database(api_client: APIClient) -> None:
    response = api_client.get("/api/test/health/ready")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok"}


def test_ready_stays_200_when_the_broker_is_unreachable(api_client: APIClient) -> None:
    """An API stays in rotation through a broker outage: its writes go to the outbox."""
    with override_settings(BROKER_URL=f"amqp://guest:guest@127.0.0.1:{closed_port()}//"):
        response = api_client.get("/api/test/health/ready")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "service": "shared", "checks": {"database": "ok"}}


@override_settings(BROKER_URL=RABBITMQ)
def test_workers_are_healthy_with_the_real_database_and_broker() -> None:
    assert worker_problems() == []


def test_workers_health_names_an_unreachable_broker() -> None:
    """What relays and consumers answer (deploy/docker/worker_health.py)."""
    with override_settings(BROKER_URL=f"amqp://guest:guest@127.0.0.1:{closed_port()}//"):
        problems = worker_problems()
    assert len(problems) == 1
    assert problems[0].startswith("broker unreachable")


def test_a_service_without_a_broker_checks_no_broker_for_its_workers() -> None:
    with override_settings(
        BROKER_URL=f"amqp://guest:guest@127.0.0.1:{closed_port()}//",
        SERVIDESK_WORKER_CHECKS=["servidesk_shared.health.check_database"],
    ):
        assert worker_problems() == []


def test_live_does_not_touch_dependencies(api_client: APIClient) -> None:
    with override_settings(BROKER_URL=f"amqp://guest:guest@127.0.0.1:{closed_port()}//"):
        response = api_client.get("/api/test/health/live")
    assert response.status_code == 200


@pytest.mark.parametrize("probe", ["live", "ready"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_probes_refuse_other_methods_in_the_error_shape(
    api_client: APIClient, probe: str, method: str
) -> None:
    response = getattr(api_client, method)(f"/api/test/health/{probe}")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    # Spanish first: the services' default language.
    assert response.json() == {"message": f'Método "{method.upper()}" no permitido.', "extra": {}}


def test_cors_allows_no_origin_by_default(api_client: APIClient) -> None:
    response = api_client.options(
        "/api/test/whoami/",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in {k.lower() for k in response.headers}


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
def test_cors_allows_only_configured_origins(api_client: APIClient) -> None:
    allowed = api_client.options(
        "/api/test/whoami/",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    refused = api_client.options(
        "/api/test/whoami/",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in refused.headers
