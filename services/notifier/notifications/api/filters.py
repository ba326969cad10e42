"""Query-string filters of the list endpoints."""

from __future__ import annotations

import django_filters

from notifications.models import Channel, Delivery, DeliveryStatus


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    recipient_id = django_filters.CharFilter()
    ticket_id = django_filters.CharFilter()
    event_id = django_filters.UUIDFilter()
    event_type = django_filters.CharFilter()
    kind = django_filters.CharFilter()
    provider_id = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Delivery
        fields: list[str] = []
