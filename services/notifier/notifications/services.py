"""Writes of the notifier: the contact and team directories, recording notifications, the
delivery log.

Recording (``notifications_record``, ``phone_code_record``, ``delivery_mark_bounced``)
runs inside the consumer's inbox transaction and touches only this database; messages go
out later, from ``sender.py``, outside it. Before a sender hands messages to a provider,
each takes a slot of its recipient's daily allowance (``delivery_take_allowance``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound

from notifications import mail_thread, phone_code, rules, selectors, sql, wakeup
from notifications.channels import email, sms
from notifications.channels.base import Sent
from notifications.conf import NotifierSettings, notifier_settings
from notifications.messages import Kind, compose, one_line
from notifications.models import (
    CARD_FIELDS,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Notification,
    RecipientAllowance,
    Team,
)
from servidesk_shared.backoff import Backoff
from servidesk_shared.errors import ConflictError
from servidesk_shared.events.publisher import publish
from servidesk_shared.events.schemas import (
    NotificationCreated,
    PhoneCodeRequested,
    TeamCard,
    TeamDeleted,
    TicketEvent,
    UserCard,
    UserDeactivated,
)

logger = logging.getLogger(__name__)

_SKIP_REASONS = {Channel.EMAIL: email.skip_reason, Channel.SMS: sms.skip_reason}


# --- contact directory ------------------------------------------------------------------


def contact_apply(*, card: UserCard, sequence: int) -> bool:
    """Keep ``card`` unless a newer one (higher event sequence) is already known.

    One transaction (the consumer's, when it applies the event: joined, no savepoint):
    the card's row stays locked from the comparison to the write."""
    with transaction.atomic(savepoint=False):
        return _contact_apply(card, sequence)


def _contact_apply(card: UserCard, sequence: int) -> bool:
    values = {name: getattr(card, name) for name in CARD_FIELDS}
    values.update(email=values["email"] or "", phone=values["phone"] or "")
    if isinstance(card, UserDeactivated):
        values["is_active"] = False  # whatever the card says, the event is the fact
    user_id = str(card.id)
    contact = Contact.objects.select_for_update().filter(pk=user_id).first()
    if contact is None:
        try:
            with transaction.atomic():
                Contact.objects.create(
                    user_id=user_id, sequence=sequence, updated_at=timezone.now(), **values
                )
        except IntegrityError:  # created concurrently: compare with that one instead
            contact = Contact.objects.select_for_update().get(pk=user_id)
        else:
            _release_waiting_deliveries(user_id)
            return True
    if contact.sequence >= sequence:
        return False
    for name, value in values.items():
        setattr(contact, name, value)
    contact.sequence = sequence
    contact.updated_at = timezone.now()
    contact.save()
    return True


def _release_waiting_deliveries(user_id: str) -> None:
    """Deliveries that were waiting for this card fall due now rather than at their recheck.

    ``attempts == 0`` singles out rows no sender holds: a claim always bumps it.
    """
    released = Delivery.objects.filter(
        recipient_id=user_id, status=DeliveryStatus.QUEUED, attempts=0
    ).update(next_attempt_at=timezone.now())
    if released:
        wakeup.nudge_on_commit()


# --- team directory ---------------------------------------------------------------------


def team_apply(*, card: TeamCard, sequence: int) -> bool:
    """Keep ``card`` (``team.created|updated|deleted``) unless a newer one (higher event
    sequence) is already known; ``team.deleted`` marks the team deleted. As
    ``contact_apply``: in the consumer's transaction, the row locked from the comparison
    to the write, so the same event twice or events out of order leave the newest card."""
    values: dict[str, Any] = {
        "name": card.name,
        "member_ids": [str(user_id) for user_id in card.member_ids],
        "lead_id": "" if card.lead_id is None else str(card.lead_id),
        "deleted": isinstance(card, TeamDeleted),
    }
    team_id = str(card.id)
    with transaction.atomic(savepoint=False):
        team = Team.objects.select_for_update().filter(pk=team_id).first()
        if team is None:
            try:
                with transaction.atomic():
                    Team.objects.create(
                        team_id=team_id, sequence=sequence, updated_at=timezone.now(), **values
                    )
            except IntegrityError:  # created concurrently: compare with that one instead
                team = Team.objects.select_for_update().get(pk=team_id)
            else:
                return True
        if team.sequence >= sequence:
            return False
        for name, value in values.items():
            setattr(team, name, value)
        team.sequence = sequence
        team.updated_at = timezone.now()
        team.save()
        return True


# --- recording notifications ------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    notifications: int
    queued: int
    skipped: int


def notifications_record(
    *,
    event_id: uuid.UUID,
    event_type: str,
    data: TicketEvent,
    occurred_at: datetime | None = None,
) -> Recorded:
    """The in-app notifications and the deliveries (queued or skipped) of one ticket event.

    Who is told is ``rules``' to say; a ticket landing in a team's queue reads the team's
    people and name from the team directory as it is now. Each message belongs to the
    ticket it is about (``rules.subject_of``: for a merge, the ticket it went into).

    Idempotent on its own: a second call for the same event adds nothing (unique keys,
    conflicts ignored), whether or not the caller deduplicated it first. The feed, the
    deliveries and the mail threads begun are written in one transaction (the consumer's,
    when it applies the event).
    """
    team = selectors.team_working(rules.team_needed(data))
    recipients = rules.recipients_for(
        data,
        team_people=team.people if team else (),
        team_lead=(team.lead_id or None) if team else None,
    )
    if not recipients:
        return Recorded(0, 0, 0)
    contacts = selectors.contacts_by_id([r.user_id for r in recipients])
    ticket_id = str(rules.subject_of(data).id)
    team_name = team.name if team else ""
    told: list[tuple[rules.Recipient, Contact | None, dict[str, Any]]] = []
    for recipient in recipients:
        contact = contacts.get(recipient.user_id)
        if recipient.kind in Kind.STAFF_ONLY and contact is not None and contact.role == "client":
            logger.warning("%s of %s not sent to client %s", recipient.kind, event_id, contact.pk)
            continue
        told.append(
            (recipient, contact, rules.context_for(data, recipient.kind, team_name=team_name))
        )
    mailed = [
        recipient.user_id
        for recipient, contact, _context in told
        if Channel.EMAIL in Kind.channels(recipient.kind)
        and (contact is None or not email.skip_reason(contact))
    ]
    with transaction.atomic(savepoint=False):
        threads = _mail_thread_roots(event_id=event_id, ticket_id=ticket_id, recipients=mailed)
        feed, deliveries, queued = _rows(
            told,
            threads,
            event_id=event_id,
            event_type=event_type,
            ticket_id=ticket_id,
            occurred_at=occurred_at,
        )
        added = sql.NOTIFICATIONS.execute_returning(feed, ("id", "recipient_id"))
        notifications_announce(feed, added)
        sql.DELIVERIES.execute(deliveries)
    if queued:
        wakeup.nudge_on_commit()
    return Recorded(len(feed), queued, len(deliveries) - queued)


def feed_entry_add(
    *,
    recipient_id: str,
    event_id: uuid.UUID,
    event_type: str,
    ticket_id: str,
    title: str,
    body: str,
    created_at: datetime,
) -> bool:
    """One entry in ``recipient_id``'s feed (once per event and recipient), announced
    with ``notification.created`` like every entry; in the caller's transaction. False
    when the event had already added it."""
    row = (recipient_id, event_id, event_type, ticket_id, title[:300], body, created_at)
    added = sql.NOTIFICATIONS.execute_returning([row], ("id", "recipient_id"))
    return notifications_announce([row], added) == 1


def notifications_announce(feed: Sequence[Sequence[Any]], added: Sequence[tuple[Any, ...]]) -> int:
    """Publish ``notification.created`` for each feed entry just ``added``, in the
    caller's transaction (the outbox's): web's live stream moves the recipient's bell.

    ``feed`` are rows as ``sql.NOTIFICATIONS`` takes them; ``added`` the ``(id,
    recipient_id)`` of those the insert kept (a redelivered event adds none, and so
    announces none). The unread counts are read once for every recipient, after the
    insert. Returns how many were published.
    """
    if not added:
        return 0
    by_recipient = {str(row[0]): row for row in feed}
    unread = selectors.unread_counts([str(recipient) for _id, recipient in added])
    for notification_id, recipient in added:
        row = by_recipient[str(recipient)]
        _recipient, _event_id, event_type, ticket_id, title, _body, created_at = row
        publish(
            NotificationCreated(
                user_id=str(recipient),
                notification_id=notification_id,
                ticket_id=str(ticket_id) or None,
                event_type=event_type,
                title=title,
                created_at=created_at,
                unread_count=unread.get(str(recipient), 0),
            )
        )
    return len(added)


def _rows(
    told: Sequence[tuple[rules.Recipient, Contact | None, dict[str, Any]]],
    threads: dict[str, str],
    *,
    event_id: uuid.UUID,
    event_type: str,
    ticket_id: str,
    occurred_at: datetime | None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """The feed rows and the delivery rows of the people ``told``, and how many queued.

    An email delivery's context names its mail thread's root (``thread_root``). A kind
    goes out on its channels alone (``Kind.channels``): none but the feed for some."""
    now = timezone.now()
    feed: list[tuple[Any, ...]] = []
    deliveries: list[tuple[Any, ...]] = []
    queued = 0
    for recipient, contact, context in told:
        if contact is None or contact.is_active:
            composed = compose(context, contact.language if contact else None)
            feed.append(
                (
                    recipient.user_id,
                    event_id,
                    event_type,
                    ticket_id,
                    composed.title[:300],
                    composed.in_app_body,
                    occurred_at or now,
                )
            )
        for channel in (Channel.EMAIL, Channel.SMS):
            if channel not in Kind.channels(recipient.kind):
                continue  # the kind does not go out on it: no row at all
            reason = _SKIP_REASONS[channel](contact) if contact is not None else None
            queued += not reason
            deliveries.append(
                (
                    event_id,
                    event_type,
                    channel.value,
                    recipient.user_id,
                    recipient.kind,
                    ticket_id,
                    _channel_context(context, channel, threads.get(recipient.user_id)),
                    (DeliveryStatus.SKIPPED if reason else DeliveryStatus.QUEUED).value,
                    reason or "",
                    now,
                    now,
                    now,
                )
            )
    return feed, deliveries, queued


def _channel_context(context: dict[str, Any], channel: Channel, root: str | None) -> dict[str, Any]:
    """What the delivery of ``context`` on ``channel`` keeps: a mail names its thread's
    root (``thread_root``); an SMS does without the rating link's token (``csat``), which
    only the client's mail and feed entry carry."""
    if channel == Channel.EMAIL:
        return {**context, "thread_root": root} if root else context
    return {key: value for key, value in context.items() if key != "csat"}


def _mail_thread_roots(
    *, event_id: uuid.UUID, ticket_id: str, recipients: Sequence[str]
) -> dict[str, str]:
    """The root Message-ID of each recipient's mail thread about the ticket: this event's
    own mail to them when it is the first one (see ``mail_thread``). In the caller's
    transaction: read the threads; begin the missing ones with this event's mails (an
    insert that leaves alone a thread another consumer began meanwhile: then read again).
    """
    if not recipients or not mail_thread.threadable(ticket_id):
        return {}
    roots = selectors.mail_thread_roots(ticket_id=ticket_id, recipient_ids=recipients)
    missing = {
        user_id: mail_thread.message_id(
            ticket_id=ticket_id, event_id=event_id, recipient_id=user_id
        )
        for user_id in recipients
        if user_id not in roots
    }
    if not missing:
        return roots
    now = timezone.now()
    begun = sql.MAIL_THREADS.execute(
        [(ticket_id, user_id, root, now) for user_id, root in missing.items()]
    )
    if begun < len(missing):  # begun by someone else in between: theirs is the root
        return selectors.mail_thread_roots(ticket_id=ticket_id, recipient_ids=recipients)
    return {**roots, **missing}


def phone_code_record(*, event_id: uuid.UUID, data: PhoneCodeRequested) -> bool:
    """The SMS delivery of a verification code: queued, or skipped with the reason (then
    without the code). No in-app entry, and nothing logged: the code is a secret.

    The number need not be verified (the code is how it gets verified); the country
    allow-list applies, and the daily cap when it is sent. ``False`` if the event was
    recorded before.
    """
    user_id = str(data.user_id)
    contact = selectors.contacts_by_id([user_id]).get(user_id)
    reason = sms.phone_code_skip_reason(phone=data.phone, contact=contact)
    context = phone_code.context_for(
        phone=data.phone, code=data.code, language=data.language, expires_at=data.expires_at
    )
    now = timezone.now()
    status = DeliveryStatus.SKIPPED if reason else DeliveryStatus.QUEUED
    row = (
        event_id,
        data.type,
        Channel.SMS.value,
        user_id,
        phone_code.KIND,
        "",
        phone_code.without_code(context) if reason else context,
        status.value,
        reason or "",
        now,
        now,
        now,
    )
    inserted = sql.DELIVERIES.execute([row])
    if inserted and not reason:
        wakeup.nudge_on_commit()
    return bool(inserted)


# --- the in-app feed --------------------------------------------------------------------


def notification_mark_read(*, user_id: object, notification_id: int) -> None:
    """Mark one of the caller's notifications read (again is fine); 404 if not theirs."""
    updated = Notification.objects.filter(pk=notification_id, recipient_id=str(user_id)).update(
        read_at=Coalesce(F("read_at"), timezone.now())
    )
    if not updated:
        raise NotFound()


def notification_mark_all_read(*, user_id: object) -> int:
    return Notification.objects.filter(recipient_id=str(user_id), read_at__isnull=True).update(
        read_at=timezone.now()
    )


# --- the delivery log: what senders write ------------------------------------------------


def delivery_claim_due(
    *, channel: str, limit: int, conf: NotifierSettings | None = None
) -> list[Delivery]:
    """Reserve up to ``limit`` due deliveries of ``channel`` for this sender, oldest id first.

    ``SKIP LOCKED`` lets several senders share the queue; the claim commits at once
    (bumping ``attempts`` and pushing ``next_attempt_at`` by the lease), so the send
    itself happens outside any transaction and a crash only delays a row by the lease.
    """
    conf = conf or notifier_settings()
    now = timezone.now()
    return sql.claim_due(
        channel=channel, limit=limit, now=now, lease_end=now + timedelta(seconds=conf.send_lease)
    )


#: What the log says of a delivery refused by its recipient's daily cap.
_OVER_CAP: Final = {
    Channel.SMS.value: "over the daily cap of {cap} SMS to this number "
    "(SMS_MAX_PER_RECIPIENT_PER_DAY)",
    Channel.EMAIL.value: "over the daily cap of {cap} emails to this address "
    "(EMAIL_MAX_PER_RECIPIENT_PER_DAY)",
}


def delivery_take_allowance(
    *,
    channel: str,
    wanted: Sequence[tuple[Delivery, str]],
    conf: NotifierSettings | None = None,
) -> dict[int, str]:
    """Take a slot of today's allowance of its address for each ``(delivery, address)``
    about to be sent; the deliveries refused (the address is at its cap), with the reason.

    The cap is per channel and address (``SMS_MAX_PER_RECIPIENT_PER_DAY``,
    ``EMAIL_MAX_PER_RECIPIENT_PER_DAY``) per calendar day in ``TIME_ZONE``. A delivery
    takes its slot once (``allowance_day``): its retries take no other. One transaction:
    the addresses' counter rows are created if missing, then locked (``SELECT ... FOR
    UPDATE``, in address order, so that two senders never deadlock): a second sender
    waits for the first to commit and sees its count, so no slot is handed out twice.
    """
    conf = conf or notifier_settings()
    wanted = [(delivery, address) for delivery, address in wanted if delivery.allowance_day is None]
    if not wanted:
        return {}
    cap = conf.max_per_recipient_per_day(channel)
    reason = _OVER_CAP[channel].format(cap=cap)
    today = timezone.localdate()
    addresses = sorted({address for _delivery, address in wanted})
    refused: dict[int, str] = {}
    granted: list[int] = []
    with transaction.atomic():
        RecipientAllowance.objects.bulk_create(
            [RecipientAllowance(channel=channel, address=a, day=today) for a in addresses],
            ignore_conflicts=True,
        )
        counters = {
            counter.address: counter
            for counter in RecipientAllowance.objects.select_for_update()
            .filter(channel=channel, address__in=addresses)
            .order_by("address")
        }
        for delivery, address in wanted:
            counter = counters[address]
            if counter.day < today:  # a new day (a sender whose clock is behind adds to it)
                counter.day, counter.count = today, 0
            if counter.count >= cap:
                refused[delivery.pk] = reason
            else:
                counter.count += 1
                granted.append(delivery.pk)
        RecipientAllowance.objects.bulk_update(list(counters.values()), ["day", "count"])
        if granted:
            Delivery.objects.filter(pk__in=granted).update(allowance_day=today)
    return refused


def _finish(delivery: Delivery, **fields: object) -> bool:
    """Record an outcome, unless the claim was lost (the lease ran out and another took it)."""
    fields["updated_at"] = timezone.now()
    updated = Delivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.QUEUED, attempts=delivery.attempts
    ).update(**fields)
    if not updated:
        logger.warning("delivery %s: claim lost before its outcome was recorded", delivery.pk)
    return bool(updated)


def delivery_mark_sent(sent: Sequence[tuple[Delivery, Sent]]) -> int:
    """Record deliveries as sent, in one statement; how many claims still held.

    Each row is updated only if its own claim holds (its ``attempts``), as ``_finish`` does.
    """
    rows = [
        (d.pk, d.attempts, result.address, result.provider_id, result.provider_status)
        for d, result in sent
    ]
    updated = sql.mark_sent(rows, now=timezone.now())
    if updated < len(sent):
        logger.warning(
            "%d of %d deliveries: claim lost before their outcome was recorded",
            len(sent) - updated,
            len(sent),
        )
    return updated


def delivery_mark_skipped(delivery: Delivery, *, reason: str) -> bool:
    return _finish(delivery, status=DeliveryStatus.SKIPPED, last_error=reason)


def delivery_mark_failed(delivery: Delivery, *, reason: str) -> bool:
    return _finish(delivery, status=DeliveryStatus.FAILED, last_error=reason)


def retry_delay(attempts: int, conf: NotifierSettings) -> float:
    """Exponential backoff with ±20 % jitter, so a recovered server is not hit all at once."""
    policy = Backoff(start=conf.retry_delay, factor=2.0, cap=conf.retry_delay_max, jitter=0.2)
    return policy.delay(attempts)


def delivery_mark_transient(
    delivery: Delivery, *, reason: str, conf: NotifierSettings | None = None
) -> bool:
    """Retry later with backoff, or fail for good once the attempts are spent."""
    conf = conf or notifier_settings()
    if delivery.attempts >= conf.max_attempts:
        return delivery_mark_failed(
            delivery, reason=f"gave up after {delivery.attempts} attempts: {reason}"
        )
    delay = retry_delay(delivery.attempts, conf)
    return _finish(
        delivery,
        last_error=reason,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )


def delivery_defer(delivery: Delivery, *, reason: str, seconds: float) -> bool:
    """Wait without spending an attempt (the recipient's contact card has not arrived)."""
    return _finish(
        delivery,
        attempts=delivery.attempts - 1,
        last_error=reason,
        next_attempt_at=timezone.now() + timedelta(seconds=seconds),
    )


@dataclass(frozen=True)
class Outcome:
    """How one claimed delivery's attempt ended, to be written by ``delivery_record``."""

    delivery: Delivery
    #: ``sent``, ``skipped``, ``failed``, ``retry`` (transient) or ``defer`` (no contact yet).
    result: str
    reason: str = ""
    sent: Sent | None = None
    seconds: float = 0.0

    @classmethod
    def success(cls, delivery: Delivery, sent: Sent) -> Outcome:
        return cls(delivery, "sent", sent=sent)

    @classmethod
    def skipped(cls, delivery: Delivery, *, reason: str) -> Outcome:
        return cls(delivery, "skipped", reason)

    @classmethod
    def failed(cls, delivery: Delivery, *, reason: str) -> Outcome:
        return cls(delivery, "failed", reason)

    @classmethod
    def transient(cls, delivery: Delivery, *, reason: str) -> Outcome:
        return cls(delivery, "retry", reason)

    @classmethod
    def defer(cls, delivery: Delivery, *, reason: str, seconds: float) -> Outcome:
        return cls(delivery, "defer", reason, seconds=seconds)


def delivery_record(outcomes: Sequence[Outcome], *, conf: NotifierSettings | None = None) -> int:
    """Write a batch's outcomes; how many claims still held.

    One transaction (one commit): the sent ones in a single ``UPDATE``, the rare others one
    by one, and the verification codes of the deliveries now final erased. A batch that
    was all sent, without a code, is that one ``UPDATE`` alone, atomic by itself: without
    ``BEGIN`` and ``COMMIT`` around it, two round trips fewer per batch.
    """
    conf = conf or notifier_settings()
    sent = [(o.delivery, o.sent) for o in outcomes if o.sent is not None]
    codes = [o.delivery for o in outcomes if _carries_code(o.delivery)]
    if len(sent) == len(outcomes) and not codes:
        return delivery_mark_sent(sent)
    with transaction.atomic():
        recorded = delivery_mark_sent(sent) if sent else 0
        for outcome in outcomes:
            if outcome.sent is None:
                recorded += _record_one(outcome, conf)
        for delivery in codes:  # sent, skipped or failed: the code is not needed any more
            Delivery.objects.filter(pk=delivery.pk).exclude(status=DeliveryStatus.QUEUED).update(
                context=phone_code.without_code(delivery.context)
            )
    return recorded


def _record_one(outcome: Outcome, conf: NotifierSettings) -> bool:
    if outcome.result == "skipped":
        return delivery_mark_skipped(outcome.delivery, reason=outcome.reason)
    if outcome.result == "failed":
        return delivery_mark_failed(outcome.delivery, reason=outcome.reason)
    if outcome.result == "retry":
        return delivery_mark_transient(outcome.delivery, reason=outcome.reason, conf=conf)
    if outcome.result == "defer":
        return delivery_defer(outcome.delivery, reason=outcome.reason, seconds=outcome.seconds)
    raise ValueError(f"unknown outcome {outcome.result!r}")


def _carries_code(delivery: Delivery) -> bool:
    return delivery.kind == phone_code.KIND and "code" in delivery.context


# --- provider callbacks -----------------------------------------------------------------

#: Twilio's message statuses that end a delivery one way or the other.
_TWILIO_DELIVERED = frozenset({"delivered", "read"})
_TWILIO_FAILED = frozenset({"failed", "undelivered", "canceled"})


def delivery_apply_sms_status(
    *, provider_id: str, provider_status: str, error_code: str = ""
) -> bool:
    """Apply a Twilio status callback; ``False`` when no delivery has that message SID.

    Final states are never left: a late ``sent`` after ``delivered`` only updates
    ``provider_status`` if the row is still ``sent``.
    """
    provider_status = provider_status.lower()
    with transaction.atomic():  # the row stays locked from the read to the write
        rows = Delivery.objects.select_for_update().filter(
            channel=Channel.SMS, provider_id=provider_id
        )
        delivery = rows.first()
        if delivery is None:
            return False
        if delivery.status == DeliveryStatus.SENT:
            _apply_sms_status(delivery, provider_status, error_code)
        return True


def _apply_sms_status(delivery: Delivery, provider_status: str, error_code: str) -> None:
    delivery.provider_status = provider_status
    if provider_status in _TWILIO_DELIVERED:
        delivery.status = DeliveryStatus.DELIVERED
    elif provider_status in _TWILIO_FAILED:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = f"Twilio reported {provider_status}" + (
            f" (error {error_code})" if error_code else ""
        )
    delivery.updated_at = timezone.now()
    delivery.save(update_fields=["provider_status", "status", "last_error", "updated_at"])


#: How much of a bounce report's text the log keeps.
BOUNCE_REASON_LENGTH: Final = 500


def delivery_mark_bounced(*, message_id: str, recipient: str, reason: str) -> bool:
    """Mark the mail whose Message-ID is ``message_id`` failed: a delivery-status report
    came back for it (tickets reads the support mailbox and publishes ``mail.bounced``).

    ``False`` when no mail of ours has that Message-ID (logged, nothing changes). The
    report's texts are a stranger's: they are kept on one line and cut short.
    """
    message_id = message_id.strip()
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    detail = one_line(reason)[:BOUNCE_REASON_LENGTH] or "no reason given"
    who = one_line(recipient)[:254]
    with transaction.atomic(savepoint=False):  # the row stays locked from the read to the write
        delivery = (
            Delivery.objects.select_for_update()
            .filter(channel=Channel.EMAIL, provider_id=message_id)
            .first()
        )
        if delivery is None:
            logger.info("bounce for unknown Message-ID %s ignored", one_line(message_id)[:300])
            return False
        delivery.status = DeliveryStatus.FAILED
        delivery.provider_status = "bounced"
        delivery.last_error = f"bounced ({who}): {detail}" if who else f"bounced: {detail}"
        delivery.updated_at = timezone.now()
        delivery.save(update_fields=["status", "provider_status", "last_error", "updated_at"])
    logger.info("delivery %s bounced: %s", delivery.pk, detail)
    return True


# --- admins: a failed delivery sent again -----------------------------------------------


def delivery_retry(*, delivery: Delivery) -> Delivery:
    """Queue a failed ``delivery`` again, as a new one: due now, with its attempts back at
    zero (``NOTIFIER_MAX_ATTEMPTS`` more) and its provider's answer and error cleared; the
    senders are woken once this commits. It keeps the daily allowance it took.

    409 (``ConflictError``) unless it is ``failed``, or when it carried a phone
    verification code (a stale code is never sent again: the user asks for a new one).
    """
    if delivery.kind == phone_code.KIND:
        raise ConflictError(
            _("A verification code is not sent again: the user can ask for a new one.")
        )
    now = timezone.now()
    with transaction.atomic():
        retried = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            last_error="",
            provider_id="",
            provider_status="",
            sent_at=None,
            updated_at=now,
        )
        if not retried:
            raise ConflictError(_("Only a failed delivery can be retried."))
        wakeup.nudge_on_commit()
    delivery.refresh_from_db()
    return delivery
