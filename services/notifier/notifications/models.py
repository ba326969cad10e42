"""The notifier's tables: the contact and team directories, the in-app feed, the delivery log.

Ids of users and tickets are opaque strings here: they come from other services' events.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from servidesk_shared.events.schemas import UserCard

#: The fields of ``Contact`` a ``user.*`` event's card sets: the contract's card but its
#: ``id`` (the contact's key).
CARD_FIELDS = tuple(name for name in UserCard.__struct_fields__ if name != "id")


class Contact(models.Model):
    """A user's contact card as the last ``user.*`` event described it."""

    user_id = models.CharField(primary_key=True, max_length=64)
    username = models.CharField(max_length=150, blank=True)
    full_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    role = models.CharField(max_length=20, blank=True)
    language = models.CharField(max_length=10, blank=True)
    notify_email = models.BooleanField(default=True)
    notify_sms = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    #: The owner proved the address (a confirmation link) / the number (an SMS code): only
    #: a confirmed address gets mail and only a verified number gets SMS.
    email_verified = models.BooleanField(default=False)
    phone_verified = models.BooleanField(default=False)
    #: The event sequence this card comes from: an older event never overwrites a newer card.
    sequence = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.username or self.user_id} <{self.email}>"

    @property
    def display_name(self) -> str:
        return self.full_name or self.username or str(self.user_id)


class Team(models.Model):
    """A team of tickets as the last ``team.*`` event described it: who works its queue.

    A deleted team keeps its row, marked ``deleted`` (its ``team.deleted`` has the highest
    sequence, so a late ``team.updated`` cannot bring it back); nobody hears about its queue.
    """

    team_id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200, blank=True)
    #: The members' user ids, as strings (ids are opaque).
    member_ids = models.JSONField(default=list)
    lead_id = models.CharField(max_length=64, blank=True)
    deleted = models.BooleanField(default=False)
    #: The event sequence this card comes from: an older event never overwrites a newer card.
    sequence = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name or str(self.team_id)

    @property
    def people(self) -> list[str]:
        """Who works the team's queue: its members, and its lead if not among them."""
        found = [str(user_id) for user_id in self.member_ids]
        if self.lead_id and self.lead_id not in found:
            found.append(self.lead_id)
        return found


class Notification(models.Model):
    """One entry of a user's in-app feed, written in their language when it was created."""

    id = models.BigAutoField(primary_key=True)
    recipient_id = models.CharField(max_length=64)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    ticket_id = models.CharField(max_length=64)
    title = models.CharField(max_length=300)
    body = models.TextField()
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "recipient_id"], name="notification_once_per_event"
            )
        ]
        indexes = [
            models.Index(fields=["recipient_id", "-created_at"], name="notification_feed"),
            models.Index(
                fields=["recipient_id"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.title}"

    @property
    def read(self) -> bool:
        return self.read_at is not None


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class Delivery(models.Model):
    """One message to one recipient on one channel for one event: the delivery log.

    Written ``queued`` in the transaction that records the event; a sender claims it,
    sends outside any transaction and records the outcome. ``next_attempt_at`` doubles
    as the claim's lease: a sender that dies mid-send leaves the row to be claimed again
    once the lease is over. ``attempts`` is the fencing token of a claim.
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(default=uuid.uuid4)
    event_type = models.CharField(max_length=100)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=40)
    ticket_id = models.CharField(max_length=64, blank=True)
    #: What the message says, rendered at send time in the recipient's language.
    context = models.JSONField(default=dict)
    #: The email address or phone number it went to (resolved at send time).
    address = models.CharField(max_length=254, blank=True)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    provider_status = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: The day whose per-recipient allowance (``RecipientAllowance``) this delivery used,
    #: taken once before its first send: a retry does not count twice.
    allowance_day = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "channel", "recipient_id"], name="delivery_once"
            )
        ]
        indexes = [
            # Small and hot: only what a sender still has to do.
            models.Index(
                fields=["channel", "next_attempt_at"],
                condition=Q(status="queued"),
                name="delivery_due",
            ),
            models.Index(fields=["-created_at"], name="delivery_log"),
            models.Index(fields=["recipient_id", "-created_at"], name="delivery_recipient"),
            models.Index(
                fields=["provider_id"], condition=~Q(provider_id=""), name="delivery_provider"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} to {self.recipient_id}: {self.status}"


class RecipientAllowance(models.Model):
    """How many messages one address (an email address, a phone number) was sent on one
    channel on ``day`` (a calendar day in ``TIME_ZONE``): the daily cap's counter.

    One row per (channel, address), reset when a new day begins; senders lock it
    (``SELECT ... FOR UPDATE``) while they take slots, so two never give out the same one.
    """

    id = models.BigAutoField(primary_key=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "address"], name="recipient_allowance_once")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.address} on {self.day}: {self.count}"


class MailThread(models.Model):
    """The first mail about a ticket to one recipient: every later one answers it
    (``In-Reply-To``), so mail programs keep them together (see ``mail_thread.py``).

    Written by the consumer when it records that first mail, before it is sent: the
    unique key makes the first one recorded the root, whichever consumer records it.
    """

    id = models.BigAutoField(primary_key=True)
    ticket_id = models.CharField(max_length=64)
    recipient_id = models.CharField(max_length=64)
    root_message_id = models.CharField(max_length=250)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket_id", "recipient_id"], name="mail_thread_once")
        ]

    def __str__(self) -> str:
        return f"ticket {self.ticket_id} to {self.recipient_id}: {self.root_message_id}"


class Webhook(models.Model):
    """An admin's endpoint that receives events as signed JSON ``POST``s (``webhooks/``).

    ``secret`` signs every delivery; the API shows it once (on creation and on rotation).
    ``failing_since`` is the first failure since the last success: an endpoint failing for
    ``WEBHOOK_DISABLE_AFTER`` is switched off (``active`` false, ``disabled_at`` set).
    ``leased_until`` holds its one request in flight: a sender claims one delivery of an
    endpoint at a time, so a slow endpoint only ever waits for itself.
    """

    id = models.BigAutoField(primary_key=True)
    url = models.CharField(max_length=2000)
    #: Event types (``["*"]``: every type webhooks offer).
    events = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    created_by = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"webhook {self.pk} {self.url}"

    def wants(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


class WebhookDeliveryStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one endpoint: written ``queued`` in the consumer's transaction, posted
    by ``manage.py send_webhooks`` outside it, retried with backoff until it is answered
    with a 2xx or ``WEBHOOK_RETRY_FOR`` has passed since it was recorded.

    ``delivery_id`` is the ``X-Servidesk-Delivery`` header, the same on every retry; a
    redelivery (``redelivery_of``) is a new row with a new one. Deliveries of one endpoint
    about one aggregate (a ticket) go out in event ``sequence`` order: one waits while an
    earlier one is still queued (redeliveries excepted: an admin asked for them).
    """

    id = models.BigAutoField(primary_key=True)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=64)
    sequence = models.PositiveBigIntegerField()
    occurred_at = models.DateTimeField()
    #: The event's ``data`` as the endpoint receives it.
    data = models.JSONField(default=dict)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )
    status = models.CharField(
        max_length=10,
        choices=WebhookDeliveryStatus.choices,
        default=WebhookDeliveryStatus.QUEUED,
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "event_id"],
                condition=Q(redelivery_of__isnull=True),
                name="webhook_delivery_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["webhook", "next_attempt_at"],
                condition=Q(status="queued"),
                name="webhook_delivery_due",
            ),
            models.Index(
                fields=["webhook", "aggregate_id", "sequence"],
                condition=Q(status="queued"),
                name="webhook_delivery_chain",
            ),
            models.Index(fields=["webhook", "-created_at", "-id"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to webhook {self.webhook_id}: {self.status}"
