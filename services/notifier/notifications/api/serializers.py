"""JSON shapes of the notifier API (the feed's is fixed by the contract)."""

from __future__ import annotations

from rest_framework import serializers

from notifications.models import Delivery, Notification


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    read = serializers.BooleanField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "event_type", "ticket_id", "title", "body", "read", "created_at"]
        read_only_fields = fields


class UnreadCountSerializer(serializers.Serializer[dict[str, int]]):
    count = serializers.IntegerField()


class UnreadFilterSerializer(serializers.Serializer[dict[str, bool | None]]):
    unread = serializers.BooleanField(required=False, allow_null=True, default=None)


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "channel",
            "recipient_id",
            "kind",
            "ticket_id",
            "address",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "provider_id",
            "provider_status",
            "created_at",
            "updated_at",
            "sent_at",
        ]
        read_only_fields = fields
