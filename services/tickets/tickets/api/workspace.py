"""The agent workspace: canned responses (macros), bulk actions, saved views, status
counts and merging. Thin views over ``tickets.macros``, ``tickets.bulk``,
``tickets.saved_views``, ``tickets.merge`` and ``selectors.status_counts``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from servidesk_shared.openapi import error_response
from servidesk_shared.permissions import IsStaff
from tickets import bulk, macros, merge, saved_views, selectors
from tickets.api import serializers
from tickets.api.views import LIST_PARAMETERS, ServideskView
from tickets.models import Macro, SavedView

# --- macros ---------------------------------------------------------------------------


@extend_schema(tags=["macros"])
class MacroListCreateView(ServideskView):
    permission_classes = [IsStaff]
    serializer_class = serializers.MacroSerializer
    pagination_class = None

    @extend_schema(
        operation_id="macros_list",
        description="Your canned responses and the shared ones (shared first, by title).",
        responses=serializers.MacroSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(macros.macro_list(actor=self.actor), many=True).data)

    @extend_schema(operation_id="macros_create", responses={201: serializers.MacroSerializer})
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.MacroSerializer)
        macro = macros.macro_create(actor=self.actor, data=macros.MacroData(**data))
        return Response(self.get_serializer(macro).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["macros"])
class MacroDetailView(ServideskView):
    permission_classes = [IsStaff]
    serializer_class = serializers.MacroSerializer

    @extend_schema(operation_id="macros_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        macro: Macro = macros.macro_get(actor=self.actor, macro_id=pk)
        return Response(self.get_serializer(macro).data)

    @extend_schema(operation_id="macros_partial_update")
    def patch(self, request: Request, pk: int) -> Response:
        changes = self.validated_changes(serializers.MacroSerializer)
        macro = macros.macro_update(actor=self.actor, macro_id=pk, changes=changes)
        return Response(self.get_serializer(macro).data)

    @extend_schema(operation_id="macros_destroy", responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        macros.macro_delete(actor=self.actor, macro_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["macros"])
class ApplyMacroView(ServideskView):
    permission_classes = [IsStaff]
    serializer_class = serializers.ApplyMacroSerializer

    @extend_schema(
        operation_id="tickets_apply_macro",
        description=(
            "Post the canned response's body (placeholders filled) as a comment, then "
            "apply its actions; all or nothing: a refused action refuses the whole."
        ),
        request=serializers.ApplyMacroSerializer,
        responses={
            200: serializers.TicketDetailSerializer,
            409: error_response(
                "`version` is stale, the ticket was merged, or an action's workflow move "
                "is not allowed."
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        data = self.validated(serializers.ApplyMacroSerializer)
        ticket = macros.macro_apply(
            actor=self.actor,
            ticket_id=pk,
            macro_id=data["macro_id"],
            expected_version=data.get("version"),
        )
        return self.render_ticket(ticket)


# --- bulk -----------------------------------------------------------------------------


@extend_schema(tags=["tickets"])
class BulkView(ServideskView):
    permission_classes = [IsStaff]
    serializer_class = serializers.BulkSerializer

    @extend_schema(
        operation_id="tickets_bulk",
        description=(
            "One action on up to 500 tickets, each checked on its own: the answer has one "
            "result per id given, in that order; an unknown id is `ok: false`."
        ),
        request=serializers.BulkSerializer,
        responses={200: serializers.BulkResponseSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.BulkSerializer)
        value = bulk.check_value(action=data["action"], value=data["value"])
        outcomes = bulk.bulk_apply(
            actor=self.actor, ids=data["ids"], action=data["action"], value=value
        )
        results = [
            {"id": outcome.id, "ok": outcome.ok, "error": outcome.error} for outcome in outcomes
        ]
        return Response({"results": results})


# --- saved views ----------------------------------------------------------------------


@extend_schema(tags=["views"])
class SavedViewListCreateView(ServideskView):
    serializer_class = serializers.SavedViewSerializer
    pagination_class = None

    @extend_schema(
        operation_id="views_list",
        description="Your views and the shared ones, by name, with the tickets each "
        "matches now (`count`).",
        responses=serializers.SavedViewSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        views = saved_views.view_list(actor=self.actor)
        return Response(self.get_serializer(views, many=True).data)

    @extend_schema(operation_id="views_create", responses={201: serializers.SavedViewSerializer})
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.SavedViewSerializer)
        view: SavedView = saved_views.view_create(
            actor=self.actor, data=saved_views.ViewData(**data)
        )
        return Response(self.get_serializer(view).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["views"])
class SavedViewDetailView(ServideskView):
    serializer_class = serializers.SavedViewSerializer

    @extend_schema(operation_id="views_partial_update")
    def patch(self, request: Request, pk: int) -> Response:
        changes = self.validated_changes(serializers.SavedViewSerializer)
        view = saved_views.view_update(actor=self.actor, view_id=pk, changes=changes)
        return Response(self.get_serializer(view).data)

    @extend_schema(operation_id="views_destroy", responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        saved_views.view_delete(actor=self.actor, view_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- status counts --------------------------------------------------------------------


@extend_schema(tags=["tickets"])
class StatusCountsView(ServideskView):
    serializer_class = serializers.StatusCountsSerializer

    @extend_schema(
        operation_id="tickets_status_counts",
        description=(
            "How many of the tickets the list would give (same filters) are in each "
            "status, and in all: exact up to 1,000 tickets, beyond that 1,000 per status "
            "at most (`capped` names the figures that are lower bounds)."
        ),
        parameters=LIST_PARAMETERS,
        responses=serializers.StatusCountsSerializer,
    )
    def get(self, request: Request) -> Response:
        counts = selectors.status_counts(actor=self.actor, filters=request.query_params)
        return Response(counts)


# --- merge ----------------------------------------------------------------------------


@extend_schema(tags=["tickets"])
class MergeView(ServideskView):
    permission_classes = [IsStaff]
    serializer_class = serializers.MergeSerializer

    @extend_schema(
        operation_id="tickets_merge",
        description=(
            "Merge this ticket into `into_id`: its conversation and files move there, it "
            "is resolved and refuses every later write (409 `merged`). Answers the ticket "
            "merged into. Tickets of two clients: admins only."
        ),
        request=serializers.MergeSerializer,
        responses={
            200: serializers.TicketDetailSerializer,
            409: error_response("One of the two tickets was already merged."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        data = self.validated(serializers.MergeSerializer)
        ticket = merge.ticket_merge(actor=self.actor, ticket_id=pk, into_id=data["into_id"])
        return self.render_ticket(ticket)
