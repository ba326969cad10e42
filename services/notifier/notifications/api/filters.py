"""Query-string filters of the list endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import django_filters
from django_filters.fields import IsoDateTimeField

from notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from servidesk_shared.moments import utc_moment


class UtcDateTimeField(IsoDateTimeField):
    """An ISO-8601 date-time, as the same instant in UTC (any offset Python reads)."""

    def to_python(self, value: Any) -> datetime | None:
        moment: datetime | None = super().to_python(value)
        return None if moment is None else utc_moment(moment)


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    recipient_id = django_filters.CharFilter()
    ticket_id = django_filters.CharFilter()
    event_id = django_filters.UUIDFilter()
    event_type = django_filters.CharFilter()
    kind = django_filters.CharFilter()
    provider_id = django_filters.CharFilter()
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    #: The same as ``created_after``, by the name the admin pages use.
    since = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Delivery
        fields: list[str] = []


class WebhookDeliveryFilter(django_filters.FilterSet):
    """One endpoint's delivery log: ``status`` (repeatable) and ``since``."""

    status = django_filters.MultipleChoiceFilter(choices=WebhookDeliveryStatus.choices)
    since = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []
