"""Pruning: sent outbox rows and remembered inbox ids are kept for a while, then deleted."""

from __future__ import annotations

from django.db.models import Model, QuerySet
from django.utils import timezone

from servidesk_shared.events.conf import EventSettings
from servidesk_shared.outbox.models import InboxEntry, OutboxMessage

CHUNK = 5000


def prune_outbox(conf: EventSettings, *, using: str = "default") -> int:
    cutoff = timezone.now() - conf.outbox_retention
    return _delete_in_chunks(OutboxMessage.objects.using(using).filter(sent_at__lt=cutoff))


def prune_inbox(conf: EventSettings, *, using: str = "default") -> int:
    """Ids are kept long enough to cover redeliveries and any replay of dead letters."""
    cutoff = timezone.now() - conf.inbox_retention
    return _delete_in_chunks(InboxEntry.objects.using(using).filter(processed_at__lt=cutoff))


def _delete_in_chunks(queryset: QuerySet[Model]) -> int:
    # Short DELETEs: a big backlog never holds locks that would stall the relay or requests.
    removed = 0
    while ids := list(queryset.values_list("pk", flat=True)[:CHUNK]):
        removed += queryset.model._default_manager.using(queryset.db).filter(pk__in=ids).delete()[0]
    return removed
