"""Teams (admins write, staff read), tag suggestions and a technician's availability."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from servidesk_shared.openapi import error_response
from servidesk_shared.permissions import IsAdmin, IsStaff
from tickets import services, teams
from tickets import tags as tagging
from tickets.api import serializers
from tickets.api.views import ServideskView
from tickets.models import Team


class ReadStaffWriteAdmin(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return IsStaff().has_permission(request, view)
        return IsAdmin().has_permission(request, view)


def _team_data(data: dict[str, Any]) -> teams.TeamData:
    escalation = data.get("escalation") or {}
    return teams.TeamData(
        name=data["name"],
        member_ids=data["member_ids"],
        lead_id=data["lead_id"],
        assignment=data["assignment"],
        category_slugs=data["category_slugs"],
        calendar=data.get("calendar"),
        sla_targets=data.get("sla_targets") or {},
        escalate_raise_priority=escalation.get("raise_priority", False),
        escalate_to_lead=escalation.get("reassign_to_lead", False),
    )


def _team_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The serializer's PATCH as ``teams.team_update`` takes it (the rule's two flags)."""
    escalation = changes.pop("escalation", None)
    if escalation is not None:
        for key, name in (
            ("raise_priority", "escalate_raise_priority"),
            ("reassign_to_lead", "escalate_to_lead"),
        ):
            if key in escalation:
                changes[name] = escalation[key]
    return changes


@extend_schema(tags=["teams"])
class TeamListCreateView(ServideskView):
    permission_classes = [ReadStaffWriteAdmin]
    serializer_class = serializers.TeamSerializer
    pagination_class = None

    @extend_schema(operation_id="teams_list", responses=serializers.TeamSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(teams.team_list(), many=True).data)

    @extend_schema(operation_id="teams_create", responses={201: serializers.TeamSerializer})
    def post(self, request: Request) -> Response:
        team = teams.team_create(data=_team_data(self.validated(serializers.TeamSerializer)))
        return Response(self.get_serializer(team).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["teams"])
class TeamDetailView(ServideskView):
    permission_classes = [ReadStaffWriteAdmin]
    serializer_class = serializers.TeamSerializer

    @staticmethod
    def team(pk: int) -> Team:
        try:
            return teams.team_get(pk)
        except Team.DoesNotExist:
            raise Http404 from None

    @extend_schema(operation_id="teams_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(self.team(pk)).data)

    @extend_schema(operation_id="teams_partial_update")
    def patch(self, request: Request, pk: int) -> Response:
        self.team(pk)
        changes = self.validated_changes(serializers.TeamSerializer)
        team = teams.team_update(team_id=pk, changes=_team_changes(changes))
        return Response(self.get_serializer(team).data)

    @extend_schema(
        operation_id="teams_destroy",
        responses={204: None},
        description="Its tickets and categories keep no team.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        self.team(pk)
        teams.team_delete(team_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["tickets"])
class TagSuggestionView(ServideskView):
    """Existing tags starting with ``q``, the most used first (staff only)."""

    permission_classes = [IsStaff]
    serializer_class = serializers.TagSuggestionSerializer
    pagination_class = None

    @extend_schema(
        operation_id="tags_list",
        parameters=[serializers.TagSuggestionQuerySerializer],
        responses=serializers.TagSuggestionSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        query = serializers.TagSuggestionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        suggestions = tagging.suggestions(prefix=query.validated_data["q"])
        return Response(self.get_serializer(suggestions, many=True).data)


@extend_schema(tags=["directory"])
class AvailabilityView(ServideskView):
    """A technician's or admin's own switch for automatic assignment."""

    permission_classes = [IsStaff]
    serializer_class = serializers.AssigneeSerializer

    @extend_schema(
        operation_id="assignees_me_update",
        request=serializers.AvailabilitySerializer,
        responses={
            200: serializers.AssigneeSerializer,
            409: error_response("The directory does not know the caller yet."),
        },
    )
    def patch(self, request: Request) -> Response:
        data = self.validated(serializers.AvailabilitySerializer)
        user = services.assignee_set_available(actor=self.actor, available=data["available"])
        return Response(self.get_serializer(user).data)
