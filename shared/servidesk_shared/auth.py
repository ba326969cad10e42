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
  way) is taken as the token says;
* an API key's caller (``user_id`` ``apikey:<id>``) is in no directory and is not looked
  up: it acts with the token's role (accounts checked the key when it issued the token).

Whatever the view's own permissions, a token with ``scope`` ``read`` (a read-only API
key's) may only read: any other method than GET, HEAD or OPTIONS is answered 403 by the
authentication itself (``ScopedAuthenticationMixin``), so no view can forget it.

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
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
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

#: The ``user_id`` of an API key's tokens is this prefix and the key's id.
API_KEY_USER_PREFIX: Final = "apikey:"
#: The claim that narrows what a token may do; absent, the token may do what its role may.
SCOPE_CLAIM: Final = "scope"
#: The only scope so far: reads (GET, HEAD, OPTIONS) only.
READ_SCOPE: Final = "read"


def is_api_key_id(user_id: object) -> bool:
    """Whether a token's ``user_id`` names an API key (``apikey:<id>``), not a person."""
    return str(user_id).startswith(API_KEY_USER_PREFIX)


def may_write(token: Token) -> bool:
    """Whether ``token`` may call non-safe methods: only one without a ``scope`` claim.

    A scope this code does not know is read as the narrowest one (``read``): a scope is
    there to restrict, so an unknown one must never grant more.
    """
    return token.get(SCOPE_CLAIM) is None


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

    @property
    def is_api_key(self) -> bool:
        """An integration's API key, not a person (``user_id`` ``apikey:<id>``)."""
        return is_api_key_id(self.id)

    @property
    def is_read_only(self) -> bool:
        """The token may only read (``scope`` ``read``)."""
        return not may_write(self.token)


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


def refuse_writes_out_of_scope(request: Request, token: Token) -> None:
    """403 for a non-safe method called with a token that may only read."""
    if request.method not in SAFE_METHODS and not may_write(token):
        raise PermissionDenied(
            _(
                "This token may only read (GET, HEAD, OPTIONS): it comes from a read-only "
                "API key. Use a key that is not read-only to make changes."
            ),
            code="read_only_scope",
        )


class ScopedAuthenticationMixin:
    """Refuses a write (403) made with a read-only token, whatever the view's permissions.

    In the authentication, not in a permission class, because a view that sets its own
    ``permission_classes`` replaces the default ones and would forget a permission; every
    service's authentication class (the shared one, accounts' own) mixes this in.
    """

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        result: tuple[Any, Token] | None = super().authenticate(request)  # type: ignore[misc]
        if result is not None:
            refuse_writes_out_of_scope(request, result[1])
        return result


class StatelessJWTAuthentication(ScopedAuthenticationMixin, JWTStatelessUserAuthentication):
    """simplejwt's stateless authentication, checked against the service's own user
    directory when it has one, and limited to reads for a read-only token (see the module
    docstring); every service but accounts points at it."""

    def get_user(self, validated_token: Token) -> Any:
        user = super().get_user(validated_token)
        lookup = user_directory()
        if lookup is None or not isinstance(user, ServideskTokenUser) or user.is_api_key:
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
