"""Webhook requests against a real HTTP server on loopback: what arrives and how it is
signed, retries with the same delivery id, the address guard, redirects, the answer's cap,
timeouts, kept-alive connections, a slow endpoint that does not delay another one, and
what one delivery costs in statements."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from notifications.models import Webhook, WebhookDelivery
from notifications.webhooks import outbound, services
from notifications.webhooks.conf import WebhookSettings, webhook_settings
from notifications.webhooks.sender import WebhookSender
from pytest_django.fixtures import Settings as SettingsWrapper

from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import TicketCreated
from tests.factories import TicketSnapshotFactory
from tests.fakes import wait_until
from tests.test_webhooks import documented_verifier, events_about, published
from tests.webhook_server import TlsWebhookServer, WebhookServer, tls_files

#: The CA bundle requests verify against (before a test points it at its own CA).
certifi_default = outbound.certifi.where()

pytestmark = pytest.mark.django_db(transaction=True)  # the sender's threads see commits only


@pytest.fixture(autouse=True)
def allow_private(settings: SettingsWrapper) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback


def hook(url: str, events: list[str] | None = None) -> Webhook:
    return services.webhook_create(url=url, events=events or ["*"], active=True, created_by="3")


def created(ticket_id: int = 42) -> TicketCreated:
    return TicketCreated(ticket=TicketSnapshotFactory(id=ticket_id), actor_id=1)


@pytest.fixture
def sender() -> Iterator[WebhookSender]:
    made = WebhookSender(threads=4)
    yield made
    made.stop()


def test_a_delivery_arrives_signed_as_documented(
    webhook_server: WebhookServer,
    deliver: Callable[..., Event[Any]],
    sender: WebhookSender,
) -> None:
    endpoint = hook(webhook_server.url("/hook?source=servidesk"))
    event = deliver(created())
    sender.drain()

    (request,) = webhook_server.received
    assert request.path == "/hook?source=servidesk"
    row = WebhookDelivery.objects.get()
    assert request.headers["X-Servidesk-Event"] == "ticket.created"
    assert request.headers["X-Servidesk-Delivery"] == str(row.delivery_id)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Host"] == f"127.0.0.1:{webhook_server.port}"
    verify = documented_verifier()
    assert verify(endpoint.secret, request.body, request.headers["X-Servidesk-Signature"])
    body = msgspec.json.decode(request.body)
    assert body["id"] == str(event.id)
    assert body["type"] == "ticket.created"
    assert body["data"] == published(event)
    assert row.status == "delivered"
    assert row.attempts == 1
    assert row.last_status_code == 200
    assert row.last_duration_ms is not None
    assert row.delivered_at is not None


def test_a_retry_carries_the_same_delivery_id_and_a_rotated_secret_signs_it(
    webhook_server: WebhookServer, deliver: Callable[..., Event[Any]]
) -> None:
    webhook_server.answer("/flaky", statuses=[500, 200])
    endpoint = hook(webhook_server.url("/flaky"))
    deliver(created())
    now = [timezone.now() + timedelta(seconds=1)]
    sender = WebhookSender(threads=2, clock=lambda: now[0])
    try:
        sender.drain()
        row = WebhookDelivery.objects.get()
        assert (row.status, row.attempts, row.last_status_code) == ("queued", 1, 500)
        assert len(webhook_server.received) == 1
        sender.drain()  # not due yet: nothing sent
        assert len(webhook_server.received) == 1
        rotated = services.webhook_rotate_secret(endpoint).secret
        now[0] = row.next_attempt_at
        sender.drain()
    finally:
        sender.stop()
    first, second = webhook_server.received
    assert first.headers["X-Servidesk-Delivery"] == second.headers["X-Servidesk-Delivery"]
    assert first.body == second.body
    verify = documented_verifier()
    assert verify(rotated, second.body, second.headers["X-Servidesk-Signature"])
    assert not verify(rotated, first.body, first.headers["X-Servidesk-Signature"])
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 2, 200)


def test_redeliver_sends_the_event_again_with_a_new_delivery_id(
    webhook_server: WebhookServer, deliver: Callable[..., Event[Any]], sender: WebhookSender
) -> None:
    hook(webhook_server.url())
    deliver(created())
    sender.drain()
    services.delivery_redeliver(WebhookDelivery.objects.get())
    sender.drain()
    first, second = webhook_server.received
    assert first.body == second.body
    assert first.headers["X-Servidesk-Delivery"] != second.headers["X-Servidesk-Delivery"]
    assert WebhookDelivery.objects.filter(status="delivered").count() == 2


def test_per_ticket_order_through_the_sender(
    webhook_server: WebhookServer, deliver: Callable[..., Event[Any]], sender: WebhookSender
) -> None:
    hook(webhook_server.url())
    events = []
    for _ in range(5):
        events.append(deliver(created(7)))
    sender.drain()
    assert [msgspec.json.decode(r.body)["id"] for r in webhook_server.received] == [
        str(e.id) for e in events
    ]


# --- the address guard -------------------------------------------------------------------


def strict() -> WebhookSettings:
    return WebhookSettings(**{**webhook_settings().__dict__, "allow_private": False})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "https://127.0.0.1:{port}/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]:{port}/hook",
        "https://localhost:{port}/hook",
    ],
)
def test_inside_destinations_are_refused(webhook_server: WebhookServer, url: str) -> None:
    answer = outbound.post(url.format(port=webhook_server.port), b"{}", {}, strict())
    assert answer.status is None
    assert "refused" in answer.error
    assert webhook_server.received == []


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected_to(
    webhook_server: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a second lookup would answer otherwise; there is none."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        if host == "hooks.example.test":
            target = "127.0.0.1" if len(lookups) == 1 else "10.9.9.9"
            return real(target, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://hooks.example.test:{webhook_server.port}/named"
    answer = outbound.post(url, b"{}", {}, webhook_settings())
    assert answer.status == 200
    assert lookups.count("hooks.example.test") == 1
    assert set(lookups) <= {"hooks.example.test", "127.0.0.1"}  # then the address itself
    (request,) = webhook_server.received
    assert request.headers["Host"] == f"hooks.example.test:{webhook_server.port}"

    # and without WEBHOOK_ALLOW_PRIVATE the same name is refused before any connection
    lookups.clear()
    refused = outbound.post(url.replace("http:", "https:"), b"{}", {}, strict())
    assert "resolves to 127.0.0.1" in refused.error
    assert len(webhook_server.received) == 1


def test_https_goes_to_the_checked_address_and_verifies_the_names_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TLS to the pinned address: SNI and the certificate are the name's; another name's
    certificate (or an unknown CA) is a connection error, never a success."""
    ca, cert, key = tls_files(tmp_path, "hooks.example.test")
    real = socket.getaddrinfo
    lookups: list[str] = []

    def local(host: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        if host in {"hooks.example.test", "other.example.test"}:
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local)
    monkeypatch.setattr(outbound.certifi, "where", lambda: str(ca))
    with TlsWebhookServer(cert, key) as server:
        port = server.port
        answer = outbound.post(
            f"https://hooks.example.test:{port}/tls", b"{}", {}, webhook_settings()
        )
        assert answer.status == 200, answer.error
        (request,) = server.received
        assert request.headers["Host"] == f"hooks.example.test:{port}"
        assert lookups.count("hooks.example.test") == 1

        wrong = outbound.post(
            f"https://other.example.test:{port}/tls", b"{}", {}, webhook_settings()
        )
        assert wrong.status is None
        assert wrong.error.startswith("connection error")
        monkeypatch.setattr(outbound.certifi, "where", lambda: certifi_default)
        untrusted = outbound.post(
            f"https://hooks.example.test:{port}/tls", b"{}", {}, webhook_settings()
        )
        assert untrusted.status is None
        assert len(server.received) == 1


def test_redirects_are_not_followed(webhook_server: WebhookServer) -> None:
    webhook_server.answer("/moved", statuses=[302], location=webhook_server.url("/target"))
    answer = outbound.post(webhook_server.url("/moved"), b"{}", {}, webhook_settings())
    assert answer.status == 302
    assert not answer.ok
    assert [r.path for r in webhook_server.received] == ["/moved"]


def test_the_answer_read_is_capped(webhook_server: WebhookServer) -> None:
    webhook_server.answer("/big", body=b"x" * 1_000_000)
    conf = WebhookSettings(**{**webhook_settings().__dict__, "max_response_bytes": 1000})
    answer = outbound.post(webhook_server.url("/big"), b"{}", {}, conf)
    assert answer.status == 200
    assert len(answer.body) == 1000


def test_a_timeout_is_a_failure(webhook_server: WebhookServer) -> None:
    webhook_server.answer("/slow", delay=2.0)
    conf = WebhookSettings(**{**webhook_settings().__dict__, "timeout": 0.3})
    started = time.monotonic()
    answer = outbound.post(webhook_server.url("/slow"), b"{}", {}, conf)
    assert time.monotonic() - started < 1.5
    assert answer.status is None
    assert answer.error.startswith("no answer within")


def test_a_connection_error_is_a_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    answer = outbound.post(f"http://127.0.0.1:{port}/", b"{}", {}, webhook_settings())
    assert answer.status is None
    assert answer.error.startswith("connection error")


# --- kept-alive connections --------------------------------------------------------------


class KeepAliveServer:
    """An HTTP/1.1 server on ``host`` that keeps connections open and records, per request,
    the client's port (one port per connection)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.ports: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.ports.append(self.client_address[1])
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_connection_is_kept_alive_only_to_the_address_checked_for_each_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One connection for a run of requests; the name is still checked before each one,
    and when it resolves elsewhere the kept connection is not used: a new one goes to the
    new address (checked), the old one is closed."""
    first, second = KeepAliveServer("127.0.0.1"), KeepAliveServer("127.0.0.2")
    real = socket.getaddrinfo
    lookups: list[str] = []
    target = ["127.0.0.1"]

    def moving(host: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        return real(target[0] if host == "hooks.example.test" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", moving)
    pools = outbound.Pools()
    try:
        url = f"http://hooks.example.test:{first.port}/kept"
        for _ in range(3):
            answer = outbound.post(url, b"{}", {}, webhook_settings(), pools=pools)
            assert answer.status == 204, answer.error
        assert len(first.ports) == 3
        assert len(set(first.ports)) == 1  # one connection
        assert lookups.count("hooks.example.test") == 3  # checked before every request

        target[0] = "127.0.0.2"  # the name moves: the kept connection must not be used
        url = f"http://hooks.example.test:{second.port}/kept"
        answer = outbound.post(url, b"{}", {}, webhook_settings(), pools=pools)
        assert answer.status == 204, answer.error
        assert len(first.ports) == 3
        assert len(second.ports) == 1
        outside_only = WebhookSettings(**{**strict().__dict__, "allow_http": True})
        refused = outbound.post(url, b"{}", {}, outside_only, pools=pools)
        assert "resolves to 127.0.0.2" in refused.error  # a kept connection is no pass
        assert len(second.ports) == 1
    finally:
        pools.close()
        first.close()
        second.close()


# --- what a delivery costs --------------------------------------------------------------


def test_a_run_of_successes_costs_three_statements_each_in_per_ticket_order(
    deliver: Callable[..., Event[Any]],
) -> None:
    """After a success the pool thread claims the endpoint's next head in the outcome's
    transaction (the endpoint's outcome, the delivery's, the next claim), under the lease
    it holds; per-ticket order holds across the run."""
    endpoint = hook("https://hooks.example.com/")
    lines = {7: events_about(7, 5), 8: events_about(8, 5)}
    for first, second in zip(lines[7], lines[8], strict=True):
        deliver(first.data, event=first)
        deliver(second.data, event=second)
    posted: list[str] = []

    def post(url: str, body: bytes, headers: dict[str, str], conf: WebhookSettings) -> Any:
        posted.append(msgspec.json.decode(body)["id"])
        return outbound.Answer(204, 1)

    sender = WebhookSender(threads=1, post=post)
    sender.CHAIN_SECONDS = 60.0  # however loaded the machine, one run
    try:
        with CaptureQueriesContext(connection) as claiming:
            (claimed,) = services.claim_due(now=sender.clock(), limit=5)
        with CaptureQueriesContext(connection) as sending:
            sender.deliver(claimed)
    finally:
        sender.stop()

    def statements(captured: CaptureQueriesContext) -> int:
        return sum(q["sql"] not in {"BEGIN", "COMMIT"} for q in captured.captured_queries)

    assert statements(claiming) == 2  # the endpoint leased, its head claimed
    # 9 times (endpoint, delivery, next claim) + the last: no next, the lease ended, NOTIFY
    assert statements(sending) == 9 * 3 + 5
    assert WebhookDelivery.objects.filter(status="delivered").count() == 10
    for events in lines.values():
        ids = [str(event.id) for event in events]
        assert [event_id for event_id in posted if event_id in ids] == ids
    endpoint.refresh_from_db()
    assert endpoint.leased_until is None


def test_a_run_ends_at_a_failure_and_when_the_endpoint_is_switched_off(
    deliver: Callable[..., Event[Any]],
) -> None:
    endpoint = hook("https://hooks.example.com/")
    for event in events_about(7, 1) + events_about(8, 1) + events_about(9, 1):
        deliver(event.data, event=event)
    answers = [outbound.Answer(503, 1), outbound.Answer(204, 1)]
    posted: list[str] = []

    def post(url: str, body: bytes, headers: dict[str, str], conf: WebhookSettings) -> Any:
        posted.append(headers["X-Servidesk-Delivery"])
        if len(posted) == 2:  # an admin switches it off during the second request
            services.webhook_update(Webhook.objects.get(pk=endpoint.pk), active=False)
        return answers[0] if len(posted) == 1 else answers[1]

    sender = WebhookSender(threads=1, post=post)
    try:
        (claimed,) = services.claim_due(now=sender.clock(), limit=5)
        assert sender.deliver(claimed) == "queued"  # a failure: no next one
        assert len(posted) == 1
        (claimed,) = services.claim_due(now=sender.clock(), limit=5)
        assert sender.deliver(claimed) == "delivered"
        assert len(posted) == 2  # switched off meanwhile: the run stops there
    finally:
        sender.stop()
    endpoint.refresh_from_db()
    assert endpoint.leased_until is None
    assert WebhookDelivery.objects.filter(status="queued").count() == 2


def test_a_run_is_bounded_in_time_so_other_endpoints_get_a_thread(
    deliver: Callable[..., Event[Any]],
) -> None:
    endpoint = hook("https://hooks.example.com/")
    for event in events_about(7, 3):
        deliver(event.data, event=event)
    sender = WebhookSender(threads=1, post=lambda *args: outbound.Answer(204, 1))
    sender.CHAIN_SECONDS = 0.0
    try:
        (claimed,) = services.claim_due(now=sender.clock(), limit=5)
        assert sender.deliver(claimed) == "delivered"
    finally:
        sender.stop()
    assert WebhookDelivery.objects.filter(status="queued").count() == 2  # back to the loop
    endpoint.refresh_from_db()
    assert endpoint.leased_until is None


# --- isolation ---------------------------------------------------------------------------


def test_a_slow_endpoint_does_not_delay_another(
    webhook_server: WebhookServer, deliver: Callable[..., Event[Any]], settings: SettingsWrapper
) -> None:
    settings.WEBHOOK_TIMEOUT = 5.0
    webhook_server.answer("/slow", delay=4.0)
    hook(webhook_server.url("/slow"))
    hook(webhook_server.url("/fast"))
    sender = WebhookSender(threads=4)
    thread = threading.Thread(target=sender.run, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        deliver(created(1))
        deliver(created(2))  # a second one for each: the slow one holds only its endpoint
        assert wait_until(lambda: len(webhook_server.at("/fast")) == 2, timeout=3.0)
        fast_done = time.monotonic() - started
        assert fast_done < 3.0
        assert len(webhook_server.at("/slow")) == 1  # still busy with its first request
        assert wait_until(lambda: len(webhook_server.at("/slow")) == 2, timeout=10)
    finally:
        sender.stop()
        thread.join(15)
    assert WebhookDelivery.objects.filter(status="delivered").count() == 4
    assert not thread.is_alive()


def test_the_sender_does_not_spin_on_deliveries_waiting_behind_their_ticket(
    deliver: Callable[..., Event[Any]],
) -> None:
    hook("https://hooks.example.com/")
    first = deliver(created(7))
    deliver(created(7))
    now = timezone.now() + timedelta(seconds=1)
    (claimed,) = services.claim_due(now=now, limit=5)
    assert claimed.event_id == first.id
    services.delivery_record(claimed, outbound.Answer(500, 5), now=now)
    sender = WebhookSender(threads=1, clock=lambda: now)
    try:
        # the second one is due but waits for the first's retry: sleep until that retry
        assert sender.run_once() == 0
        assert sender.idle_timeout(poll=30.0) > 5.0
    finally:
        sender.stop()


def test_an_endpoint_with_every_line_waiting_is_left_alone_for_a_poll(
    deliver: Callable[..., Event[Any]],
) -> None:
    """A failing endpoint's lines (deliveries behind a retry) are not scanned again on
    each claim made for other endpoints; a new line of it goes out after a poll."""
    failing = hook("https://hooks.example.com/")
    first = deliver(created(7))
    deliver(created(7))
    start = timezone.now() + timedelta(seconds=1)
    (claimed,) = services.claim_due(now=start, limit=5)
    assert claimed.event_id == first.id
    services.delivery_record(claimed, outbound.Answer(500, 5), now=start)
    clock = [start]
    sender = WebhookSender(
        threads=2, clock=lambda: clock[0], post=lambda *a: outbound.Answer(204, 1)
    )
    try:
        assert sender.run_once() == 0
        assert set(sender.stalled) == {failing.pk}
        deliver(created(8))  # a new ticket: its line may go at once, but not before a poll
        clock[0] = start + timedelta(seconds=0.5)
        assert sender.run_once() == 0
        clock[0] = start + timedelta(seconds=sender.POLL + 0.1)
        assert sender.run_once() == 1
        sender.wait_idle(timeout=10)
    finally:
        sender.stop()
    assert WebhookDelivery.objects.get(webhook=failing, aggregate_id="8").status == "delivered"


def test_send_webhooks_once(
    webhook_server: WebhookServer, deliver: Callable[..., Event[Any]]
) -> None:
    hook(webhook_server.url("/a"))
    hook(webhook_server.url("/b"))
    deliver(created())
    call_command("send_webhooks", "--once")
    assert sorted(r.path for r in webhook_server.received) == ["/a", "/b"]
    assert WebhookDelivery.objects.filter(status="delivered").count() == 2
