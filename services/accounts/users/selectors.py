"""Reads: who is who, and which users a caller may see."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from users.models import ApiKey, AuditEntry, Role, User, normalize_email


def user_by_identifier(identifier: str) -> User | None:
    """The user a login identifier names: an email when it has "@", else a username.

    Both lookups hit a unique index (``email`` is stored lower-cased; usernames have a
    unique index on ``lower(username)``).
    """
    value = identifier.strip()
    if not value:
        return None
    if "@" in value:
        return User.objects.filter(email=normalize_email(value)).first()
    return (
        User.objects.alias(username_lower=Lower("username"))
        .filter(username_lower=value.lower())
        .first()
    )


def user_by_email(email: str) -> User | None:
    return User.objects.filter(email=normalize_email(email)).first()


def users_visible_to(actor: User) -> QuerySet[User]:
    """The users ``actor`` may see through ``users/``: all for admins, none for anyone else.

    Restricting first (NetBox style) makes another user's id a 404 for non-admins.
    """
    if actor.is_active and actor.role == Role.ADMIN:
        return User.objects.all()
    return User.objects.none()


class UserFilter(django_filters.FilterSet):  # type: ignore[misc]
    role = django_filters.ChoiceFilter(choices=Role.choices)
    is_active = django_filters.BooleanFilter()
    q = django_filters.CharFilter(method="search", max_length=100)

    class Meta:
        model = User
        fields = ["role", "is_active"]

    def search(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(username__icontains=value) | Q(email__icontains=value) | Q(full_name__icontains=value)
        )


def user_list(*, actor: User, filters: dict[str, Any] | None = None) -> QuerySet[User]:
    """The users ``actor`` may see, filtered by ``role``, ``is_active`` and ``q``.

    Invalid filter values raise ``django.core.exceptions.ValidationError`` (a 400).
    """
    filterset = UserFilter(filters or {}, queryset=users_visible_to(actor))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    queryset: QuerySet[User] = filterset.qs
    return queryset


def user_get(*, actor: User, user_id: Any) -> User | None:
    try:
        pk = int(user_id)
    except (TypeError, ValueError):
        return None
    return users_visible_to(actor).filter(pk=pk).first()


def api_key_list() -> QuerySet[ApiKey]:
    """The keys not revoked (expired ones too: they show when they stopped working)."""
    return ApiKey.objects.filter(revoked_at__isnull=True)


def api_key_get(*, key_id: int) -> ApiKey | None:
    """A key not revoked, by id."""
    return api_key_list().filter(pk=key_id).first()


class AuditFilter(django_filters.FilterSet):  # type: ignore[misc]
    user = django_filters.NumberFilter(field_name="user_id", min_value=1)
    action = django_filters.MultipleChoiceFilter(choices=AuditEntry.Action.choices)
    api_key = django_filters.NumberFilter(field_name="api_key_id", min_value=1)
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields: list[str] = []


def audit_list(*, filters: dict[str, Any] | None = None) -> QuerySet[AuditEntry]:
    """The audit trail (admins only: the view checks), newest first, filtered by ``user``
    (id), ``action`` (repeatable), ``api_key`` (id), ``since`` and ``until``.

    Invalid filter values raise ``django.core.exceptions.ValidationError`` (a 400).
    """
    queryset = AuditEntry.objects.select_related("actor", "user", "api_key")
    filterset = AuditFilter(filters or {}, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    found: QuerySet[AuditEntry] = filterset.qs
    return found.order_by("-at", "-id")
