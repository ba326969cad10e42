"""web's own tables. web keeps no business data (the four APIs do); what it stores is the
live feed, what an open page is told as it happens (``portal.live``)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class LiveKind(models.TextChoices):
    #: Something changed on a ticket (a ticket event): the page fetches itself again.
    TICKET = "ticket", "ticket"
    #: A new entry in someone's notification feed: their bell moves.
    NOTIFICATION = "notification", "notification"
    #: A staff member is writing a reply on a ticket (ephemeral: seconds).
    TYPING = "typing", "typing"


class LiveEvent(models.Model):
    """One thing an open page may be told, with who may be told it.

    ``id`` is the Server-Sent Events id: rows are inserted one transaction at a time
    (``portal.live.services`` takes a lock first), so ids are in commit order and a stream
    that has read up to an id has missed nothing below it. Audience: a ticket row goes to
    staff, and to the ticket's client unless ``internal``; a notification row to
    ``recipient_id`` only; a typing row to staff only.
    """

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=20, choices=LiveKind.choices)
    ticket_id = models.CharField(max_length=64, blank=True, default="")
    client_id = models.CharField(max_length=64, blank=True, default="")
    internal = models.BooleanField(default=False)
    recipient_id = models.CharField(max_length=64, blank=True, default="")
    #: What the page is told (no user-typed text but a notification's title and a
    #: typing person's name, which the page shows as text).
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["recipient_id", "id"],
                condition=Q(kind="notification"),
                name="live_notification",
            ),
            models.Index(fields=["ticket_id", "id"], name="live_ticket"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.kind} {self.ticket_id or self.recipient_id}"
