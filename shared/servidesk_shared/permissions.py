"""DRF permission classes per role. Combine them with ``|`` and ``&`` as DRF allows."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from servidesk_shared.auth import ADMIN, CLIENT, TECHNICIAN


class HasRole(BasePermission):
    """Allows an authenticated caller whose token carries one of ``roles``."""

    roles: ClassVar[frozenset[str]] = frozenset()

    def has_permission(self, request: Request, view: APIView) -> bool:
        user: Any = request.user
        return bool(
            user is not None and user.is_authenticated and getattr(user, "role", None) in self.roles
        )


class IsClient(HasRole):
    roles = frozenset({CLIENT})


class IsTechnician(HasRole):
    roles = frozenset({TECHNICIAN})


class IsAdmin(HasRole):
    roles = frozenset({ADMIN})


class IsStaff(HasRole):
    """Technicians and admins: the people who work the queue."""

    roles = frozenset({TECHNICIAN, ADMIN})
