"""Writes of webhooks: the endpoints, recording deliveries (in the consumer's transaction),
claiming them and recording what came of them (the sender's, outside it)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from notifications import sql
from notifications.models import (
    Contact,
    Notification,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from notifications.webhooks import signing
from notifications.webhooks.conf import WebhookSettings, webhook_settings
from notifications.webhooks.events import payload, subscribable
from notifications.webhooks.outbound import Answer
from servidesk_shared.backoff import Backoff
from servidesk_shared.events.envelope import Event

logger = logging.getLogger(__name__)

#: PostgreSQL ``NOTIFY`` channel that wakes ``send_webhooks``.
NOTIFY_CHANNEL: Final = "servidesk_notifier_webhooks"
#: The in-app notice to admins of an endpoint disabled (``Notification.event_type``).
DISABLED_EVENT_TYPE: Final = "webhook.disabled"
#: Retry delays are spread by ±20 % so that endpoints coming back are not hit all at once.
JITTER: Final = 0.2

QUEUED = WebhookDeliveryStatus.QUEUED

_local_events: list[threading.Event] = []
_local_lock = threading.Lock()


# --- waking the sender ------------------------------------------------------------------


def register_wakeup(event: threading.Event) -> None:
    with _local_lock:
        _local_events.append(event)


def forget_wakeup(event: threading.Event) -> None:
    with _local_lock:
        if event in _local_events:
            _local_events.remove(event)


def _wake_local() -> None:
    with _local_lock:
        for event in _local_events:
            event.set()


def nudge_on_commit() -> None:
    sql.notify_at_commit(NOTIFY_CHANNEL)
    transaction.on_commit(_wake_local, robust=True)


# --- endpoints --------------------------------------------------------------------------


def webhook_create(*, url: str, events: Sequence[str], active: bool, created_by: str) -> Webhook:
    now = timezone.now()
    return Webhook.objects.create(
        url=url,
        events=list(events),
        active=active,
        secret=signing.new_secret(),
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )


def webhook_update(webhook: Webhook, **fields: Any) -> Webhook:
    """Change ``url``, ``events`` or ``active``; switching an endpoint back on, or moving it
    to another URL, forgets its failures (it gets a fresh 24 hours)."""
    switched_on = bool(fields.get("active")) and not webhook.active
    moved = "url" in fields and fields["url"] != webhook.url
    changed = [name for name in ("url", "events", "active") if name in fields]
    for name in changed:
        setattr(webhook, name, fields[name])
    if switched_on or moved:
        webhook.disabled_at = None
        webhook.disabled_reason = ""
        webhook.failing_since = None
        changed += ["disabled_at", "disabled_reason", "failing_since"]
    webhook.updated_at = timezone.now()
    webhook.save(update_fields=[*changed, "updated_at"])
    if switched_on or moved:
        transaction.on_commit(_wake_local, robust=True)
    return webhook


def webhook_rotate_secret(webhook: Webhook) -> Webhook:
    """A new secret, from the next request on (a retry of an older delivery included)."""
    webhook.secret = signing.new_secret()
    webhook.updated_at = timezone.now()
    webhook.save(update_fields=["secret", "updated_at"])
    return webhook


def webhook_delete(webhook: Webhook) -> None:
    webhook.delete()  # its deliveries with it


# --- recording deliveries (the consumer's transaction) -------------------------------------


def deliveries_record(*, event: Event[Any]) -> int:
    """A queued delivery of ``event`` for each active endpoint that subscribed to its type.

    Runs in the consumer's inbox transaction, next to the notifications of the event; an
    event recorded twice adds nothing (one delivery per endpoint and event)."""
    if event.type not in subscribable():
        return 0
    hooks = [hook for hook in Webhook.objects.filter(active=True) if hook.wants(event.type)]
    if not hooks:
        return 0
    data = payload(event.type, event.data)
    now = timezone.now()
    rows = [
        WebhookDelivery(
            webhook=hook,
            event_id=event.id,
            event_type=event.type,
            aggregate_id=str(event.aggregate_id)[:64],
            sequence=event.sequence,
            occurred_at=event.occurred_at,
            data=data,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for hook in hooks
    ]
    with transaction.atomic(savepoint=False):
        created = WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        nudge_on_commit()
    return len(created)


def delivery_redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send ``delivery``'s event again, as a new delivery (a new ``X-Servidesk-Delivery``)
    due now; it does not wait for the ticket's other deliveries (an admin asked for it)."""
    now = timezone.now()
    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            aggregate_id=delivery.aggregate_id,
            sequence=delivery.sequence,
            occurred_at=delivery.occurred_at,
            data=delivery.data,
            redelivery_of=delivery,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        nudge_on_commit()
    return again


# --- the sender's side ------------------------------------------------------------------


def body_of(delivery: WebhookDelivery) -> bytes:
    """The request body: ``{id, type, occurred_at, data}`` as UTF-8 JSON."""
    occurred = delivery.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    document = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "occurred_at": occurred,
        "data": delivery.data,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def headers_of(delivery: WebhookDelivery, body: bytes, *, timestamp: int) -> dict[str, str]:
    return {
        "X-Servidesk-Event": delivery.event_type,
        "X-Servidesk-Delivery": str(delivery.delivery_id),
        "X-Servidesk-Signature": signing.signature(delivery.webhook.secret, body, timestamp),
    }


def claim_due(
    *,
    now: datetime,
    limit: int,
    exclude: Collection[int] = (),
    conf: WebhookSettings | None = None,
    stalled: set[int] | None = None,
) -> list[WebhookDelivery]:
    """Reserve at most one due delivery per active endpoint, for up to ``limit`` endpoints
    (those due longest first), none of ``exclude``: the head of a ticket's line.

    The endpoints are locked (``SKIP LOCKED``: other senders take other endpoints) and
    leased, then their lines' heads claimed, in one transaction of two statements
    (``sql.webhook_lease_due``, ``sql.webhook_claim_heads``); so each endpoint has at most
    one request in flight in all senders. The claim bumps ``attempts`` (its fencing
    token). The endpoints whose due deliveries all wait behind an earlier one (being
    retried) have their lease ended at once and are added to ``stalled``, when given.
    """
    conf = conf or webhook_settings()
    lease_end = now + timedelta(seconds=conf.lease)
    with transaction.atomic():
        hooks = sql.webhook_lease_due(now=now, lease_end=lease_end, limit=limit, exclude=exclude)
        claimed = sql.webhook_claim_heads(
            webhook_ids=[hook.pk for hook in hooks], now=now, lease_end=lease_end
        )
        idle = {hook.pk for hook in hooks} - {delivery.webhook_id for delivery in claimed}
        sql.webhook_release(webhook_ids=idle, lease_end=lease_end)
    if stalled is not None:
        stalled |= idle
    rank = {hook.pk: index for index, hook in enumerate(hooks)}
    by_id = {hook.pk: hook for hook in hooks}
    for delivery in claimed:
        delivery.webhook = by_id[delivery.webhook_id]
    claimed.sort(key=lambda delivery: rank[delivery.webhook_id])
    return claimed


def retry_delay(attempts: int, conf: WebhookSettings) -> float:
    """Seconds before the retry after ``attempts`` tries: exponential, capped, jittered."""
    backoff = Backoff(conf.retry_delay, factor=2.0, cap=conf.retry_delay_max, jitter=JITTER)
    return backoff.delay(attempts)


#: What ``delivery_record`` answers for a claim a newer one replaced (nothing written).
SUPERSEDED: Final = "superseded"


def delivery_record(
    delivery: WebhookDelivery,
    answer: Answer,
    *,
    now: datetime,
    conf: WebhookSettings | None = None,
) -> str:
    """Record what came of one request of a claimed ``delivery``; its status now.

    A 2xx delivers it and ends its endpoint's failures. Anything else (no answer in time,
    no connection, a refused destination, another status) is retried with backoff until
    ``WEBHOOK_RETRY_FOR`` after it was recorded, then it fails. An endpoint that has been
    failing for ``WEBHOOK_DISABLE_AFTER`` without a success is switched off and the admins
    are told in-app. A claim that a newer one replaced (its lease ran out) records nothing
    (``SUPERSEDED``). The endpoint's lease ends."""
    status, _ = _record(delivery, answer, now=now, conf=conf or webhook_settings(), then=False)
    return status


def delivery_record_then_claim(
    delivery: WebhookDelivery,
    answer: Answer,
    *,
    now: datetime,
    conf: WebhookSettings | None = None,
) -> tuple[str, WebhookDelivery | None]:
    """``delivery_record``, and after a success the endpoint's next due head claimed in the
    same transaction, under a lease renewed rather than ended (its one request in flight
    stays the caller's): the status, and that delivery or None (then the lease ended)."""
    return _record(delivery, answer, now=now, conf=conf or webhook_settings(), then=True)


def _record(
    delivery: WebhookDelivery,
    answer: Answer,
    *,
    now: datetime,
    conf: WebhookSettings,
    then: bool,
) -> tuple[str, WebhookDelivery | None]:
    fields: dict[str, Any] = {
        "last_status_code": answer.status,
        "last_duration_ms": answer.duration_ms,
        "last_error": _describe(answer),
        "updated_at": now,
    }
    give_up_at = delivery.created_at + timedelta(seconds=conf.retry_for)
    if answer.ok:
        fields.update(status=WebhookDeliveryStatus.DELIVERED, delivered_at=now)
    elif now >= give_up_at:
        fields.update(status=WebhookDeliveryStatus.FAILED)
    else:
        retry_at = now + timedelta(seconds=retry_delay(delivery.attempts, conf))
        fields.update(next_attempt_at=min(retry_at, give_up_at))
    hours = round(conf.disable_after / 3600)
    lease_end = now + timedelta(seconds=conf.lease) if then and answer.ok else None
    following: WebhookDelivery | None = None
    with transaction.atomic():
        # The endpoint's row first (the order every claim locks in), fenced by the claim.
        hook = sql.webhook_endpoint_outcome(
            delivery=delivery,
            ok=answer.ok,
            now=now,
            disable_before=now - timedelta(seconds=conf.disable_after),
            disabled_reason=f"every request failed for {hours} hours",
            keep_until=lease_end,
        )
        if hook is None:  # a newer claim owns the delivery and the endpoint
            return SUPERSEDED, None
        sql.webhook_delivery_outcome(delivery=delivery, fields=fields)
        if not answer.ok and not hook.active and hook.disabled_at == now:
            _tell_admins(hook, hours=hours, now=now)
            logger.warning("webhook %s disabled: failing since %s", hook.pk, hook.failing_since)
        if lease_end is not None and hook.leased_until == lease_end:
            heads = sql.webhook_claim_heads(webhook_ids=[hook.pk], now=now, lease_end=lease_end)
            if heads:
                following = heads[0]
                following.webhook = hook
            else:
                sql.webhook_release(webhook_ids=[hook.pk], lease_end=lease_end)
        if following is None:
            # The endpoint is free again: wake the senders (this one's waiter listens
            # between looks at its in-process wakeup, so without it the next claim waited a
            # slice).
            sql.notify_at_commit(NOTIFY_CHANNEL)
    return str(fields.get("status", QUEUED)), following


def _describe(answer: Answer) -> str:
    if answer.ok:
        return ""
    if answer.error:
        return answer.error
    text = answer.body[:300].decode("utf-8", "replace")
    return f"HTTP {answer.status}: {text}".strip()


def _tell_admins(hook: Webhook, *, hours: int, now: datetime) -> None:
    """An in-app notification to every active admin: the endpoint is off, and why."""
    event_id = uuid.uuid4()
    admins = Contact.objects.filter(role="admin", is_active=True)
    rows = []
    for admin in admins:
        with translation.override(admin.language or None):
            title = _("Webhook disabled: %(url)s") % {"url": hook.url}
            body = _(
                "Every delivery to %(url)s failed for %(hours)s hours, so it was switched "
                "off. Fix the endpoint, then switch it back on: queued events will be sent."
            ) % {"url": hook.url, "hours": hours}
        rows.append(
            Notification(
                recipient_id=admin.user_id,
                event_id=event_id,
                event_type=DISABLED_EVENT_TYPE,
                ticket_id="",
                title=title[:300],
                body=body,
                created_at=now,
            )
        )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
