"""JWT authentication without asking accounts: the token is the user, as far as the
service's own user directory agrees.

A verifying service checks the token's signature with accounts' public key and never
calls accounts. When ``SERVIDESK_USER_DIRECTORY`` names a lookup (tickets, notifier and
reports keep a directory from accounts' ``user.*`` events), each authenticated request
also reads the caller's row there, by a unique key (one query):

* a user the directory knows as deactivated is refused with 401, even with an unexpired
  token, as soon as ``user.deactivated`` has been applied;
* the directory's role wins over the token's ``role`` claim, so a demoted or promoted
  user acts with their new role at once;
* a user the directory has not heard of yet (their ``user.registered`` is still on its
  way, or an API key's ``apikey:<id>`` caller) is taken as the token says.

The lookup is a keyword-only function of the service, ``lookup(*, user_id: str)``,
returning ``(is_active, role)`` or ``None``; ``UserDirectory`` makes one of a model::

    # tickets/selectors.py
    directory_entry: Final = UserDirectory(DirectoryUser, key="id")

    # core/settings/base.py
    SERVIDESK_USER_DIRECTORY = "tickets.selectors.directory_entry"

The directory is read on every request, not cached: a deactivation applies as soon as
the service's consumer has applied its event (usually well within a second).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from django.db import connections
from django.db.models import Field, Model
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import Token

from servidesk_shared import sql
from servidesk_shared.vocabulary import Role

CLIENT: Final[str] = Role.CLIENT.value
TECHNICIAN: Final[str] = Role.TECHNICIAN.value
ADMIN: Final[str] = Role.ADMIN.value
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


class UserDirectory:
    """A service's directory table as a lookup: ``UserDirectory(DirectoryUser, key="id")``
    called with ``user_id=`` gives that user's ``(is_active, role)``, or ``None``.

    One plain ``SELECT`` by a unique key (``sql.select_by_key``), its text built once from
    the model: this runs on every authenticated request, and building the same statement
    with the ORM on each call costs several times what the database spends answering it.
    """

    def __init__(
        self,
        model: type[Model],
        *,
        key: str,
        is_active: str = "is_active",
        role: str = "role",
        using: str = "default",
    ) -> None:
        self.model = model
        self.fields = (key, is_active, role)
        self.using = using
        self._sql: str | None = None

    def statement(self) -> str:
        if self._sql is None:
            key, is_active, role = (self._field(name) for name in self.fields)
            if not key.unique:  # a primary key is unique too
                raise ValueError(f"{self.model.__name__}.{key.name} is not a unique key")
            self._sql = sql.select_by_key(
                connections[self.using], self.model, key=key, columns=(is_active, role)
            )
        return self._sql

    def _field(self, name: str) -> Field[Any, Any]:
        field = self.model._meta.get_field(name)
        if not isinstance(field, Field) or not field.column:
            raise ValueError(f"{self.model.__name__}.{name} is not a column")
        return field

    def __call__(self, *, user_id: str) -> DirectoryEntry | None:
        row = sql.fetch_row(connections[self.using], self.statement(), [user_id])
        return None if row is None else (bool(row[0]), str(row[1] or ""))


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
