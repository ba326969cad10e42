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
from django.db.models import Exists, OuterRef, Q, Subquery
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


def _queued_before() -> Exists:
    """An earlier delivery of the same endpoint and aggregate still queued (redeliveries
    neither wait nor are waited for)."""
    return Exists(
        WebhookDelivery.objects.filter(
            webhook_id=OuterRef("webhook_id"),
            aggregate_id=OuterRef("aggregate_id"),
            status=QUEUED,
            redelivery_of__isnull=True,
        ).filter(
            Q(sequence__lt=OuterRef("sequence"))
            | Q(sequence=OuterRef("sequence"), id__lt=OuterRef("id"))
        )
    )


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

    The endpoint's row is locked (``SKIP LOCKED``: other senders take other endpoints) and
    leased with its delivery, so each endpoint has at most one request in flight in all
    senders; the claim commits at once and bumps ``attempts`` (the claim's fencing token).
    The endpoints whose due deliveries all wait behind an earlier one (being retried) are
    added to ``stalled``, when given.
    """
    conf = conf or webhook_settings()
    lease_end = now + timedelta(seconds=conf.lease)
    due = WebhookDelivery.objects.filter(
        webhook_id=OuterRef("pk"), status=QUEUED, next_attempt_at__lte=now
    )
    claimed: list[WebhookDelivery] = []
    with transaction.atomic():
        hooks = list(
            Webhook.objects.select_for_update(skip_locked=True)
            .filter(active=True)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
            .exclude(pk__in=list(exclude))
            .filter(Exists(due))
            .annotate(
                due_since=Subquery(due.order_by("next_attempt_at").values("next_attempt_at")[:1])
            )
            .order_by("due_since", "id")[:limit]
        )
        for hook in hooks:
            head = (
                WebhookDelivery.objects.filter(
                    webhook=hook, status=QUEUED, next_attempt_at__lte=now
                )
                .filter(Q(redelivery_of__isnull=False) | ~_queued_before())
                # The due index's own order, so the scan stops at the first delivery not
                # waiting behind its ticket (with "id" too, PostgreSQL sorted every due
                # one first, checking each one's line). Ties, rows recorded at the same
                # moment, come in any order: a ticket's own order is the check above.
                .order_by("next_attempt_at")
                .first()
            )
            if head is None:  # every due one waits behind an earlier one of its ticket
                if stalled is not None:
                    stalled.add(hook.pk)
                continue
            head.attempts += 1
            head.next_attempt_at = lease_end
            head.updated_at = now
            head.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
            hook.leased_until = lease_end
            hook.save(update_fields=["leased_until"])
            head.webhook = hook
            claimed.append(head)
    return claimed


def retry_delay(attempts: int, conf: WebhookSettings) -> float:
    """Seconds before the retry after ``attempts`` tries: exponential, capped, jittered."""
    backoff = Backoff(conf.retry_delay, factor=2.0, cap=conf.retry_delay_max, jitter=JITTER)
    return backoff.delay(attempts)


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
    are told in-app."""
    conf = conf or webhook_settings()
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
    with transaction.atomic():
        hook = Webhook.objects.select_for_update().filter(pk=delivery.webhook_id).first()
        WebhookDelivery.objects.filter(
            pk=delivery.pk, attempts=delivery.attempts, status=QUEUED
        ).update(**fields)
        if hook is not None:
            _endpoint_outcome(hook, ok=answer.ok, now=now, conf=conf)
        # The endpoint is free again: wake the senders (this one's waiter listens between
        # looks at its in-process wakeup, so without it the next claim waited a slice).
        sql.notify_at_commit(NOTIFY_CHANNEL)
    return str(fields.get("status", QUEUED))


def _describe(answer: Answer) -> str:
    if answer.ok:
        return ""
    if answer.error:
        return answer.error
    text = answer.body[:300].decode("utf-8", "replace")
    return f"HTTP {answer.status}: {text}".strip()


def _endpoint_outcome(hook: Webhook, *, ok: bool, now: datetime, conf: WebhookSettings) -> None:
    hook.leased_until = None
    changed = ["leased_until"]
    if ok:
        if hook.failing_since is not None:
            hook.failing_since = None
            changed.append("failing_since")
    else:
        if hook.failing_since is None:
            hook.failing_since = now
            changed.append("failing_since")
        failing_for = (now - hook.failing_since).total_seconds()
        if hook.active and failing_for >= conf.disable_after:
            hook.active = False
            hook.disabled_at = now
            hours = round(conf.disable_after / 3600)
            hook.disabled_reason = f"every request failed for {hours} hours"
            hook.updated_at = now
            changed += ["active", "disabled_at", "disabled_reason", "updated_at"]
            _tell_admins(hook, hours=hours, now=now)
            logger.warning("webhook %s disabled: failing since %s", hook.pk, hook.failing_since)
    hook.save(update_fields=changed)


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
