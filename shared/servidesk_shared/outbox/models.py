"""The tables of the event bus, living in each service's own database.

Producer side: ``OutboxMessage`` (events waiting for the relay) and ``AggregateSequence``
(the last sequence number given to each aggregate). Consumer side: ``InboxEntry`` (event
ids already applied) and ``ProjectionVersion`` (the newest sequence applied per
aggregate, so an older snapshot never overwrites a newer one).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """One event written in the business transaction, published later by the relay."""

    # Ordered by this: an increasing key is the cheapest "oldest first" for the relay.
    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=100)
    sequence = models.PositiveBigIntegerField()
    envelope = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Small and hot: only the rows still to send, which the relay scans.
            models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="outbox_unsent"),
            models.Index(
                fields=["sent_at"], condition=Q(sent_at__isnull=False), name="outbox_sent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class AggregateSequence(models.Model):
    """The last sequence number handed out for one aggregate (a ticket, a user)."""

    aggregate_type = models.CharField(max_length=50)
    aggregate_id = models.CharField(max_length=100)
    last_sequence = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["aggregate_type", "aggregate_id"], name="aggregate_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.aggregate_type}:{self.aggregate_id}@{self.last_sequence}"


class InboxEntry(models.Model):
    """An event this service has applied; written in the same transaction as the effect."""

    event_id = models.UUIDField(primary_key=True)
    event_type = models.CharField(max_length=100)
    queue = models.CharField(max_length=200)
    processed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = "inbox entries"

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class ProjectionVersion(models.Model):
    """The newest sequence this service applied for one aggregate."""

    aggregate_type = models.CharField(max_length=50)
    aggregate_id = models.CharField(max_length=100)
    sequence = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["aggregate_type", "aggregate_id"], name="projection_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.aggregate_type}:{self.aggregate_id}@{self.sequence}"
