"""Thin views: parse with a serializer, call a selector or a service, render.

Every ticket endpoint finds its ticket through ``selectors.ticket_get``, which scopes by
role first: a ticket the caller may not see is a 404 before any other check runs (a write
passes the id to its service, which reads and locks the ticket in its own transaction).
Views open no transaction: a read is one consistent ``SELECT``, a write's service owns its.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from servidesk_shared.auth import ROLES
from servidesk_shared.errors import ApplicationError
from servidesk_shared.openapi import error_response
from servidesk_shared.parsers import JSONParser
from servidesk_shared.permissions import HasRole, IsAdmin, IsStaff
from tickets import selectors, services, sla
from tickets.actors import Actor
from tickets.api import serializers, uploads
from tickets.api.pagination import ConversationPagination, HistoryPagination, TicketPagination
from tickets.api.renderers import JSONRenderer
from tickets.filters import TicketFilter
from tickets.models import Category, Priority, Ticket


class HasServideskRole(HasRole):
    """Any authenticated caller whose token carries a known role."""

    roles = frozenset(ROLES)


class ReadAnyWriteAdmin(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return HasServideskRole().has_permission(request, view)
        return IsAdmin().has_permission(request, view)


logger = logging.getLogger(__name__)

#: A write that names a ``version`` other than the ticket's current one.
STALE_VERSION = error_response(
    "`version` is stale: someone changed the ticket since it was read; read it again."
)


class ServideskView(GenericAPIView):  # type: ignore[type-arg]
    permission_classes = [HasServideskRole]
    renderer_classes = [JSONRenderer]

    @property
    def actor(self) -> Actor:
        return Actor.from_user(self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "actor": self.actor}

    def is_multipart(self) -> bool:
        # DRF's content_type is the whole header, boundary included.
        media_type = self.request.content_type.split(";", 1)[0].strip().lower()
        return media_type == "multipart/form-data"

    def validated(self, serializer_class: type[Any], **kwargs: Any) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def validated_changes(self, serializer_class: type[Any]) -> dict[str, Any]:
        """A PATCH: the fields the request sent, validated (a partial serializer would
        fill in its defaults for the others), under their ``source`` names
        (``calendar_id`` is validated as ``calendar``)."""
        serializer = serializer_class(data=self.request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        sent = {
            field.source
            for name, field in serializer.fields.items()
            if name in self.request.data and not field.read_only
        }
        return {key: value for key, value in serializer.validated_data.items() if key in sent}

    def ticket(self, pk: int) -> Ticket:
        return selectors.ticket_get(actor=self.actor, ticket_id=pk)

    def render_ticket(self, ticket: Ticket, *, code: int = status.HTTP_200_OK) -> Response:
        """``ticket`` as the API shows it; it must carry its names (``selectors.ticket_get``
        reads them with the row, ``selectors.ticket_refresh_names`` after a change)."""
        return Response(
            serializers.TicketDetailSerializer(ticket, context=self.get_serializer_context()).data,
            code,
        )


#: What a write that takes files answers beyond its usual errors.
UPLOAD_ERRORS: dict[int | str, Any] = {
    413: error_response(
        "A file is over ATTACHMENT_MAX_BYTES, or the files together over "
        "ATTACHMENTS_REQUEST_MAX_BYTES (`extra.limit` says how many bytes)."
    ),
}


#: The list's filters (``tickets.filters.TicketFilter``), for the list and the status counts.
LIST_PARAMETERS: list[OpenApiParameter] = [
    OpenApiParameter(name, description=help_text)
    for name, help_text in (
        ("status", "pending, in_progress, waiting, resolved or closed; repeat for several"),
        ("priority", "low, medium, high or urgent; repeat for several"),
        ("category", "a category slug; repeat for several"),
        ("assignee_id", "tickets assigned to this user"),
        ("client_id", "tickets of this client"),
        ("unassigned", "true or false"),
        ("breached", "true: missed a first-response or resolution target"),
        ("sla", "breached, warning (past 80 % of a running target) or running"),
        ("created_after", "a date or ISO-8601 date-time, inclusive"),
        ("created_before", "a date (the whole day) or date-time, inclusive"),
        ("updated_after", "a date or ISO-8601 date-time, inclusive"),
        ("updated_before", "a date (the whole day) or date-time, inclusive"),
        ("due_before", "resolution due by this date (the whole day) or date-time"),
        ("team_id", "a team id, `mine` (the caller's teams) or `none`"),
        ("tag", "a tag (staff only); repeat for tickets with all of them"),
        ("q", "full-text search in number, title, description, public comments"),
    )
]


@extend_schema(tags=["tickets"])
class TicketListCreateView(ServideskView):
    serializer_class = serializers.TicketSerializer
    parser_classes = [JSONParser, MultiPartParser]
    pagination_class = TicketPagination
    filterset_class = TicketFilter

    @extend_schema(
        operation_id="tickets_list",
        responses=serializers.TicketSerializer(many=True),
        parameters=LIST_PARAMETERS,
    )
    def get(self, request: Request) -> Response:
        tickets = selectors.ticket_list(actor=self.actor, filters=request.query_params)
        page = selectors.with_tag_names(self.paginate_queryset(tickets) or [], actor=self.actor)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="tickets_create",
        description="JSON, or a multipart form with the same fields plus `files`.",
        request={
            "application/json": serializers.TicketCreateSerializer,
            "multipart/form-data": serializers.TicketCreateUploadSerializer,
        },
        responses={201: serializers.TicketDetailSerializer, **UPLOAD_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(
            serializers.TicketCreateUploadSerializer
            if self.is_multipart()
            else serializers.TicketCreateSerializer
        )
        ticket = services.ticket_create(actor=self.actor, **data)  # with its names
        return self.render_ticket(ticket, code=status.HTTP_201_CREATED)


@extend_schema(tags=["tickets"])
class TicketDetailView(ServideskView):
    serializer_class = serializers.TicketDetailSerializer

    @extend_schema(operation_id="tickets_retrieve")
    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(self.ticket(pk)).data)

    @extend_schema(
        operation_id="tickets_partial_update",
        request=serializers.TicketUpdateSerializer,
        responses={
            200: serializers.TicketDetailSerializer,
            409: error_response(
                "`version` is stale, or the ticket is no longer editable by the caller (a "
                "client edits only while it is pending)."
            ),
        },
    )
    def patch(self, request: Request, pk: int) -> Response:
        data = self.validated(serializers.TicketUpdateSerializer, partial=True)
        version = data.pop("version", None)
        ticket = services.ticket_update(
            ticket_id=pk, actor=self.actor, changes=data, expected_version=version
        )
        return self.render_ticket(ticket)


@extend_schema(tags=["tickets"])
class TicketStatusView(ServideskView):
    serializer_class = serializers.StatusChangeSerializer

    @extend_schema(
        operation_id="tickets_change_status",
        request=serializers.StatusChangeSerializer,
        responses={
            200: serializers.TicketDetailSerializer,
            409: error_response(
                "The move is not allowed from the ticket's status (the allowed moves are in "
                "`extra.allowed`), or `version` is stale."
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        data = self.validated(serializers.StatusChangeSerializer)
        ticket = services.ticket_change_status(
            ticket_id=pk,
            actor=self.actor,
            status=data["status"],
            expected_version=data.get("version"),
        )
        return self.render_ticket(ticket)


@extend_schema(tags=["tickets"])
class TicketAssignView(ServideskView):
    serializer_class = serializers.AssignSerializer

    @extend_schema(
        operation_id="tickets_assign",
        request=serializers.AssignSerializer,
        responses={200: serializers.TicketDetailSerializer, 409: STALE_VERSION},
    )
    def post(self, request: Request, pk: int) -> Response:
        data = self.validated(serializers.AssignSerializer)
        ticket = services.ticket_assign(
            ticket_id=pk,
            actor=self.actor,
            assignee_id=data["assignee_id"],
            expected_version=data.get("version"),
        )
        ticket = selectors.ticket_refresh_names(ticket=ticket)
        return self.render_ticket(ticket)


@extend_schema(tags=["comments"])
class CommentListCreateView(ServideskView):
    serializer_class = serializers.CommentSerializer
    pagination_class = ConversationPagination
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        operation_id="tickets_comments_list", responses=serializers.CommentSerializer(many=True)
    )
    def get(self, request: Request, pk: int) -> Response:
        comments = selectors.comment_list(actor=self.actor, ticket=self.ticket(pk))
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="tickets_comments_create",
        description="JSON, or a multipart form with the same fields plus `files`.",
        request={
            "application/json": serializers.CommentCreateSerializer,
            "multipart/form-data": serializers.CommentCreateUploadSerializer,
        },
        responses={201: serializers.CommentSerializer, **UPLOAD_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        data = self.validated(
            serializers.CommentCreateUploadSerializer
            if self.is_multipart()
            else serializers.CommentCreateSerializer
        )
        comment = services.comment_create(ticket_id=pk, actor=self.actor, **data)  # with names
        return Response(self.get_serializer(comment).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["attachments"])
class AttachmentListCreateView(ServideskView):
    serializer_class = serializers.AttachmentSerializer
    pagination_class = ConversationPagination
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="tickets_attachments_list",
        description=(
            "The ticket's files, oldest first: its own and its comments' (`comment_id`). "
            "Clients never get those of internal notes."
        ),
        responses=serializers.AttachmentSerializer(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        files = selectors.attachment_list(actor=self.actor, ticket=self.ticket(pk))
        page = self.paginate_queryset(files)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="tickets_attachments_create",
        request={"multipart/form-data": serializers.AttachmentUploadSerializer},
        responses={201: serializers.AttachmentSerializer, **UPLOAD_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        data = self.validated(serializers.AttachmentUploadSerializer)
        attachment = services.attachment_add(
            ticket_id=pk, actor=self.actor, file=data["file"], comment_id=data.get("comment_id")
        )
        return Response(self.get_serializer(attachment).data, status=status.HTTP_201_CREATED)


class AnyAccept(BaseContentNegotiation):
    """A download answers whatever the client accepts (the file's own type); errors are
    JSON. DRF's negotiation would refuse ``Accept: image/png`` with 406 before the view."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self,
        request: Request,
        renderers: Iterable[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, str(renderer.media_type)


@extend_schema(tags=["attachments"])
class AttachmentDownloadView(ServideskView):
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="tickets_attachments_download",
        parameters=[serializers.DownloadQuerySerializer],
        responses={
            (200, "*/*"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description=(
                    "The file, with its sniffed type, `Content-Disposition: attachment` "
                    "(`inline` for PNG, JPEG, GIF and WebP with `inline=true`), "
                    "`X-Content-Type-Options: nosniff` and a sandboxing CSP."
                ),
            )
        },
    )
    def get(self, request: Request, pk: int, attachment_id: int) -> FileResponse:
        query = serializers.DownloadQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        attachment = selectors.attachment_get(
            actor=self.actor, ticket_id=pk, attachment_id=attachment_id
        )
        try:
            return uploads.file_response(attachment, inline=query.validated_data["inline"])
        except FileNotFoundError:
            logger.error("attachment %s: its file is missing from storage", attachment.pk)
            raise ApplicationError(
                _("This file is no longer available."),
                extra={"code": "file_missing"},
                status_code=status.HTTP_404_NOT_FOUND,
            ) from None


@extend_schema(tags=["tickets"])
class HistoryListView(ServideskView):
    serializer_class = serializers.HistoryEntrySerializer
    pagination_class = HistoryPagination

    @extend_schema(
        operation_id="tickets_history_list",
        description=(
            "The ticket's changes, oldest first. A client gets those to what the ticket "
            "shows them (status, title, description, priority, category); staff get all."
        ),
        responses=serializers.HistoryEntrySerializer(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        entries = selectors.history_list(actor=self.actor, ticket=self.ticket(pk))
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


@extend_schema(tags=["categories"])
class CategoryListCreateView(ServideskView):
    permission_classes = [ReadAnyWriteAdmin]
    serializer_class = serializers.CategorySerializer
    pagination_class = None

    @extend_schema(
        operation_id="categories_list", responses=serializers.CategorySerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        categories = Category.objects.all()
        if not self.actor.is_staff:
            categories = categories.filter(is_active=True)
        return Response(self.get_serializer(categories, many=True).data)

    @extend_schema(
        operation_id="categories_create", responses={201: serializers.CategorySerializer}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.CategorySerializer)
        category = services.category_create(**data)
        return Response(self.get_serializer(category).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["categories"])
class CategoryDetailView(ServideskView):
    permission_classes = [ReadAnyWriteAdmin]
    serializer_class = serializers.CategorySerializer

    def category(self, slug: str) -> Category:
        categories = Category.objects.all()
        if not self.actor.is_staff:
            categories = categories.filter(is_active=True)
        return get_object_or_404(categories, slug=slug)

    def get(self, request: Request, slug: str) -> Response:
        return Response(self.get_serializer(self.category(slug)).data)

    @extend_schema(request=serializers.CategoryUpdateSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        category = self.category(slug)
        data = self.validated(serializers.CategoryUpdateSerializer, partial=True)
        category = services.category_update(category=category, changes=data)
        return Response(self.get_serializer(category).data)

    @extend_schema(
        responses={
            204: None,
            409: error_response("Tickets use this category; deactivate it instead."),
        }
    )
    def delete(self, request: Request, slug: str) -> Response:
        services.category_delete(category=self.category(slug))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["sla"])
class SlaTargetListView(ServideskView):
    permission_classes = [ReadAnyWriteAdmin]
    serializer_class = serializers.SlaTargetSerializer
    pagination_class = None

    @extend_schema(
        operation_id="sla_targets_list", responses=serializers.SlaTargetSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(sla.all_targets(), many=True).data)


@extend_schema(tags=["sla"])
class SlaTargetDetailView(ServideskView):
    permission_classes = [ReadAnyWriteAdmin]
    serializer_class = serializers.SlaTargetSerializer

    @staticmethod
    def priority(key: str) -> int:
        if key not in Priority.api_keys():
            raise Http404
        return int(Priority.from_key(key))

    def get(self, request: Request, priority: str) -> Response:
        return Response(self.get_serializer(sla.targets_for(self.priority(priority))).data)

    def put(self, request: Request, priority: str) -> Response:
        rank = self.priority(priority)
        data = self.validated(serializers.SlaTargetSerializer)
        services.sla_target_set(priority=rank, **data)
        return Response(self.get_serializer(sla.targets_for(rank)).data)

    def patch(self, request: Request, priority: str) -> Response:
        rank = self.priority(priority)
        current = sla.targets_for(rank)
        data = self.validated(serializers.SlaTargetSerializer, partial=True)
        services.sla_target_set(
            priority=rank,
            first_response_hours=data.get("first_response_hours", current.first_response_hours),
            resolution_hours=data.get("resolution_hours", current.resolution_hours),
        )
        return Response(self.get_serializer(sla.targets_for(rank)).data)


@extend_schema(tags=["directory"])
class AssigneeListView(ServideskView):
    """Active technicians and admins, for an assignment picker (staff only)."""

    permission_classes = [IsStaff]
    serializer_class = serializers.AssigneeSerializer
    pagination_class = None

    @extend_schema(responses=serializers.AssigneeSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(selectors.assignee_list(), many=True).data)


@extend_schema(tags=["directory"])
class ClientListView(ServideskView):
    """Active clients matching a search, for opening a ticket on their behalf (staff only)."""

    permission_classes = [IsStaff]
    serializer_class = serializers.ClientSerializer
    pagination_class = None

    @extend_schema(
        parameters=[serializers.ClientSearchQuerySerializer],
        responses=serializers.ClientSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        query = serializers.ClientSearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        clients = selectors.client_search(query=query.validated_data["q"])
        return Response(self.get_serializer(clients, many=True).data)
