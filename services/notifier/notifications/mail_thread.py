"""Mail threads: every mail about a ticket answers the first one its recipient got.

The contract (``ARCHITECTURE.md``, "Mail threading"): every Message-ID of a mail about a
ticket starts with ``<sd.<ticket id>.``, so tickets files a reply under the ticket that its
``In-Reply-To``/``References`` name, without asking notifier. Here:

- ``Message-ID: <sd.<ticket id>.<delivery uuid>@<domain>>``. The delivery uuid is a
  ``uuid5`` of the delivery's unique key (event, channel, recipient): the consumer can name
  a mail before it exists (the thread's root, below), and a mail sent again after a crash
  keeps its id. The domain is ``SUPPORT_EMAIL``'s (else ``DEFAULT_FROM_EMAIL``'s).
- The root of a thread is the first mail recorded about a ticket for one recipient
  (``MailThread``, one row per ticket and recipient: the unique key decides between two
  consumers at once). Every later mail to them about the ticket carries
  ``In-Reply-To: <root>`` and ``References: <root>``. A root that was never delivered
  (skipped, refused) still ties the later mails together: they all name it.
- ``Reply-To: SUPPORT_EMAIL``, the envelope sender ``SUPPORT_EMAIL`` too (bounces come
  back to the support mailbox: ``bounce_address``), and the subject ``[<ticket number>]
  <title>`` (``[SD-123]``, the tag tickets' inbound parser looks for); the subject stays
  the same from mail to mail, which some mail programs need to keep a conversation
  together.

A ticket id that could not sit in a Message-ID as it is (only letters, digits, ``-`` and
``_`` can) gets a Message-ID outside the scheme and no thread: tickets then finds the
ticket by the subject's number.
"""

from __future__ import annotations

import functools
import re
import uuid
from email.utils import parseaddr
from typing import Final

from django.conf import settings

#: Namespace of the delivery uuids (a fixed, random value: ids never change meaning).
DELIVERY_NAMESPACE: Final = uuid.UUID("6f1e0b9c-3f3c-4a47-9a55-1d2b6f0f7c11")
#: What a ticket id may be made of to go into a Message-ID unchanged.
_ID_SAFE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def support_address() -> str:
    """``SUPPORT_EMAIL`` as configured (an address, or ``Name <address>``)."""
    return str(getattr(settings, "SUPPORT_EMAIL", "") or settings.DEFAULT_FROM_EMAIL)


def bounce_address() -> str:
    """The envelope sender of every mail (``MAIL FROM``, the ``Return-Path``): the support
    mailbox's bare address, so that a delivery-status report comes back where tickets reads
    (and publishes ``mail.bounced``). The ``From`` header stays ``DEFAULT_FROM_EMAIL``."""
    return parseaddr(support_address())[1] or parseaddr(str(settings.DEFAULT_FROM_EMAIL))[1]


@functools.lru_cache(maxsize=8)
def _domain_of(address: str) -> str:
    domain = parseaddr(address)[1].rpartition("@")[2]
    return domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain) else "servidesk"


def domain() -> str:
    """The right-hand side of every Message-ID notifier writes."""
    return _domain_of(support_address())


def threadable(ticket_id: str) -> bool:
    return bool(ticket_id) and _ID_SAFE.fullmatch(ticket_id) is not None


def delivery_uuid(*, event_id: uuid.UUID | str, channel: str, recipient_id: str) -> uuid.UUID:
    """The same for the same delivery (its unique key), whoever computes it."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{event_id}/{channel}/{recipient_id}")


def message_id(*, ticket_id: str, event_id: uuid.UUID | str, recipient_id: str) -> str:
    """The Message-ID of the mail of one delivery (``<sd.<ticket id>.<uuid>@domain>``)."""
    unique = delivery_uuid(event_id=event_id, channel="email", recipient_id=recipient_id).hex
    if threadable(ticket_id):
        return f"<sd.{ticket_id}.{unique}@{domain()}>"
    return f"<notifier.{unique}@{domain()}>"


def thread_headers(*, own_id: str, root_id: str | None) -> dict[str, str]:
    """``In-Reply-To`` and ``References`` of a mail whose thread starts at ``root_id``;
    none for the root itself (or a mail without a thread)."""
    if not root_id or root_id == own_id:
        return {}
    return {"In-Reply-To": root_id, "References": root_id}
