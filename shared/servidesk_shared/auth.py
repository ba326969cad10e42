"""JWT authentication without asking accounts: the token is the user, as far as the
service's own user directory agrees.

A verifying service checks the token's signature with accounts' public key and never
calls accounts. When ``SERVIDESK_USER_DIRECTORY`` names a lookup (tickets, notifier and
reports keep a directory from accounts' ``user.*`` events), each authenticated request
also reads the caller's row there, by primary key (one query):

* a user the directory knows as deactivated is refused with 401, even with an unexpired
  token, as soon as ``user.deactivated`` has been applied;
* the directory's role wins over the token's ``role`` claim, so a demoted or promoted
  user acts with their new role at once;
* a user the directory has not heard of yet (their ``user.registered`` is still on its
  way, or an API key's ``apikey:<id>`` caller) is taken as the token says.

The lookup is a keyword-only function of the service, ``lookup(*, user_id: str)``,
returning ``(is_active, role)`` or ``None``::

    # core/settings/base.py
    SERVIDESK_USER_DIRECTORY = "tickets.selectors.directory_entry"
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

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
    """The caller as the access token describes them: id, username and role.

    ``directory_role``, set from the service's user directory when it knows the caller,
    wins over the token's ``role`` claim.
    """

    directory_role: str | None = None

    @property
    def role(self) -> str:
        role = self.directory_role or self.token.get("role", "")
        return role if role in ROLES else ""


#: What a service's directory knows of a user: ``(is_active, role)``.
DirectoryEntry = tuple[bool, str]
DirectoryLookup = Callable[..., DirectoryEntry | None]


def user_directory() -> DirectoryLookup | None:
    """The lookup ``SERVIDESK_USER_DIRECTORY`` names, or ``None`` when it names none."""
    path = getattr(settings, "SERVIDESK_USER_DIRECTORY", "")
    return _import_lookup(path) if path else None


@cache
def _import_lookup(path: str) -> DirectoryLookup:
    lookup: DirectoryLookup = import_string(path)
    return lookup


class StatelessJWTAuthentication(JWTStatelessUserAuthentication):
    """simplejwt's stateless authentication, checked against the service's own user
    directory when it has one (see the module docstring); every service points at it."""

    def get_user(self, validated_token: Token) -> Any:
        user = super().get_user(validated_token)
        lookup = user_directory()
        if lookup is None or not isinstance(user, ServideskTokenUser):
            return user
        entry = lookup(user_id=str(user.id))
        if entry is None:
            return user
        is_active, role = entry
        if not is_active:
            raise AuthenticationFailed(
                _("This account has been deactivated. Ask an administrator to reactivate it."),
                code="user_inactive",
            )
        user.directory_role = role
        return user
