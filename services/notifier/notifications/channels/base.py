"""What every channel does, and the three ways a send can end other than success."""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from notifications.models import Contact, Delivery


class SendError(Exception):
    """A send did not happen; ``reason`` goes to the delivery log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(SendError):
    """Worth retrying later: the server was away, busy or slow."""


class PermanentError(SendError):
    """Retrying cannot help: the recipient or the message was refused."""


class Skip(SendError):  # noqa: N818 (not an error: a decision not to send)
    """Not sent on purpose (preferences, an address not verified, a daily cap, a country
    not allowed, channel not configured)."""


@dataclass(frozen=True)
class Sent:
    address: str
    provider_id: str
    provider_status: str = ""


class Transport(Protocol):
    """One session with a provider, kept open from batch to batch while there is work."""

    @property
    def channel(self) -> str: ...

    @property
    def usable(self) -> bool:
        """False once the session is known to be broken: the sender then drops it."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def destination(self, delivery: Delivery, contact: Contact | None) -> str:
        """The address ``delivery`` goes to, or ``Skip`` with why it must not go (checked
        before the per-recipient cap is counted, and again by ``send``)."""
        ...

    def send(self, delivery: Delivery, contact: Contact | None) -> Sent:
        """Send one message; raise ``TransientError``, ``PermanentError`` or ``Skip``."""
        ...
