"""Webhooks without the network: signing, the address guard, recording deliveries in the
consumer's transaction, claiming them in per-ticket order, retries, disabling, redelivery.

The clock is injected (``now``): 24 hours pass in microseconds."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from django.utils import timezone, translation
from notifications.checks import webhook_limits, webhooks_stay_outside
from notifications.models import Notification, Webhook, WebhookDelivery
from notifications.webhooks import outbound, services, signing
from notifications.webhooks.conf import WebhookSettings, webhook_settings
from pytest_django.fixtures import Settings as SettingsWrapper

from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import (
    PhoneCodeRequested,
    TicketCommented,
    TicketCreated,
    TicketStatusChanged,
)
from tests.factories import CommentSnapshotFactory, TicketSnapshotFactory, as_event

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"


def documented_verifier() -> Callable[..., bool]:
    """``verify_servidesk_signature`` exactly as docs/webhooks.md shows it."""
    text = DOCS.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert code, "docs/webhooks.md has no python snippet"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOCS), "exec"), namespace)  # noqa: S102 (our own docs)
    verifier: Callable[..., bool] = namespace["verify_servidesk_signature"]
    return verifier


def published(event: Event[Any]) -> Any:
    """The event's data as the JSON that went over the bus."""
    return msgspec.json.decode(msgspec.json.encode(msgspec.to_builtins(event.data)))


def hook(events: list[str] | None = None, **fields: Any) -> Webhook:
    return services.webhook_create(
        url=fields.pop("url", "https://hooks.example.com/servidesk"),
        events=events or ["*"],
        active=fields.pop("active", True),
        created_by="3",
    )


def conf(**overrides: Any) -> WebhookSettings:
    values = {**webhook_settings().__dict__, **overrides}
    return WebhookSettings(**values)


# --- signing --------------------------------------------------------------------------


def test_the_documented_snippet_verifies_our_signature() -> None:
    verify = documented_verifier()
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    body = '{"id":"1","data":{"title":"Impresora sin tóner"}}'.encode()
    now = int(time.time())
    header = signing.signature(secret, body, now)
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify(secret, body, header)
    assert signing.verify(secret, body, header)
    assert not verify(secret, body + b" ", header)  # a changed body
    assert not verify(secret[6:], body, header)  # keyed by the whole secret, prefix included
    assert not verify(signing.new_secret(), body, header)
    assert not verify(secret, body, signing.signature(secret, body, now - 3600))  # a replay
    assert not verify(secret, body, "v1=" + header.split("v1=")[1])  # no timestamp


# --- the address guard ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ],
)
def test_inside_addresses(address: str) -> None:
    assert outbound.is_inside(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert not outbound.is_inside(address)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example.com/x", "https://"),
        ("javascript:alert(1)", "https://"),
        ("http://hooks.example.com/x", "WEBHOOK_ALLOW_HTTP"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("https://10.0.0.7/x", "points inside (10.0.0.7)"),
        ("https://169.254.169.254/latest/meta-data/", "points inside (169.254.169.254)"),
        ("https://[::1]:8443/x", "points inside (::1)"),
        ("https://localhost/x", "points inside (localhost)"),
        ("https:///x", "no host"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://hooks.example.com:99999/x", "Not a valid URL"),
        ("https://hooks.example.com/" + "a" * 2000, "longer than 2000"),
    ],
)
def test_url_problems(url: str, problem: str) -> None:
    with translation.override("en"):
        found = outbound.url_problem(url, conf(allow_private=False, allow_http=False))
    assert found is not None
    assert problem in found


def test_good_urls_and_the_http_settings() -> None:
    strict = conf(allow_private=False, allow_http=False)
    assert outbound.url_problem("https://hooks.example.com/servidesk?x=1", strict) is None
    assert outbound.url_problem("https://93.184.216.34:8443/", strict) is None
    assert outbound.url_problem("http://hooks.example.com/", conf(allow_http=True)) is None
    # http to a public address is allowed, but never inside without ALLOW_PRIVATE
    assert outbound.url_problem("http://10.0.0.7/", conf(allow_http=True, allow_private=False))
    assert outbound.url_problem("http://127.0.0.1:8080/", conf(allow_private=True)) is None


def test_a_name_resolving_inside_is_refused_unless_allowed() -> None:
    with pytest.raises(outbound.RefusedError, match="inside"):
        outbound.resolve("localhost", 443, conf(allow_private=False))
    assert outbound.resolve("localhost", 443, conf(allow_private=True)) in {"127.0.0.1", "::1"}


# --- recording, in the consumer's transaction ----------------------------------------------


def created(ticket_id: int = 42, **overrides: Any) -> TicketCreated:
    return TicketCreated(ticket=TicketSnapshotFactory(id=ticket_id, **overrides), actor_id=1)


def test_the_consumer_records_a_delivery_for_each_subscribed_active_endpoint(
    deliver: Callable[..., Event[Any]],
) -> None:
    every = hook(["*"])
    named = hook(["ticket.created", "ticket.commented"])
    hook(["ticket.commented"])
    hook(["*"], active=False)
    event = deliver(created())
    rows = WebhookDelivery.objects.order_by("webhook_id")
    assert [row.webhook_id for row in rows] == [every.pk, named.pk]
    for row in rows:
        assert row.event_id == event.id
        assert row.event_type == "ticket.created"
        assert row.aggregate_id == event.aggregate_id
        assert row.sequence == event.sequence
        assert row.data == published(event)  # as published
        assert row.status == "queued"
    assert rows[0].delivery_id != rows[1].delivery_id
    deliver(created(), event=event)  # the same event again adds nothing
    assert WebhookDelivery.objects.count() == 2


def test_a_phone_code_never_goes_to_a_webhook(deliver: Callable[..., Event[Any]]) -> None:
    hook(["*"])
    deliver(
        PhoneCodeRequested(
            user_id=1,
            phone="+34600111222",
            code="123456",
            language="es",
            expires_at=timezone.now() + timedelta(minutes=10),
        )
    )
    assert not WebhookDelivery.objects.exists()


def test_the_rating_token_is_stripped(deliver: Callable[..., Event[Any]]) -> None:
    hook(["ticket.status_changed"])
    event = deliver(
        TicketStatusChanged(
            ticket=TicketSnapshotFactory(id=42, status="resolved"),
            actor_id=2,
            from_status="in_progress",
            to_status="resolved",
            rating_token="secret-token-of-the-client",
        )
    )
    row = WebhookDelivery.objects.get()
    sent = published(event)
    assert sent["rating_token"] == "secret-token-of-the-client"
    assert "rating_token" not in row.data
    assert "secret-token-of-the-client" not in services.body_of(row).decode()
    assert row.data == {k: v for k, v in sent.items() if k != "rating_token"}


def test_the_body_is_the_contracts(deliver: Callable[..., Event[Any]]) -> None:
    hook(["*"])
    event = deliver(created(title="Impresora sin tóner"))
    row = WebhookDelivery.objects.get()
    body = msgspec.json.decode(services.body_of(row))
    assert set(body) == {"id", "type", "occurred_at", "data"}
    assert body["id"] == str(event.id)
    assert body["type"] == "ticket.created"
    assert body["occurred_at"].endswith("Z")
    assert body["data"]["ticket"]["title"] == "Impresora sin tóner"
    headers = services.headers_of(row, services.body_of(row), timestamp=int(time.time()))
    assert headers["X-Servidesk-Event"] == "ticket.created"
    assert headers["X-Servidesk-Delivery"] == str(row.delivery_id)
    assert documented_verifier()(
        row.webhook.secret, services.body_of(row), headers["X-Servidesk-Signature"]
    )


# --- claiming, outcomes, retries (the sender's side, the clock injected) ---------------------


OK = outbound.Answer(200, 12)
DOWN = outbound.Answer(503, 40, b"maintenance")
TIMEOUT = outbound.Answer(None, 10_000, error="no answer within 10 s")


def events_about(ticket_id: int, count: int) -> list[Event[Any]]:
    first = TicketSnapshotFactory(id=ticket_id)
    return [
        as_event(
            TicketCommented(ticket=first, actor_id=1, comment=CommentSnapshotFactory()),
            sequence=100 + n,
        )
        for n in range(count)
    ]


def claim(now: datetime, **kwargs: Any) -> list[WebhookDelivery]:
    return services.claim_due(now=now, limit=kwargs.pop("limit", 10), **kwargs)


def test_one_request_in_flight_per_endpoint_and_per_ticket_order(
    deliver: Callable[..., Event[Any]],
) -> None:
    endpoint = hook(["*"])
    other = hook(["*"])
    a1, a2, a3 = events_about(7, 3)
    (b1,) = events_about(8, 1)
    for event in (a1, a2, b1, a3):
        deliver(event.data, event=event)
    now = timezone.now() + timedelta(seconds=1)

    first = claim(now)
    assert sorted((d.webhook_id, d.event_id) for d in first) == sorted(
        [(endpoint.pk, a1.id), (other.pk, a1.id)]
    )  # one each, the oldest
    assert claim(now) == []  # both leased: nothing more until they answer
    mine = next(d for d in first if d.webhook_id == endpoint.pk)
    services.delivery_record(mine, DOWN, now=now)

    # a1 waits for its retry; a2 and a3 wait behind it; b1 (another ticket) goes
    second = claim(now, exclude=[other.pk])
    assert [(d.event_id, d.attempts) for d in second] == [(b1.id, 1)]
    services.delivery_record(second[0], OK, now=now)
    assert claim(now, exclude=[other.pk]) == []

    later = now + timedelta(minutes=5)
    order = []
    for _ in range(3):
        (next_one,) = claim(later, exclude=[other.pk])
        order.append(next_one.event_id)
        services.delivery_record(next_one, OK, now=later)
    assert order == [a1.id, a2.id, a3.id]
    assert WebhookDelivery.objects.get(webhook=endpoint, event_id=a1.id).attempts == 2


def test_retries_back_off_exponentially_with_jitter_then_fail_after_24_hours(
    deliver: Callable[..., Event[Any]], settings: SettingsWrapper, people: dict[str, Any]
) -> None:
    settings.WEBHOOK_DISABLE_AFTER = 10 * 86400.0  # this test is about one delivery
    endpoint = hook(["*"])
    deliver(created())
    row = WebhookDelivery.objects.get()
    now = row.created_at
    delays = []
    while True:
        (claimed,) = claim(now)
        status = services.delivery_record(
            claimed, DOWN if claimed.attempts % 2 else TIMEOUT, now=now
        )
        row.refresh_from_db()
        if status == "failed":
            break
        delay = (row.next_attempt_at - now).total_seconds()
        delays.append(delay)
        # nothing before it falls due
        assert claim(row.next_attempt_at - timedelta(milliseconds=1)) == []
        now = row.next_attempt_at
    assert row.status == "failed"
    assert now - row.created_at == timedelta(hours=24)  # the last try at the 24th hour
    assert 20 <= row.attempts <= 40
    for attempt, delay in enumerate(delays[:8], start=1):
        base = min(3600.0, 10.0 * 2 ** (attempt - 1))
        assert base * 0.8 <= delay <= base * 1.2, (attempt, delay)
    assert max(delays) <= 3600 * 1.2
    assert len({round(d, 6) for d in delays[:8]}) == 8  # jittered, not a fixed ladder
    assert row.last_error.startswith("no answer within") or row.last_error.startswith("HTTP 503")
    endpoint.refresh_from_db()
    assert endpoint.active  # 24 h of failures of this one are not yet 10 days


def test_an_endpoint_failing_for_24_hours_is_disabled_and_the_admins_are_told(
    deliver: Callable[..., Event[Any]], people: dict[str, Any]
) -> None:
    endpoint = hook(["*"], url="https://hooks.example.com/down")
    deliver(created(1))
    start = WebhookDelivery.objects.get().created_at
    (claimed,) = claim(start)
    services.delivery_record(claimed, DOWN, now=start)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == start

    now = start + timedelta(hours=23, minutes=59)
    deliver(created(2))  # a fresh delivery, retried in its own time
    for row in WebhookDelivery.objects.filter(status="queued"):
        WebhookDelivery.objects.filter(pk=row.pk).update(next_attempt_at=now)
    (claimed,) = claim(now)
    services.delivery_record(claimed, DOWN, now=now)
    endpoint.refresh_from_db()
    assert endpoint.active

    now = start + timedelta(hours=24)
    WebhookDelivery.objects.filter(status="queued").update(next_attempt_at=now)
    (claimed,) = claim(now)
    services.delivery_record(claimed, TIMEOUT, now=now)
    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_at == now
    assert "24 hours" in endpoint.disabled_reason
    told = Notification.objects.filter(event_type=services.DISABLED_EVENT_TYPE)
    assert [n.recipient_id for n in told] == [people["admin"].user_id]  # admins only
    assert told[0].title == "Webhook desactivado: https://hooks.example.com/down"  # in Spanish
    assert claim(now + timedelta(hours=1)) == []  # nothing goes to a disabled endpoint

    services.webhook_update(endpoint, active=True)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    assert endpoint.disabled_at is None
    (claimed,) = claim(now + timedelta(hours=1))
    services.delivery_record(claimed, OK, now=now + timedelta(hours=1))
    assert WebhookDelivery.objects.filter(status="delivered").count() == 1


def test_a_success_ends_the_endpoints_failures(deliver: Callable[..., Event[Any]]) -> None:
    endpoint = hook(["*"])
    deliver(created(1))
    deliver(created(2))
    now = timezone.now() + timedelta(seconds=1)
    (claimed,) = claim(now)
    services.delivery_record(claimed, DOWN, now=now)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == now
    (claimed,) = claim(now)  # the other ticket's
    services.delivery_record(claimed, OK, now=now)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    assert endpoint.leased_until is None


def test_redelivery_is_a_new_delivery_that_does_not_wait_for_its_ticket(
    deliver: Callable[..., Event[Any]],
) -> None:
    hook(["*"])
    a1, a2 = events_about(7, 2)
    deliver(a1.data, event=a1)
    now = timezone.now() + timedelta(seconds=1)
    (claimed,) = claim(now)
    services.delivery_record(claimed, OK, now=now)
    deliver(a2.data, event=a2)
    (claimed_a2,) = claim(now + timedelta(seconds=1))
    services.delivery_record(claimed_a2, DOWN, now=now)  # a2 now waits for its retry

    original = WebhookDelivery.objects.get(event_id=a1.id)
    again = services.delivery_redeliver(original)
    assert again.pk != original.pk
    assert again.delivery_id != original.delivery_id
    assert (again.event_id, again.data, again.redelivery_of_id) == (
        original.event_id,
        original.data,
        original.pk,
    )
    (claimed,) = claim(now + timedelta(seconds=2))  # not held behind a2's retry
    assert claimed.pk == again.pk
    assert services.body_of(claimed) == services.body_of(original)


def test_a_lost_claim_cannot_overwrite_a_newer_one(deliver: Callable[..., Event[Any]]) -> None:
    hook(["*"])
    deliver(created())
    now = timezone.now() + timedelta(seconds=1)
    (stale,) = claim(now)
    lease_over = now + timedelta(seconds=webhook_settings().lease + 1)
    (fresh,) = claim(lease_over)  # the first sender died: its lease ran out
    assert fresh.attempts == 2
    services.delivery_record(fresh, OK, now=lease_over)
    services.delivery_record(stale, DOWN, now=lease_over)  # too late: changes nothing
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 2, 200)


def test_a_lost_claim_leaves_the_newer_ones_lease_and_the_endpoints_failures_alone(
    deliver: Callable[..., Event[Any]],
) -> None:
    endpoint = hook(["*"])
    deliver(created())
    now = timezone.now() + timedelta(seconds=1)
    (stale,) = claim(now)
    lease_over = now + timedelta(seconds=webhook_settings().lease + 1)
    (fresh,) = claim(lease_over)  # in flight now
    assert services.delivery_record(stale, DOWN, now=lease_over) == services.SUPERSEDED
    endpoint.refresh_from_db()
    assert endpoint.leased_until is not None  # still the fresh claim's: one in flight
    assert endpoint.failing_since is None
    assert claim(lease_over) == []
    services.delivery_record(fresh, OK, now=lease_over)
    endpoint.refresh_from_db()
    assert endpoint.leased_until is None


def test_deleting_an_endpoint_deletes_its_log(deliver: Callable[..., Event[Any]]) -> None:
    endpoint = hook(["*"])
    deliver(created())
    services.webhook_delete(endpoint)
    assert not WebhookDelivery.objects.exists()


def test_event_ids_are_not_shared_between_redeliveries_constraint() -> None:
    endpoint = hook(["*"])
    event_id = uuid.uuid4()
    first = WebhookDelivery.objects.create(
        webhook=endpoint,
        event_id=event_id,
        event_type="ticket.created",
        aggregate_id="1",
        sequence=1,
        occurred_at=timezone.now(),
    )
    services.delivery_redeliver(first)
    services.delivery_redeliver(first)
    assert WebhookDelivery.objects.filter(event_id=event_id).count() == 3


def test_patching_an_active_endpoint_keeps_its_failures_a_new_url_forgets_them() -> None:
    endpoint = hook(["*"])
    since = timezone.now() - timedelta(hours=3)
    Webhook.objects.filter(pk=endpoint.pk).update(failing_since=since)
    endpoint.refresh_from_db()
    services.webhook_update(endpoint, active=True, events=["ticket.created"])
    endpoint.refresh_from_db()
    assert endpoint.failing_since == since  # already on: "active: true" is no reset
    services.webhook_update(endpoint, url="https://hooks.example.com/new")
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_start_up_checks(settings: SettingsWrapper) -> None:
    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert [m.id for m in webhooks_stay_outside()] == ["notifications.W001"]
    settings.WEBHOOK_ALLOW_PRIVATE = False
    assert webhooks_stay_outside() == []
    settings.WEBHOOK_TIMEOUT = 0
    assert [m.id for m in webhook_limits()] == ["notifications.E004"]
