"""The webhooks API (admins): endpoints, their secret, their delivery log, redelivery.

Thin views: parse, call ``notifications.webhooks`` selectors and services, serialize.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.api.filters import WebhookDeliveryFilter
from notifications.models import Webhook, WebhookDelivery
from notifications.webhooks import selectors, services
from notifications.webhooks.conf import webhook_settings
from notifications.webhooks.events import ALL, subscribable
from notifications.webhooks.outbound import MAX_URL_LENGTH, url_problem
from servidesk_shared.openapi import error_response
from servidesk_shared.pagination import CursorPage
from servidesk_shared.permissions import IsAdmin

MAX_EVENTS = 100


class NewestFirst(CursorPage):
    ordering = ("-created_at", "-id")


class WebhookSerializer(serializers.ModelSerializer[Webhook]):
    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "events",
            "active",
            "created_at",
            "updated_at",
            "failing_since",
            "disabled_at",
            "disabled_reason",
        ]
        read_only_fields = fields


class WebhookWithSecretSerializer(WebhookSerializer):
    """The endpoint with its secret: only on creation and on rotation."""

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookInputSerializer(serializers.Serializer[dict[str, Any]]):
    url = serializers.CharField(max_length=MAX_URL_LENGTH, trim_whitespace=True)
    events = serializers.ListField(
        child=serializers.CharField(max_length=100), allow_empty=False, max_length=MAX_EVENTS
    )
    active = serializers.BooleanField(default=True)

    def validate_url(self, value: str) -> str:
        problem = url_problem(value, webhook_settings())
        if problem:
            raise serializers.ValidationError(problem)
        return value

    def validate_events(self, value: list[str]) -> list[str]:
        wanted = list(dict.fromkeys(value))  # each once, in the order given
        if ALL in wanted:
            if len(wanted) > 1:
                raise serializers.ValidationError(
                    _('"*" (every event) cannot be combined with event names.')
                )
            return wanted
        known = subscribable()
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise serializers.ValidationError(
                _('Unknown event type(s): %(unknown)s. Known: %(known)s, or "*".')
                % {"unknown": ", ".join(unknown), "known": ", ".join(sorted(known))}
            )
        return wanted


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    next_retry_at = serializers.SerializerMethodField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event_id",
            "event_type",
            "aggregate_id",
            "sequence",
            "status",
            "attempts",
            "last_status_code",
            "last_duration_ms",
            "last_error",
            "next_retry_at",
            "redelivery_of",
            "created_at",
            "updated_at",
            "delivered_at",
        ]
        read_only_fields = fields

    def get_next_retry_at(self, delivery: WebhookDelivery) -> str | None:
        """When it is tried next: only while queued."""
        if delivery.status != services.QUEUED:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


def _webhook(webhook_id: int) -> Webhook:
    found = selectors.webhook_get(webhook_id)
    if found is None:
        raise NotFound(_("No such webhook."))
    return found


class WebhookListView(ListAPIView[Webhook]):
    """Every endpoint (never its secret)."""

    permission_classes = [IsAdmin]
    serializer_class = WebhookSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[Webhook]:
        return selectors.webhook_list()

    @extend_schema(
        request=WebhookInputSerializer,
        responses={201: WebhookWithSecretSerializer, 400: error_response("Invalid URL or events.")},
    )
    def post(self, request: Request) -> Response:
        given = WebhookInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        webhook = services.webhook_create(
            url=given.validated_data["url"],
            events=given.validated_data["events"],
            active=given.validated_data["active"],
            created_by=str(request.user.id),
        )
        return Response(WebhookWithSecretSerializer(webhook).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(responses=WebhookSerializer)
    def get(self, request: Request, webhook_id: int) -> Response:
        return Response(WebhookSerializer(_webhook(webhook_id)).data)

    @extend_schema(
        request=WebhookInputSerializer,
        responses={200: WebhookSerializer, 400: error_response("Invalid URL or events.")},
    )
    def patch(self, request: Request, webhook_id: int) -> Response:
        webhook = _webhook(webhook_id)
        given = WebhookInputSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        services.webhook_update(webhook, **given.validated_data)
        return Response(WebhookSerializer(webhook).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, webhook_id: int) -> Response:
        services.webhook_delete(_webhook(webhook_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretView(APIView):
    """A new secret, shown once; the old one signs nothing more."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses=WebhookWithSecretSerializer)
    def post(self, request: Request, webhook_id: int) -> Response:
        webhook = services.webhook_rotate_secret(_webhook(webhook_id))
        return Response(WebhookWithSecretSerializer(webhook).data)


class WebhookDeliveryListView(ListAPIView[WebhookDelivery]):
    """One endpoint's deliveries, newest first; ``status`` (e.g. ``failed``) and ``since``
    filter them."""

    permission_classes = [IsAdmin]
    serializer_class = WebhookDeliverySerializer
    pagination_class = NewestFirst
    filter_backends = [DjangoFilterBackend]
    filterset_class = WebhookDeliveryFilter

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):  # the schema's generator asks
            return WebhookDelivery.objects.none()
        webhook = _webhook(int(self.kwargs["webhook_id"]))
        return selectors.delivery_list(webhook_id=webhook.pk)


class WebhookRedeliverView(APIView):
    """Send a delivery's event again, as a new delivery (202: it is queued)."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    def post(self, request: Request, webhook_id: int, delivery_id: int) -> Response:
        delivery = selectors.delivery_get(webhook_id=webhook_id, delivery_id=delivery_id)
        if delivery is None:
            raise NotFound(_("No such delivery."))
        again = services.delivery_redeliver(delivery)
        return Response(WebhookDeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)
