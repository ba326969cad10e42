"""The APIs' shapes as the UI reads them (ARCHITECTURE.md, "API shapes other clients rely
on"). Parsing is lenient: a field an API adds is ignored, one it drops gets a default."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from servidesk_shared.vocabulary import allowed_moves

T = TypeVar("T")

#: An open ticket whose next target is closer than this is "due soon".
DUE_SOON = timedelta(hours=1)


def moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_current_timezone())
    return parsed


def opaque(value: Any) -> str:
    """Ids are opaque: kept as text, so ``7`` and ``"7"`` compare equal."""
    return "" if value is None else str(value)


def text(value: Any) -> str:
    return "" if value is None else str(value)


def cursor_of(url: Any) -> str | None:
    """The ``cursor`` parameter of a ``next``/``previous`` link (its host is internal)."""
    if not isinstance(url, str) or not url:
        return None
    values = parse_qs(urlsplit(url).query).get("cursor")
    return values[0] if values else None


@dataclass(frozen=True)
class Page(Generic[T]):
    results: list[T]
    next_cursor: str | None = None
    previous_cursor: str | None = None

    @classmethod
    def parse(cls, data: Any, item: Callable[[Any], T]) -> Page[T]:
        if isinstance(data, list):  # an unpaginated list
            return cls(results=[item(row) for row in data])
        rows = data.get("results", []) if isinstance(data, dict) else []
        return cls(
            results=[item(row) for row in rows],
            next_cursor=cursor_of(data.get("next")),
            previous_cursor=cursor_of(data.get("previous")),
        )

    @classmethod
    def empty(cls) -> Page[T]:
        return cls(results=[])


@dataclass(frozen=True)
class Ticket:
    id: str
    number: str
    title: str
    description: str
    status: str
    priority: str
    category: str | None
    client_id: str
    assignee_id: str | None
    client_name: str
    assignee_name: str
    created_at: datetime | None
    updated_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    first_response_breached: bool
    resolution_breached: bool
    version: int | None

    @classmethod
    def parse(cls, data: Any) -> Ticket:
        return cls(
            id=opaque(data.get("id")),
            number=text(data.get("number")),
            title=text(data.get("title")),
            description=text(data.get("description")),
            status=text(data.get("status")),
            priority=text(data.get("priority")),
            category=data.get("category") or None,
            client_id=opaque(data.get("client_id")),
            assignee_id=opaque(data.get("assignee_id")) or None,
            client_name=text(data.get("client_name")),
            assignee_name=text(data.get("assignee_name")),
            created_at=moment(data.get("created_at")),
            updated_at=moment(data.get("updated_at")),
            first_response_at=moment(data.get("first_response_at")),
            resolved_at=moment(data.get("resolved_at")),
            first_response_due=moment(data.get("first_response_due")),
            resolution_due=moment(data.get("resolution_due")),
            first_response_breached=bool(data.get("first_response_breached")),
            resolution_breached=bool(data.get("resolution_breached")),
            version=data.get("version") if isinstance(data.get("version"), int) else None,
        )

    @property
    def is_open(self) -> bool:
        return self.status != "resolved"

    @property
    def breached(self) -> bool:
        return self.first_response_breached or self.resolution_breached

    @cached_property
    def next_due(self) -> datetime | None:
        """The target the team is working against now: the first response, then resolution."""
        if not self.is_open:
            return None
        if self.first_response_at is None and self.first_response_due is not None:
            return self.first_response_due
        return self.resolution_due

    @cached_property
    def sla_state(self) -> str:
        """``breached``, ``due_soon``, ``on_track`` or ``closed`` (resolved)."""
        if self.breached:
            return "breached"
        if not self.is_open:
            return "closed"
        due = self.next_due
        if due is not None and due - timezone.now() < DUE_SOON:
            return "due_soon"
        return "on_track"

    @property
    def moves(self) -> tuple[str, ...]:
        """Where the shared workflow lets this ticket move (the API is the authority; this
        only decides which buttons to offer)."""
        return tuple(allowed_moves(self.status))


@dataclass(frozen=True)
class Comment:
    id: str
    author_id: str
    author_name: str
    body: str
    internal: bool
    created_at: datetime | None

    @classmethod
    def parse(cls, data: Any) -> Comment:
        return cls(
            id=opaque(data.get("id")),
            author_id=opaque(data.get("author_id")),
            author_name=text(data.get("author_name")),
            body=text(data.get("body")),
            internal=bool(data.get("internal")),
            created_at=moment(data.get("created_at")),
        )


@dataclass(frozen=True)
class HistoryEntry:
    actor_id: str
    field: str
    old: str
    new: str
    at: datetime | None

    @classmethod
    def parse(cls, data: Any) -> HistoryEntry:
        return cls(
            actor_id=opaque(data.get("actor_id")),
            field=text(data.get("field")),
            old=opaque(data.get("from")),
            new=opaque(data.get("to")),
            at=moment(data.get("at")),
        )


@dataclass(frozen=True)
class Category:
    slug: str
    name: str
    description: str = ""
    is_active: bool = True

    @classmethod
    def parse(cls, data: Any) -> Category:
        return cls(
            slug=text(data.get("slug")),
            name=text(data.get("name")) or text(data.get("slug")),
            description=text(data.get("description")),
            is_active=bool(data.get("is_active", True)),
        )


@dataclass(frozen=True)
class SlaTarget:
    priority: str
    first_response_hours: int
    resolution_hours: int
    is_default: bool

    @classmethod
    def parse(cls, data: Any) -> SlaTarget:
        return cls(
            priority=text(data.get("priority")),
            first_response_hours=int(data.get("first_response_hours") or 0),
            resolution_hours=int(data.get("resolution_hours") or 0),
            is_default=bool(data.get("is_default")),
        )


@dataclass(frozen=True)
class Person:
    """An assignee candidate (``tickets/assignees/``)."""

    id: str
    username: str
    name: str
    role: str

    @classmethod
    def parse(cls, data: Any) -> Person:
        return cls(
            id=opaque(data.get("id")),
            username=text(data.get("username")),
            name=text(data.get("name")) or text(data.get("username")),
            role=text(data.get("role")),
        )


@dataclass(frozen=True)
class Notification:
    id: str
    event_type: str
    ticket_id: str | None
    title: str
    body: str
    read: bool
    created_at: datetime | None

    @classmethod
    def parse(cls, data: Any) -> Notification:
        return cls(
            id=opaque(data.get("id")),
            event_type=text(data.get("event_type")),
            ticket_id=opaque(data.get("ticket_id")) or None,
            title=text(data.get("title")),
            body=text(data.get("body")),
            read=bool(data.get("read")),
            created_at=moment(data.get("created_at")),
        )


@dataclass(frozen=True)
class Profile:
    """``me/`` and, with the admin-only fields, an entry of ``users/``."""

    id: str
    username: str
    email: str
    full_name: str
    phone: str
    role: str
    language: str
    notify_email: bool
    notify_sms: bool
    is_active: bool = True
    date_joined: datetime | None = None
    last_login: datetime | None = None
    #: Notifier mails only a confirmed address and texts only a verified number.
    email_verified: bool = False
    phone_verified: bool = False
    #: A new address waiting for its confirmation link (the change is not made until then).
    pending_email: str = ""

    @classmethod
    def parse(cls, data: Any) -> Profile:
        return cls(
            id=opaque(data.get("id")),
            username=text(data.get("username")),
            email=text(data.get("email")),
            full_name=text(data.get("full_name")),
            phone=text(data.get("phone")),
            role=text(data.get("role")),
            language=text(data.get("language")),
            notify_email=bool(data.get("notify_email")),
            notify_sms=bool(data.get("notify_sms")),
            is_active=bool(data.get("is_active", True)),
            date_joined=moment(data.get("date_joined")),
            last_login=moment(data.get("last_login")),
            email_verified=bool(data.get("email_verified")),
            phone_verified=bool(data.get("phone_verified")),
            pending_email=text(data.get("pending_email")),
        )

    @property
    def display_name(self) -> str:
        return self.full_name or self.username
