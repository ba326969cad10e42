"""Business calendars (admins write, staff read) and the public rating link."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from servidesk_shared.openapi import error_response
from tickets import calendars, csat
from tickets.api.serializers import CalendarSerializer, RatingAnswerSerializer
from tickets.api.teams import ReadStaffWriteAdmin
from tickets.api.views import ServideskView
from tickets.models import BusinessCalendar, Ticket


@extend_schema(tags=["calendars"])
class CalendarListCreateView(ServideskView):
    permission_classes = [ReadStaffWriteAdmin]
    serializer_class = CalendarSerializer
    pagination_class = None

    @extend_schema(operation_id="calendars_list", responses=CalendarSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(BusinessCalendar.objects.all(), many=True).data)

    @extend_schema(operation_id="calendars_create", responses={201: CalendarSerializer})
    def post(self, request: Request) -> Response:
        data = self.validated(CalendarSerializer)
        calendar = calendars.calendar_create(**data)
        return Response(self.get_serializer(calendar).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["calendars"])
class CalendarDetailView(ServideskView):
    permission_classes = [ReadStaffWriteAdmin]
    serializer_class = CalendarSerializer

    @staticmethod
    def calendar(pk: int) -> BusinessCalendar:
        calendar = BusinessCalendar.objects.filter(pk=pk).first()
        if calendar is None:
            raise Http404
        return calendar

    @extend_schema(operation_id="calendars_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(self.calendar(pk)).data)

    @extend_schema(operation_id="calendars_partial_update")
    def patch(self, request: Request, pk: int) -> Response:
        self.calendar(pk)
        changes = self.validated_changes(CalendarSerializer)
        calendar = calendars.calendar_update(calendar_id=pk, changes=changes)
        return Response(self.get_serializer(calendar).data)

    @extend_schema(
        operation_id="calendars_destroy",
        responses={204: None, 409: error_response("The default calendar cannot be deleted.")},
    )
    def delete(self, request: Request, pk: int) -> Response:
        self.calendar(pk)
        calendars.calendar_delete(calendar_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the rating link ---------------------------------------------------------------------


def _answer(ticket: Ticket, link: csat.Link) -> dict[str, Any]:
    field = serializers.DateTimeField()
    return {
        "ticket": {"number": ticket.reference, "title": ticket.title},
        "rating": ticket.rating,
        "comment": ticket.rating_comment,
        "rated_at": field.to_representation(ticket.rated_at) if ticket.rated_at else None,
        "expires_at": field.to_representation(link.expires_at),
    }


@extend_schema(tags=["satisfaction"])
class RatingLinkView(ServideskView):
    """``/api/tickets/csat/<token>/``: what the client's mail links to, without sign-in."""

    # Answers are anonymous writes: the per-address write throttle applies.
    permission_classes = [AllowAny]
    serializer_class = RatingAnswerSerializer

    def get_authenticators(self) -> list[Any]:
        # The link is the credential; a stale token in the browser must not refuse it.
        return []

    @extend_schema(
        operation_id="csat_retrieve",
        responses={
            200: RatingAnswerSerializer,
            404: error_response("A forged or unknown link."),
            410: error_response("The link expired (`code`: `expired`)."),
        },
    )
    def get(self, request: Request, token: str) -> Response:
        link = csat.read(token)
        return Response(_answer(csat.ticket_of(link), link))

    @extend_schema(operation_id="csat_answer", responses={200: RatingAnswerSerializer})
    def post(self, request: Request, token: str) -> Response:
        link = csat.read(token)
        data = self.validated(RatingAnswerSerializer)
        ticket = csat.rate(token=token, rating=data["rating"], comment=data.get("comment", ""))
        return Response(_answer(ticket, link))
