"""The dead letters of this service's queue, for admins: list, replay one, discard one.

Each consuming service mounts it under its prefix (``/api/<prefix>/dead-letters/``)::

    path("dead-letters/", include("servidesk_shared.events.dead_letter_api")),

| call | answer |
|---|---|
| ``GET dead-letters/`` (``page_size``, ``cursor``) | 200 a page, oldest first, with ``count`` |
| ``POST dead-letters/<key>/replay/`` | 202 ``{"replayed": n}``; 404 when none has that key |
| ``DELETE dead-letters/<key>/`` | 204; 404 when none has that key |

The queue is ``SERVIDESK_EVENT_QUEUE``; the functions are ``deadletters``' (read its
docstring for what is safe). A dead letter's ``key`` is its event id (the message id), so
it stays the same while it waits; the cursor is a position in the queue, which moves when
dead letters before it leave. An unreachable broker answers 503.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from servidesk_shared.events.conf import event_settings
from servidesk_shared.events.deadletters import (
    DeadLetter,
    count_dead_letters,
    discard,
    list_dead_letters,
    replay,
)
from servidesk_shared.openapi import error_response
from servidesk_shared.permissions import IsAdmin

PAGE_SIZE: Final = 25
MAX_PAGE_SIZE: Final = 100
#: How much of a dead letter's body the list shows.
BODY_PREVIEW: Final = 2000
#: The longest key accepted in a path (a UUID is 36, a body digest 39).
MAX_KEY_LENGTH: Final = 200


class BrokerUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The message broker cannot be reached; try again shortly."
    default_code = "broker_unavailable"


class DeadLetterSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="Names it for replay and discard: the event id.")
    message_id = serializers.CharField(help_text="The message id (the event id), or empty.")
    event_type = serializers.CharField(help_text="The event type (its routing key).")
    queue = serializers.CharField()
    reason = serializers.CharField(
        help_text="unparseable, invalid, wrong_producer, wrong_routing_key, handler_failed, "
        "or RabbitMQ's own (rejected, expired, ...)."
    )
    error = serializers.CharField()
    attempts = serializers.IntegerField()
    failed_at = serializers.CharField(help_text="ISO-8601, as recorded when it failed.")
    body = serializers.SerializerMethodField()

    def get_body(self, letter: DeadLetter) -> str:
        return letter.body[:BODY_PREVIEW].decode(errors="replace")


def _queue() -> str:
    queue = event_settings().queue
    if not queue:
        raise NotFound(_("This service consumes no events."))
    return queue


def _broker_unavailable() -> BrokerUnavailable:
    return BrokerUnavailable(_("The message broker cannot be reached; try again shortly."))


def _page_size(request: Request) -> int:
    raw = request.query_params.get("page_size", "")
    if raw == "":
        return PAGE_SIZE
    if not raw.isdigit() or int(raw) < 1:
        message = _("Give a whole number from 1 to %(max)s.") % {"max": MAX_PAGE_SIZE}
        raise ValidationError({"page_size": [message]})
    return min(int(raw), MAX_PAGE_SIZE)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o={offset}".encode()).decode()


def _offset(request: Request) -> int:
    raw = request.query_params.get("cursor", "")
    if raw == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(raw.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    name, _sep, number = text.partition("=")
    if name != "o" or not number.isdigit() or len(number) > 9:
        message = _("This cursor is not valid; start again from the first page.")
        raise ValidationError({"cursor": [message]})
    return int(number)


def _key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise NotFound(_("No dead letter has this id."))
    return key


def _with_cursor(url: str, offset: int) -> str:
    if offset == 0:
        return remove_query_param(url, "cursor")
    return replace_query_param(url, "cursor", _cursor(offset))


def _previous(url: str, offset: int, size: int) -> str | None:
    return None if offset <= 0 else _with_cursor(url, max(0, offset - size))


class DeadLetterListView(APIView):
    """This service's dead letters, oldest first, each with why it failed."""

    permission_classes = [IsAdmin]

    @extend_schema(
        summary="List this service's dead letters (admins)",
        parameters=[
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 100 (25)"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From next or previous"),
        ],
        responses={
            200: inline_serializer(
                "DeadLetterPage",
                {
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": DeadLetterSerializer(many=True),
                },
            ),
            400: error_response("A bad page_size or cursor."),
            503: error_response("The message broker cannot be reached."),
        },
    )
    def get(self, request: Request) -> Response:
        size = _page_size(request)
        offset = _offset(request)
        queue = _queue()
        try:
            count = count_dead_letters(queue)
            letters = list_dead_letters(queue, limit=offset + size + 1)
        except (BrokerError, OSError) as exc:
            raise _broker_unavailable() from exc
        page = letters[offset : offset + size]
        url = request.build_absolute_uri()
        after = offset + size if len(letters) > offset + size else None
        return Response(
            {
                "count": count,
                "next": None if after is None else _with_cursor(url, after),
                "previous": _previous(url, offset, size),
                "results": DeadLetterSerializer(page, many=True).data,
            }
        )


class DeadLetterDetailView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        summary="Discard a dead letter: it is deleted (admins)",
        responses={
            204: None,
            404: error_response("No dead letter has this id."),
            503: error_response("The message broker cannot be reached."),
        },
    )
    def delete(self, request: Request, key: str) -> Response:
        queue = _queue()
        try:
            done = discard(queue, message_ids={_key(key)})
        except (BrokerError, OSError) as exc:
            raise _broker_unavailable() from exc
        if not done:
            raise NotFound(_("No dead letter has this id."))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeadLetterReplayView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        summary="Send a dead letter back to this service's queue (admins)",
        request=None,
        responses={
            202: inline_serializer("DeadLetterReplayed", {"replayed": serializers.IntegerField()}),
            404: error_response("No dead letter has this id."),
            503: error_response("The message broker cannot be reached."),
        },
    )
    def post(self, request: Request, key: str) -> Response:
        queue = _queue()
        try:
            done = replay(queue, message_ids={_key(key)})
        except (BrokerError, OSError) as exc:
            raise _broker_unavailable() from exc
        if not done:
            raise NotFound(_("No dead letter has this id."))
        return Response({"replayed": done}, status=status.HTTP_202_ACCEPTED)


urlpatterns: list[Any] = [
    path("", DeadLetterListView.as_view(), name="dead-letter-list"),
    path("<str:key>/", DeadLetterDetailView.as_view(), name="dead-letter-detail"),
    path("<str:key>/replay/", DeadLetterReplayView.as_view(), name="dead-letter-replay"),
]
