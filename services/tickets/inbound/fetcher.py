"""One pass over the support mailbox: read what waits there, apply each message, then
mark it on the server (``manage.py fetch_mail`` runs passes in a loop).

Order per message, which is what makes it exactly once: apply and record it in one
transaction (``inbound.services.message_apply``), and only after that commit mark it
done on the server. A crash between the two leaves a recorded message in the mailbox;
the next pass finds the record and only marks it. Marks are sent in batches, so a pass
over a full mailbox costs a few server commands, not two per message.

A message that cannot be parsed, or whose applying raises, goes to the failed folder
with the reason logged and recorded. A database that is away is not the message's
fault: the pass stops (``DatabaseError`` propagates) and leaves the message in place.

One process reads a mailbox at a time (``inbound.models.MailboxLease``): a pass that
finds another reader's lease returns at once (``busy``), and a reader renews its lease
as it goes; one that loses it (it stalled past the lease) stops after the message in
hand. Should two readers overlap anyway, each message is still applied once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from django.db import InterfaceError, OperationalError

from inbound import services
from inbound.parsing import ParseError
from inbound.sources import MailSource

logger = logging.getLogger(__name__)

#: Messages marked on the server at once.
MARK_BATCH: Final = 50
#: How long a reader's lease lasts without renewal: far longer than one message takes.
LEASE_SECONDS: Final = 300.0
#: Renewed once this much of it has passed.
LEASE_RENEW_AFTER: Final = LEASE_SECONDS / 3
#: A database that is away: not the message's fault, so it stays where it is.
TRANSIENT_ERRORS: Final = (OperationalError, InterfaceError)


@dataclass
class PassResult:
    #: Outcomes of the messages applied in this pass (``already`` for ones applied before).
    outcomes: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    released: int = 0
    #: Another process holds the mailbox: this pass read nothing.
    busy: bool = False

    @property
    def seen(self) -> int:
        return sum(self.outcomes.values()) + self.failed


def fetch_pass(
    source: MailSource, *, stop: threading.Event | None = None, holder: str | None = None
) -> PassResult:
    """Read ``source`` (an open source) once; returns what became of the messages.

    ``stop`` set: the pass ends after the message it is applying, marks what it applied
    and returns, so a SIGTERM never cuts a message in half. ``holder`` names this reader
    for the mailbox's lease (a long-running process keeps one name).
    """
    holder = holder or services.lease_holder_name()
    if not services.mailbox_lease_take(source=source.key, holder=holder, seconds=LEASE_SECONDS):
        logger.info("another process is reading the mailbox", extra={"mailbox": source.key})
        return PassResult(busy=True)
    try:
        result = _read(source, stop=stop, holder=holder)
    finally:
        services.mailbox_lease_release(source=source.key, holder=holder)
    result.released = services.held_messages_sweep()
    return result


def _read(source: MailSource, *, stop: threading.Event | None, holder: str) -> PassResult:
    result = PassResult()
    done: list[str] = []
    failed: list[str] = []
    renewed = time.monotonic()
    try:
        for message in source.pending():
            if stop is not None and stop.is_set():
                break
            if time.monotonic() - renewed > LEASE_RENEW_AFTER:
                if not services.mailbox_lease_take(
                    source=source.key, holder=holder, seconds=LEASE_SECONDS
                ):
                    logger.warning("mailbox lease lost", extra={"mailbox": source.key})
                    break
                renewed = time.monotonic()
            try:
                applied = services.message_apply(
                    source=source.key, position=message.position, raw=message.raw
                )
            except TRANSIENT_ERRORS:
                raise
            except ParseError as exc:
                _fail(source, message.position, message.raw, f"unparsable: {exc}")
                failed.append(message.position)
                result.failed += 1
            except Exception as exc:
                logger.exception("inbound mail failed", extra={"position": message.position})
                _fail(source, message.position, message.raw, f"{type(exc).__name__}: {exc}")
                failed.append(message.position)
                result.failed += 1
            else:
                result.outcomes[applied.outcome or "already"] += 1
                done.append(message.position)
            if len(done) >= MARK_BATCH:
                source.mark_done(done)
                done = []
            if len(failed) >= MARK_BATCH:
                source.mark_failed(failed)
                failed = []
    finally:
        # Whatever stopped the pass, what was applied is marked (it is committed).
        source.mark_done(done)
        source.mark_failed(failed)
    return result


def _fail(source: MailSource, position: str, raw: bytes, reason: str) -> None:
    logger.warning(
        "inbound mail moved to the failed folder: %s",
        reason,
        extra={"mailbox": source.key, "position": position},
    )
    services.failure_record(source=source.key, position=position, raw=raw, reason=reason)


def retry_failed(source: MailSource) -> int:
    """Put the failed folder's messages back to be read again; how many were moved."""
    moved = source.retry_failed()
    services.failures_retried(source=source.key)
    return moved
