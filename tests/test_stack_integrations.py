"""Integrations (issue 20) across the running stack: API keys and signed webhooks.

A PostgreSQL + RabbitMQ stack of its own, started as `make up` starts it (every Procfile
process, ``notifier-webhooks`` included; ``WEBHOOK_ALLOW_PRIVATE=true`` as `make up` sets
it, so a receiver on loopback may be an endpoint). Everything goes through nginx, as an
integrator's program would:

- an admin makes an API key; the integrator trades it for an access token that tickets,
  notifier and reports accept; a revoked or expired key is refused (401); every trade is
  audited (accounts' ``ApiKeyExchange`` rows);
- a read-only key's token reads on each of the four APIs and is refused (403) any write;
- an admin registers a webhook at a receiver on loopback; a ticket's status changes
  several times; the receiver gets each ``ticket.status_changed`` once (counting unique
  ``X-Servidesk-Delivery``), signed, in the order of the changes, even when it refuses the
  first try of the first one. The receiver checks the signatures with the snippet of
  ``docs/webhooks.md`` and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from stack import (
    DEMO_ADMIN,
    POSTGRES_URL,
    RABBITMQ_URL,
    SERVICES,
    Stack,
    drop_stack_resources,
    eventually,
    running_stack,
)

pytestmark = pytest.mark.stack

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
DEMO_CLIENT = ("cliente1", "Mesa-de-ayuda-C1")


@pytest.fixture(scope="module")
def integrations_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    run = uuid.uuid4().hex[:8]
    env = {
        f"{name.upper()}_DATABASE_URL": f"{POSTGRES_URL}/servidesk_int_{run}_{name}"
        for name in SERVICES
    }
    env |= {
        "BROKER_URL": RABBITMQ_URL,
        "SERVIDESK_EVENT_PREFIX": f"int-{run}.",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        # A refused first try comes back after about a second, not ten.
        "WEBHOOK_RETRY_DELAY": "1",
        # Every key trade is a call to auth/token/: a run's trades, not guessing.
        "GATEWAY_AUTH_RATE": "300r/m",
        "THROTTLE_LOGIN_IP": "300/min",
        "THROTTLE_LOGIN_ACCOUNT": "60/min",
    }
    try:
        with running_stack(tmp_path_factory.mktemp("integrations"), env) as stack:
            yield stack
    finally:
        drop_stack_resources(env)


@pytest.fixture(scope="module")
def gateway(integrations_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=integrations_stack.base_url, timeout=30) as client:
        yield client


def sign_in(gateway: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = gateway.post(
        "/api/accounts/auth/token/", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access']}"}


@pytest.fixture(scope="module")
def admin(gateway: httpx.Client) -> dict[str, str]:
    return sign_in(gateway, *DEMO_ADMIN)


def make_key(gateway: httpx.Client, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": f"integración {uuid.uuid4().hex[:6]}", "role": "admin", **fields}
    response = gateway.post("/api/accounts/api-keys/", json=body, headers=admin)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    assert made["key"].startswith("sdk_"), made
    return made


def trade(gateway: httpx.Client, key: str) -> httpx.Response:
    return gateway.post("/api/accounts/auth/token/", json={"api_key": key})


def bearer(gateway: httpx.Client, key: str) -> dict[str, str]:
    response = trade(gateway, key)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access"}, "no refresh token for a key"
    return {"Authorization": f"Bearer {response.json()['access']}"}


def claims(headers: dict[str, str]) -> dict[str, Any]:
    """The token's claims, read without checking them (the services check them)."""
    token = headers["Authorization"].removeprefix("Bearer ")
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


def exchanges(stack: Stack, key_id: int) -> list[tuple[str, str | None]]:
    """accounts' audit rows for the key, oldest first: (outcome, client address)."""
    with psycopg.connect(stack.env["ACCOUNTS_DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT outcome, host(address) FROM users_apikeyexchange"
            " WHERE api_key_id = %s ORDER BY at, id",
            (key_id,),
        ).fetchall()
    return [(outcome, address) for outcome, address in rows]


# --- API keys ---------------------------------------------------------------------------


def test_a_key_is_traded_used_everywhere_revoked_and_audited(
    gateway: httpx.Client, admin: dict[str, str], integrations_stack: Stack
) -> None:
    made = make_key(gateway, admin, role="admin")
    token = bearer(gateway, made["key"])
    assert claims(token)["user_id"] == f"apikey:{made['id']}"
    assert claims(token)["role"] == "admin"
    assert "scope" not in claims(token)

    # tickets: a write an admin may make, and the list.
    slug = f"int-{uuid.uuid4().hex[:8]}"
    category = gateway.post(
        "/api/tickets/categories/", json={"slug": slug, "name": slug}, headers=token
    )
    assert category.status_code == 201, category.text
    assert gateway.get("/api/tickets/", headers=token).status_code == 200
    # notifier: the admin-only webhooks API, read and written.
    hook = gateway.post(
        "/api/notifications/webhooks/",
        json={"url": "http://127.0.0.1:9/unused", "events": ["ticket.created"], "active": False},
        headers=token,
    )
    assert hook.status_code == 201, hook.text
    assert gateway.get("/api/notifications/webhooks/", headers=token).status_code == 200
    assert (
        gateway.delete(f"/api/notifications/webhooks/{hook.json()['id']}/", headers=token)
    ).status_code == 204
    # reports (it has reads only): the summary and an export.
    assert gateway.get("/api/reports/summary/", headers=token).status_code == 200
    export = gateway.get("/api/reports/export.csv", headers=token)
    assert export.status_code == 200, export.text

    # The key's last use is listed (never the key itself).
    listed = gateway.get("/api/accounts/api-keys/", headers=admin).json()["results"]
    row = next(k for k in listed if k["id"] == made["id"])
    assert row["last_used_at"] is not None
    assert "key" not in row

    # A key never manages keys, even an admin's.
    keys_by_key = gateway.get("/api/accounts/api-keys/", headers=token)
    assert keys_by_key.status_code == 403
    assert keys_by_key.json()["extra"]["code"] == "person_required"

    # Revoked: the trade is refused, and accounts refuses the old token at once.
    revoked = gateway.delete(f"/api/accounts/api-keys/{made['id']}/", headers=admin)
    assert revoked.status_code == 204
    refused = trade(gateway, made["key"])
    assert refused.status_code == 401, refused.text
    assert refused.json()["extra"]["code"] == "api_key_revoked"
    assert gateway.get("/api/accounts/api-keys/", headers=token).status_code == 401
    listed = gateway.get("/api/accounts/api-keys/", headers=admin).json()["results"]
    assert made["id"] not in {k["id"] for k in listed}

    # A key that is not one: refused alike.
    forged = made["key"][:-4] + ("AAAA" if not made["key"].endswith("AAAA") else "BBBB")
    wrong = trade(gateway, forged)
    assert wrong.status_code == 401
    assert wrong.json()["extra"]["code"] == "api_key_invalid"

    # Each trade audited with its outcome and the caller's address (nginx passes it on).
    assert exchanges(integrations_stack, made["id"]) == [
        ("issued", "127.0.0.1"),
        ("revoked", "127.0.0.1"),
        ("invalid", "127.0.0.1"),
    ]


def test_an_expired_key_is_refused_and_its_tokens_do_not_outlive_it(
    gateway: httpx.Client, admin: dict[str, str], integrations_stack: Stack
) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=4)
    made = make_key(gateway, admin, role="technician", expires_at=expires.isoformat())
    token = bearer(gateway, made["key"])
    assert claims(token)["exp"] <= expires.timestamp() + 1
    assert claims(token)["role"] == "technician"
    assert gateway.get("/api/tickets/", headers=token).status_code == 200
    # The key's role holds: a technician may not add categories.
    slug = f"int-{uuid.uuid4().hex[:8]}"
    not_admin = gateway.post(
        "/api/tickets/categories/", json={"slug": slug, "name": slug}, headers=token
    )
    assert not_admin.status_code == 403, not_admin.text

    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1)
    refused = trade(gateway, made["key"])
    assert refused.status_code == 401, refused.text
    assert refused.json()["extra"]["code"] == "api_key_expired"
    # The token runs out with the key (after the services' 5 s of clock leeway).
    time.sleep(max(0.0, claims(token)["exp"] + 6 - time.time()))
    assert gateway.get("/api/tickets/", headers=token).status_code == 401
    assert [o for o, _ in exchanges(integrations_stack, made["id"])] == ["issued", "expired"]


def test_a_read_only_key_reads_everywhere_and_writes_nowhere(
    gateway: httpx.Client, admin: dict[str, str]
) -> None:
    made = make_key(gateway, admin, role="admin", read_only=True)
    token = bearer(gateway, made["key"])
    assert claims(token)["scope"] == "read"

    # Reads: 200 on each API. accounts has no signed-in read a key may make (me/, users/
    # and api-keys/ are for people), so its read is a public one, sent with the token: the
    # scope does not get in its way.
    reads = [
        "/api/accounts/.well-known/jwks.json",
        "/api/tickets/",
        "/api/tickets/categories/",
        "/api/notifications/webhooks/",
        "/api/reports/summary/",
        "/api/reports/export.csv",
    ]
    for path in reads:
        response = gateway.get(path, headers=token)
        assert response.status_code == 200, f"GET {path}: {response.text[:300]}"
    # For people only, whatever the scope: the reason says so, not the scope.
    people_only = gateway.get("/api/accounts/api-keys/", headers=token)
    assert people_only.status_code == 403
    assert people_only.json()["extra"]["code"] == "person_required"

    slug = f"ro-{uuid.uuid4().hex[:8]}"
    writes = [
        ("POST", "/api/accounts/api-keys/", {"name": "otra", "role": "admin"}),
        ("POST", "/api/tickets/categories/", {"slug": slug, "name": slug}),
        ("POST", "/api/tickets/", {"title": "t", "description": "d", "client_id": "1"}),
        (
            "POST",
            "/api/notifications/webhooks/",
            {"url": "http://127.0.0.1:9/x", "events": ["*"]},
        ),
        ("POST", "/api/notifications/read-all/", None),
        # reports has no write: the scope answers before the route's 405.
        ("POST", "/api/reports/summary/", {}),
    ]
    for method, path, body in writes:
        response = gateway.request(method, path, json=body, headers=token)
        assert response.status_code == 403, f"{method} {path}: {response.text[:300]}"
        assert response.json()["extra"]["code"] == "read_only_scope", (path, response.text)
    # Nothing was written.
    listed = gateway.get("/api/tickets/categories/", headers=admin).json()
    slugs = {c["slug"] for c in (listed["results"] if isinstance(listed, dict) else listed)}
    assert slug not in slugs


# --- Webhooks ---------------------------------------------------------------------------


# The receiver's check, copied from docs/webhooks.md ("Verifying the signature") and
# written from nothing else.
def verify_servidesk_signature(
    secret: str, raw_body: bytes, header: str, tolerance: int = 300
) -> bool:
    """True when the X-Servidesk-Signature `header` signs `raw_body` with `secret`."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False  # too old or from the future: maybe a replay
    signed = f"{timestamp}.".encode() + raw_body
    expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """An integrator's endpoint on loopback: records every request with the answer it got.

    ``refuse_first`` answers 503 to the first try of that many deliveries (by
    ``X-Servidesk-Delivery``), 204 to everything else."""

    refuse_first: int = 0
    requests: list[Received] = field(default_factory=list)
    _refused: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            delivery = headers.get("x-servidesk-delivery", "")
            status = 204
            if delivery not in self._refused and len(self._refused) < self.refuse_first:
                self._refused.add(delivery)
                status = 503
            self.requests.append(Received(headers, body, status))
            return status

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.answered < 300]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver(refuse_first=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{server.server_address[1]}/servidesk"
    finally:
        server.shutdown()
        server.server_close()


def assert_signed(requests: list[Received], secret: str) -> None:
    """Every request (a retry included) signed as docs/webhooks.md says; a tampered body
    or another secret fails the same check."""
    for request in requests:
        signature = request.headers["x-servidesk-signature"]
        assert verify_servidesk_signature(secret, request.body, signature), request.headers
        assert not verify_servidesk_signature(secret, request.body + b" ", signature)
        assert not verify_servidesk_signature("whsec_other", request.body, signature)
        assert request.headers["x-servidesk-event"] == "ticket.status_changed"
        assert request.headers["content-type"] == "application/json"


def ticket_moved_around(
    gateway: httpx.Client, admin: dict[str, str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A client's new ticket moved back and forth by the admin, one move after the other
    as fast as the API answers; the ticket and its moves ``(from, to)`` in order."""
    client = sign_in(gateway, *DEMO_CLIENT)
    opened = gateway.post(
        "/api/tickets/",
        json={"title": "Integración: webhook", "description": "Cambios de estado seguidos."},
        headers=client,
    )
    assert opened.status_code == 201, opened.text
    ticket: dict[str, Any] = opened.json()
    path = ["in_progress", "waiting", "in_progress", "resolved", "in_progress", "pending"]
    moves = []
    before = ticket["status"]
    for status in path:
        moved = gateway.post(
            f"/api/tickets/{ticket['id']}/status/", json={"status": status}, headers=admin
        )
        assert moved.status_code == 200, moved.text
        moves.append((before, status))
        before = status
    return ticket, moves


def test_a_ticket_s_status_changes_reach_a_receiver_once_signed_and_in_order(
    gateway: httpx.Client,
    admin: dict[str, str],
    receiver: tuple[Receiver, str],
    integrations_stack: Stack,
) -> None:
    hooks, url = receiver
    registered = gateway.post(
        "/api/notifications/webhooks/",
        json={"url": url, "events": ["ticket.status_changed"]},
        headers=admin,
    )
    assert registered.status_code == 201, registered.text
    webhook = registered.json()
    secret = webhook["secret"]
    assert secret.startswith("whsec_")

    ticket, moves = ticket_moved_around(gateway, admin)

    def about_ticket(request: Received) -> bool:
        return str(json.loads(request.body)["data"]["ticket"]["id"]) == str(ticket["id"])

    def all_accepted() -> list[Received]:
        accepted = [r for r in hooks.accepted() if about_ticket(r)]
        return accepted if len(accepted) >= len(moves) else []

    try:
        eventually(all_accepted, timeout=90, what="every status change at the receiver")
    except AssertionError as timed_out:
        log = integrations_stack.tail(120)
        raise AssertionError(f"{timed_out}\n{hooks.requests}\n{log}") from None
    time.sleep(3)  # a duplicate sent after the last one would show up now

    requests = [r for r in hooks.requests if about_ticket(r)]
    assert_signed(requests, secret)

    # The first try of the first change was refused (503): it came again with the same
    # delivery id, and the later changes waited for it.
    refused = [r for r in requests if r.answered == 503]
    assert len(refused) == 1
    first_delivery = refused[0].headers["x-servidesk-delivery"]

    # Once each: unique deliveries accepted, one per change, one event id each.
    accepted = [r for r in requests if r.answered < 300]
    deliveries = [r.headers["x-servidesk-delivery"] for r in accepted]
    unique = list(dict.fromkeys(deliveries))
    assert len(unique) == len(moves), deliveries
    assert deliveries[0] == first_delivery
    bodies = [json.loads(accepted[deliveries.index(d)].body) for d in unique]
    assert len({b["id"] for b in bodies}) == len(moves)

    # In the order of the changes.
    assert [(b["data"]["from_status"], b["data"]["to_status"]) for b in bodies] == moves
    for body in bodies:
        assert set(body) == {"id", "type", "occurred_at", "data"}
        assert body["type"] == "ticket.status_changed"
        assert "rating_token" not in body["data"]  # the client's credential stays out
    occurred = [b["occurred_at"] for b in bodies]
    assert occurred == sorted(occurred)

    # The delivery log agrees: all delivered, the first after two attempts.
    log = gateway.get(f"/api/notifications/webhooks/{webhook['id']}/deliveries/", headers=admin)
    assert log.status_code == 200, log.text
    rows = {
        r["delivery_id"]: r for r in log.json()["results"] if r["aggregate_id"] == str(ticket["id"])
    }
    assert set(rows) == set(unique)
    assert {r["status"] for r in rows.values()} == {"delivered"}
    assert rows[first_delivery]["attempts"] == 2
    assert rows[first_delivery]["last_status_code"] == 204
