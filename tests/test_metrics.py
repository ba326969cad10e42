"""Prometheus metrics: each service's own port answers them, the gateway does not.

On both shapes (see conftest): a few requests to a service's own gunicorn, then its
``/<prefix>metrics`` must be valid Prometheus text with those requests counted by view
and status, its database queries counted and timed, and the domain gauges of that
service present and read (``servidesk_metrics_collector_up`` 1, the broker answering).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from stack import PREFIXES, ROOT, SERVICES, Stack, free_port

pytestmark = pytest.mark.stack

#: The gauges each service must show besides the request and database ones.
DOMAIN_METRICS = {
    "accounts": {"servidesk_outbox_pending_events", "servidesk_queue_messages_ready"},
    "tickets": {
        "servidesk_outbox_pending_events",
        "servidesk_outbox_oldest_pending_age_seconds",
        "servidesk_queue_messages_ready",
        "servidesk_queue_dead_letters",
        "servidesk_inbound_mail_backlog",
        "servidesk_sla_alerts",
    },
    "notifier": {
        "servidesk_queue_messages_ready",
        "servidesk_queue_dead_letters",
        "servidesk_notification_deliveries",
        "servidesk_webhook_deliveries",
    },
    "reports": {"servidesk_queue_messages_ready", "servidesk_queue_dead_letters"},
    # web consumes web.live (the live UI's feed); it publishes nothing, so its outbox
    # gauges stay 0.
    "web": {"servidesk_queue_messages_ready", "servidesk_queue_dead_letters"},
}
COLLECTORS = {
    "accounts": {"outbox", "broker"},
    "tickets": {"outbox", "broker", "tickets"},
    "notifier": {"outbox", "broker", "notifier"},
    "reports": {"outbox", "broker"},
    "web": {"outbox", "broker"},
}
QUEUES = {
    "accounts": "accounts.invites",
    "tickets": "tickets.users",
    "notifier": "notifier.events",
    "reports": "reports.events",
    "web": "web.live",
}


@pytest.fixture
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=10) as client:
        yield client


def scrape(stack: Stack, service: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The service's metrics as {sample name: [(labels, value)]}, checked to parse."""
    response = httpx.get(f"{stack.service_url(service)}{PREFIXES[service]}metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    # One family per name: Prometheus refuses a scrape that declares one twice.
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types)), sorted(t for t in types if types.count(t) > 1)
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_port_answers_request_database_and_domain_metrics(
    stack: Stack, service: str
) -> None:
    own = stack.service_url(service)
    for _ in range(3):
        assert httpx.get(f"{own}{PREFIXES[service]}health/ready", timeout=10).status_code == 200

    samples = scrape(stack, service)

    by_view = samples["django_http_responses_total_by_status_view_method_total"]
    ready = [
        value
        for labels, value in by_view
        if labels["view"] == "health-ready" and labels["status"] == "200"
    ]
    assert sum(ready) >= 3, by_view
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in samples
    # health/ready asks the database: its queries are counted and timed.
    assert sum(value for _, value in samples["django_db_execute_total"]) >= 3
    assert "django_db_query_duration_seconds_bucket" in samples

    missing = DOMAIN_METRICS[service] - samples.keys()
    assert not missing, missing
    up = {
        labels["collector"]: value
        for labels, value in samples.get("servidesk_metrics_collector_up", [])
    }
    assert set(up) == COLLECTORS[service]
    assert all(value == 1 for value in up.values()), up
    if service in QUEUES:
        assert samples["servidesk_broker_up"] == [({"service": service}, 1.0)]
        queues = {labels["queue"] for labels, _ in samples["servidesk_queue_messages_ready"]}
        assert queues == {QUEUES[service]}
    else:
        assert "servidesk_broker_up" not in samples


def test_the_outbox_gauges_follow_the_data(stack: Stack, gateway: httpx.Client) -> None:
    """A sign-up through the gateway writes user.registered to accounts' outbox, which its
    relay publishes: the gauges come back to no pending row (age 0), and the sign-up is
    counted on accounts' port with its status."""
    name = f"m{uuid.uuid4().hex[:10]}"
    registered = gateway.post(
        "/api/accounts/auth/register/",
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": "Una-clave-larga-42",
            "full_name": "Cliente de Métricas",
            "language": "es",
        },
    )
    assert registered.status_code == 201, registered.text

    deadline = time.monotonic() + 60
    samples = scrape(stack, "accounts")
    while samples["servidesk_outbox_pending_events"][0][1] and time.monotonic() < deadline:
        time.sleep(0.5)
        samples = scrape(stack, "accounts")
    assert samples["servidesk_outbox_pending_events"][0][1] == 0
    assert samples["servidesk_outbox_oldest_pending_age_seconds"][0][1] == 0
    created = [
        value
        for labels, value in samples["django_http_responses_total_by_status_view_method_total"]
        if labels["status"] == "201" and labels["method"] == "POST"
    ]
    assert sum(created) >= 1


@pytest.mark.parametrize("service", SERVICES)
def test_the_gateway_does_not_route_metrics(gateway: httpx.Client, service: str) -> None:
    response = gateway.get(f"{PREFIXES[service]}metrics")
    assert response.status_code == 404, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    assert set(response.json()) == {"message", "extra"}
    # Nor with a trailing slash (an API's catch-all or web's page 404, never the metrics).
    response = gateway.get(f"{PREFIXES[service]}metrics/")
    assert response.status_code == 404
    assert "django_http" not in response.text


def test_one_scrape_adds_up_every_gunicorn_worker(stack: Stack, tmp_path: Path) -> None:
    """reports again, on a gunicorn of its own with three workers (the stack runs one):
    requests spread over the workers, yet every scrape, whichever worker answers it,
    shows all of them (prometheus_client's multiprocess mode, scripts/gunicorn_local.py).
    A worker killed is replaced, its counts kept in the folder's archive."""
    port = free_port()
    env = {
        **stack.env,
        "DJANGO_SETTINGS_MODULE": "core.settings.local",  # as scripts/devstack.py runs it
        "WEB_CONCURRENCY": "3",
        "GUNICORN_THREADS": "1",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    folder = Path(stack.env["SERVIDESK_VAR_DIR"]) / "metrics" / f"reports-{port}"
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "core.wsgi",
            "--config",
            str(ROOT / "scripts" / "gunicorn_local.py"),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT / "services" / "reports",
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api/reports/"

    def live(_: int = 0) -> int:
        # A connection each, so the workers share them out.
        return httpx.get(f"{base}health/live", timeout=60).status_code

    def served() -> list[float]:
        response = httpx.get(f"{base}metrics", timeout=30)
        assert response.status_code == 200
        return [
            sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
            if sample.name == "django_http_responses_total_by_status_view_method_total"
            and sample.labels["view"] == "health-live"
        ]

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # Refused until gunicorn listens; then it waits for a worker (a timeout
                # here would leave a request behind that is counted later).
                if live() == 200:
                    break
            except httpx.ConnectError:
                pass
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "reports' gunicorn did not start"
            time.sleep(0.2)
        requests = 40
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(live, range(requests - 1))) == {200}
        for _ in range(6):
            assert served() == [requests]

        pids = sorted(int(f.stem.split("_")[1]) for f in folder.glob("counter_[0-9]*.db"))
        assert len(pids) == 3, pids
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (folder / f"counter_{pids[0]}.db").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (folder / "counter_archive.db").exists()
        assert not (folder / f"counter_{pids[0]}.db").exists()
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(live, range(10))) == {200}
        for _ in range(6):
            assert served() == [requests + 10]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


SCRAPE_IN_PROCESS = """
import django
django.setup()
from django.test import Client
response = Client(HTTP_HOST="localhost").get("/api/reports/metrics")
print(response.status_code)
print(response.content.decode())
"""


@pytest.mark.parametrize("away", ["broker", "database"])
def test_a_broker_or_database_away_leaves_the_scrape_standing(stack: Stack, away: str) -> None:
    """reports' settings with the broker (or its database) on a port nobody listens on:
    the scrape still answers 200, says which part could not be read, and keeps the rest."""
    nobody = free_port()
    env = {**stack.env, "DJANGO_SETTINGS_MODULE": "core.settings.local", "LOG_LEVEL": "ERROR"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if away == "broker":
        env["BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:{nobody}//"
    else:
        env["REPORTS_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{nobody}/nothing"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", SCRAPE_IN_PROCESS],
        cwd=ROOT / "services" / "reports",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    status, text = result.stdout.split("\n", 1)
    assert status == "200", result.stdout + result.stderr
    samples = {
        (sample.name, sample.labels.get("collector", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    if away == "broker":
        assert samples[("servidesk_broker_up", "")] == 0
        assert ("servidesk_queue_messages_ready", "") not in samples
        assert samples[("servidesk_outbox_pending_events", "")] >= 0  # the database answers
        # Time-bounded: the broker's silence costs seconds, not the scrape.
        assert time.monotonic() - started < 60
    else:
        assert samples[("servidesk_metrics_collector_up", "outbox")] == 0
        assert ("servidesk_outbox_pending_events", "") not in samples
        assert samples[("servidesk_broker_up", "")] == 1  # the broker answers
