"""A tiny API used by the shared package's tests."""

from __future__ import annotations

from django.db import transaction
from django.urls import path
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from servidesk_shared.errors import ApplicationError
from servidesk_shared.outbox.models import AggregateSequence
from servidesk_shared.permissions import IsAdmin, IsStaff
from servidesk_shared.urls import service_urlpatterns


class _Whoami(APIView):
    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"id": user.id, "role": user.role, "username": user.username})  # type: ignore[union-attr]


class _AdminOnly(APIView):
    permission_classes = [IsAdmin]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class _StaffOnly(APIView):
    permission_classes = [IsStaff]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class _EchoSerializer(serializers.Serializer[dict[str, object]]):
    title = serializers.CharField(max_length=10)
    tags = serializers.ListField(child=serializers.CharField(max_length=3), required=False)


@transaction.atomic
def _echo_refused_by_a_rule() -> None:
    """A service whose rule refuses after a write: its own transaction takes the write back."""
    AggregateSequence.objects.create(aggregate_type="echo", aggregate_id="conflict")
    raise ApplicationError("Refused by a rule.", extra={"code": "rule"}, status_code=409)


def _echo_counted_then_refused() -> None:
    """A service whose write is the point of its refusal (a counted failure): it commits the
    write in its own transaction, then raises."""
    with transaction.atomic():
        AggregateSequence.objects.create(aggregate_type="echo", aggregate_id="counted")
    raise exceptions.AuthenticationFailed("Counted and refused.")


class _Echo(APIView):
    def post(self, request: Request) -> Response:
        serializer = _EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["title"] == "conflict":
            _echo_refused_by_a_rule()
        if serializer.validated_data["title"] == "counted":
            _echo_counted_then_refused()
        return Response(serializer.validated_data, status=201)


urlpatterns = service_urlpatterns(
    "api/test/",
    [
        path("whoami/", _Whoami.as_view()),
        path("admin-only/", _AdminOnly.as_view()),
        path("staff-only/", _StaffOnly.as_view()),
        path("echo/", _Echo.as_view()),
    ],
)
handler404 = "servidesk_shared.errors.json_page_not_found"
handler500 = "servidesk_shared.errors.json_server_error"
