"""What the admins' monitoring pages read and do (issue 22): notifier's email and SMS
delivery log with retry, each consuming service's dead letters, and accounts' audit trail.

The answers are decoded as in ``portal.api.types``; the calls go through the request's
``Api`` connection (``client_for``), so they carry the user's token like every other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from urllib.parse import quote

import msgspec

from portal.api.client import Api, Params, Service
from portal.api.types import Id, Page, cursor_of

#: The services whose queue has dead letters, in the order the page shows them.
CONSUMERS: Final = ("tickets", "notifier", "reports", "accounts")


class NotificationDelivery(msgspec.Struct, frozen=True):
    """A row of notifier's email and SMS delivery log; ``status``: ``queued``, ``sent``,
    ``delivered``, ``failed`` or ``skipped``."""

    id: Id
    channel: str
    status: str
    event_type: str = ""
    kind: str = ""
    recipient_id: Id | None = None
    ticket_id: Id | None = None
    address: str = ""
    attempts: int = 0
    last_error: str = ""
    next_attempt_at: datetime | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None


class DeadLetter(msgspec.Struct, frozen=True):
    """A message a service's consumer could not apply; ``key`` names it (its event id)."""

    key: str
    event_type: str = ""
    message_id: str = ""
    reason: str = ""
    error: str = ""
    attempts: int = 0
    failed_at: str = ""
    body: str = ""

    @property
    def failed_moment(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.failed_at) if self.failed_at else None
        except ValueError:
            return None

    @property
    def error_summary(self) -> str:
        """The last line of the error (a traceback's is the exception)."""
        lines = [line for line in self.error.strip().splitlines() if line.strip()]
        return lines[-1] if lines else ""


class DeadLetterPage(msgspec.Struct, frozen=True):
    """A page of dead letters; ``count``: how many wait in the queue in all."""

    results: list[DeadLetter]
    count: int = 0
    next: str | None = None
    previous: str | None = None

    @property
    def next_cursor(self) -> str | None:
        return cursor_of(self.next)

    @property
    def previous_cursor(self) -> str | None:
        return cursor_of(self.previous)


class Replayed(msgspec.Struct, frozen=True):
    replayed: int = 0


class AuditEntry(msgspec.Struct, frozen=True):
    """One change to a user or an API key; ``actor_id`` null: the system."""

    id: Id
    at: datetime
    action: str
    actor_id: Id | None = None
    actor_username: str | None = None
    user_id: Id | None = None
    username: str | None = None
    api_key_id: Id | None = None
    api_key_name: str | None = None
    old_value: str = ""
    new_value: str = ""


class _Consumer(Service):
    """One consuming service, by its name (``CONSUMERS``)."""

    def __init__(self, api: Api, name: str) -> None:
        super().__init__(api.connection)
        self.name = name


def deliveries(api: Api, params: Params) -> Page[NotificationDelivery]:
    """A page of the email and SMS delivery log, newest first."""
    return api.notifier.get("deliveries/", Page[NotificationDelivery], params)


def retry_delivery(api: Api, delivery_id: str) -> NotificationDelivery:
    """Queue a failed delivery again (202)."""
    return api.notifier.post(f"deliveries/{delivery_id}/retry/", None, NotificationDelivery)


def dead_letters(api: Api, service: str, params: Params) -> DeadLetterPage:
    """A page of ``service``'s dead letters, oldest first."""
    return _Consumer(api, service).get("dead-letters/", DeadLetterPage, params)


def replay_dead_letter(api: Api, service: str, key: str) -> Replayed:
    """Send a dead letter back to ``service``'s queue (202)."""
    return _Consumer(api, service).post(f"dead-letters/{_segment(key)}/replay/", None, Replayed)


def discard_dead_letter(api: Api, service: str, key: str) -> None:
    _Consumer(api, service).send("DELETE", f"dead-letters/{_segment(key)}/")


def audit_trail(api: Api, params: Params) -> Page[AuditEntry]:
    """A page of accounts' audit trail, newest first."""
    return api.accounts.get("audit/", Page[AuditEntry], params)


def _segment(key: str) -> str:
    """``key`` as one path segment, whatever it holds."""
    return quote(key, safe="")
