"""Thin views: parse, call a selector or service, serialize."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services
from notifications.api.filters import DeliveryFilter
from notifications.api.serializers import (
    DeliverySerializer,
    NotificationSerializer,
    UnreadCountSerializer,
    UnreadFilterSerializer,
)
from notifications.channels.sms import signature_is_valid
from notifications.models import Delivery, Notification
from servidesk_shared.openapi import error_response
from servidesk_shared.pagination import CursorPage
from servidesk_shared.permissions import IsAdmin


class NewestFirst(CursorPage):
    ordering = ("-created_at", "-id")


def _caller_id(request: Request) -> object:
    return request.user.id  # authenticated: a token user


class NotificationListView(ListAPIView[Notification]):
    """The caller's own notifications, newest first."""

    serializer_class = NotificationSerializer
    pagination_class = NewestFirst

    @extend_schema(
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread (or read)")
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Notification]:
        params = UnreadFilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return selectors.notification_list(
            user_id=_caller_id(self.request), unread=params.validated_data["unread"]
        )


class UnreadCountView(APIView):
    @extend_schema(responses=UnreadCountSerializer)
    def get(self, request: Request) -> Response:
        count = selectors.notification_unread_count(user_id=_caller_id(request))
        return Response(UnreadCountSerializer({"count": count}).data)


class MarkReadView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request, notification_id: int) -> Response:
        services.notification_mark_read(
            user_id=_caller_id(request), notification_id=notification_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MarkAllReadView(APIView):
    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        services.notification_mark_all_read(user_id=_caller_id(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListView(ListAPIView[Delivery]):
    """The delivery log (admins): one row per event, channel and recipient."""

    permission_classes = [IsAdmin]
    serializer_class = DeliverySerializer
    pagination_class = NewestFirst
    filter_backends = [DjangoFilterBackend]
    filterset_class = DeliveryFilter

    def get_queryset(self) -> QuerySet[Delivery]:
        return selectors.delivery_list()


class DeliveryRetryView(APIView):
    """Send a failed email or SMS again (202: it is queued)."""

    permission_classes = [IsAdmin]

    @extend_schema(
        request=None,
        responses={
            202: DeliverySerializer,
            404: error_response("No delivery has this id."),
            409: error_response("Not failed, or it carried a verification code."),
        },
    )
    def post(self, request: Request, delivery_id: int) -> Response:
        delivery = selectors.delivery_get(delivery_id=delivery_id)
        if delivery is None:
            raise NotFound(_("No such delivery."))
        retried = services.delivery_retry(delivery=delivery)
        return Response(DeliverySerializer(retried).data, status=status.HTTP_202_ACCEPTED)


class TwilioStatusSerializer(serializers.Serializer[dict[str, str]]):
    MessageSid = serializers.CharField(max_length=64)
    MessageStatus = serializers.CharField(max_length=40)
    ErrorCode = serializers.CharField(max_length=20, required=False, allow_blank=True)


class TwilioStatusCallbackView(APIView):
    """Twilio's message status callback; only requests Twilio signed are accepted."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser]

    @extend_schema(
        request=TwilioStatusSerializer,
        responses={
            204: None,
            403: error_response("Missing or invalid Twilio signature (X-Twilio-Signature)."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        if not signature_is_valid(
            token=str(getattr(settings, "TWILIO_AUTH_TOKEN", "") or ""),
            urls=[request.build_absolute_uri()],
            params=request.data,
            signature=request.headers.get("X-Twilio-Signature", ""),
            settings_header=request.headers.get("X-Twilio-Webhooks-Signature-Settings", ""),
        ):
            raise PermissionDenied(_("Missing or invalid Twilio signature."))
        callback = TwilioStatusSerializer(data=request.data)
        callback.is_valid(raise_exception=True)
        services.delivery_apply_sms_status(
            provider_id=callback.validated_data["MessageSid"],
            provider_status=callback.validated_data["MessageStatus"],
            error_code=callback.validated_data.get("ErrorCode", ""),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
