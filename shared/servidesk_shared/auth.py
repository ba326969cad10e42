"""Stateless JWT authentication: the token is the user, no user table is read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.models import TokenUser

CLIENT: Final = "client"
TECHNICIAN: Final = "technician"
ADMIN: Final = "admin"
ROLES: Final = (CLIENT, TECHNICIAN, ADMIN)
STAFF_ROLES: Final = frozenset({TECHNICIAN, ADMIN})


class RoleChecks:
    """``is_client`` / ``is_technician`` / ``is_admin`` / ``is_staff`` from a ``role``."""

    __slots__ = ()

    if TYPE_CHECKING:  # provided by the class that mixes this in (a property or a field)

        @property
        def role(self) -> str: ...

    @property
    def is_client(self) -> bool:
        return self.role == CLIENT

    @property
    def is_technician(self) -> bool:
        return self.role == TECHNICIAN

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def is_staff(self) -> bool:
        """Technicians and admins work the queue; Django's own staff flag is not used."""
        return self.role in STAFF_ROLES


class ServideskTokenUser(RoleChecks, TokenUser):
    """The caller as the access token describes them: id, username and role."""

    @property
    def role(self) -> str:
        role = self.token.get("role", "")
        return role if role in ROLES else ""


class StatelessJWTAuthentication(JWTStatelessUserAuthentication):
    """simplejwt's stateless authentication; named here so every service points at one class."""
