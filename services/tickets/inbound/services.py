"""Applying inbound mail: each message once, as its sender, in one transaction.

``message_apply`` turns one raw message from a mailbox into its effect and records it
(``InboundMessage``) in the same transaction, so the record exists if and only if the
effect does. The record is written first: a second fetcher applying the same message
waits on its unique keys (mailbox position, Message-ID) and then finds it recorded, and
a process killed mid-message leaves nothing, so the message is applied on the next pass.
The caller marks the message done on the server only after this returns (committed).

What a message becomes, in this order:

1. a delivery-status report: ``mail.bounced`` for notifier (the bounced Message-ID);
2. automatic mail (``Auto-Submitted``, ``Precedence: bulk``, lists…), or mail from
   Servidesk's own addresses or with a Servidesk Message-ID: recorded, nothing else;
3. a sender the directory does not know: ``INBOUND_UNKNOWN_SENDERS=create`` holds the
   message and asks accounts, once per address, to invite them
   (``user.invite_requested``); ``reject`` answers once per address with an explanation
   (``Auto-Submitted: auto-replied``). A known sender whose address is not confirmed:
   held too (accounts already mailed them the confirmation);
4. a deactivated sender: ignored;
5. a reply (``selectors.thread_ticket_id``: by references, else the subject's number):
   a public comment by the sender with the quoted text and signature stripped, or
   ignored when the sender may not see that ticket;
6. a new conversation from a client: a ticket, unless the sender opened
   ``INBOUND_MAX_PER_SENDER_PER_HOUR`` tickets in the last hour (throttled, no answer);
   from staff: ignored (a ticket needs a client, and a mail does not say which).

Attachments go with the ticket or comment within the limits every upload has; those
that do not fit are named at the end of the text instead of failing the message.

A held message is applied from step 5 on, as its sender, when the directory learns the
address is theirs and confirmed and they are active (``held_messages_release``, from the
``user.*`` handler; each fetch pass also sweeps for senders that became known).

The ``mailbox_lease_*`` functions keep one reader per mailbox (``inbound.fetcher``).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from typing import Final

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from tickets import attachments
from tickets import services as ticket_services
from tickets.actors import Actor
from tickets.models import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, DirectoryUser

from inbound import selectors
from inbound.models import (
    REASON_MAX_LENGTH,
    FailedMessage,
    HeldMessage,
    InboundMessage,
    MailboxLease,
    Outcome,
    SenderNotice,
)
from inbound.parsing import ParsedMail, parse, ticket_id_from_references
from servidesk_shared.errors import ApplicationError
from servidesk_shared.events.publisher import publish
from servidesk_shared.events.schemas import MailBounced, UserInviteRequested

logger = logging.getLogger(__name__)

UNKNOWN_CREATE: Final = "create"
UNKNOWN_REJECT: Final = "reject"
UNKNOWN_SENDER_MODES: Final = (UNKNOWN_CREATE, UNKNOWN_REJECT)


@dataclass(frozen=True)
class Decision:
    outcome: str
    reason: str = ""
    ticket_id: int | None = None
    comment_id: int | None = None


@dataclass(frozen=True)
class Applied:
    """What became of a message; ``outcome`` None: it had been applied before."""

    outcome: str | None
    reason: str = ""
    ticket_id: int | None = None


ALREADY_APPLIED: Final = Applied(outcome=None, reason="already recorded")


def message_apply(*, source: str, position: str, raw: bytes) -> Applied:
    """Apply the message at ``position`` of mailbox ``source`` once.

    Raises ``inbound.parsing.ParseError`` for a message that cannot be read; any other
    exception leaves nothing written (the caller records the failure).
    """
    if selectors.position_is_recorded(source=source, position=position):
        return ALREADY_APPLIED  # no need to parse it again
    mail = parse(raw)
    if selectors.is_recorded(source=source, position=position, message_id=mail.message_id):
        return ALREADY_APPLIED
    try:
        return _apply_new(source=source, position=position, raw=raw, mail=mail)
    except IntegrityError:
        # Another fetcher recorded it first (we waited on its unique key, then lost).
        if selectors.is_recorded(source=source, position=position, message_id=mail.message_id):
            return ALREADY_APPLIED
        raise


@transaction.atomic
def _apply_new(*, source: str, position: str, raw: bytes, mail: ParsedMail) -> Applied:
    record = InboundMessage.objects.create(
        source=source,
        source_uid=position,
        message_id=mail.message_id,
        sender=mail.sender,
        subject=mail.subject[:TITLE_MAX_LENGTH],
        outcome=Outcome.IGNORED,  # decided below, in this transaction
    )
    decision = _decide(mail, raw=raw, record=record)
    _record_decision(record, decision)
    logger.info(
        "inbound mail %s",
        decision.outcome,
        extra={
            "message_id": mail.message_id,
            "sender": mail.sender,
            "reason": decision.reason,
            "ticket_id": decision.ticket_id,
        },
    )
    return Applied(decision.outcome, decision.reason, decision.ticket_id)


def _record_decision(record: InboundMessage, decision: Decision) -> None:
    record.outcome = decision.outcome
    record.reason = decision.reason[:REASON_MAX_LENGTH]
    record.ticket_id = decision.ticket_id
    record.comment_id = decision.comment_id
    record.applied_at = timezone.now()
    record.save(update_fields=["outcome", "reason", "ticket", "comment", "applied_at"])


def _decide(mail: ParsedMail, *, raw: bytes, record: InboundMessage) -> Decision:
    return _automatic(mail) or _by_sender(mail, raw=raw, record=record)


def _automatic(mail: ParsedMail) -> Decision | None:
    """Bounces and mail no one wrote by hand: never applied, never answered."""
    if mail.bounce is not None:
        bounced = mail.bounce.original_message_id
        if bounced:
            publish(
                MailBounced(
                    message_id=bounced,
                    recipient=mail.bounce.recipient,
                    reason=mail.bounce.reason,
                )
            )
        return Decision(Outcome.BOUNCE, mail.bounce.reason or "delivery failed")
    if mail.auto_reason is not None:
        return Decision(Outcome.LOOP, mail.auto_reason)
    if mail.sender in selectors.own_addresses():
        return Decision(Outcome.LOOP, "from Servidesk's own address")
    if ticket_id_from_references([mail.message_id]) is not None:
        # Its Message-ID is one Servidesk gives its own mail (<sd.<ticket id>.…>).
        return Decision(Outcome.LOOP, "a mail Servidesk sent")
    return None


def _by_sender(mail: ParsedMail, *, raw: bytes, record: InboundMessage) -> Decision:
    user = selectors.sender_lookup(mail.sender, for_update=True)
    if user is None:
        if settings.INBOUND_UNKNOWN_SENDERS == UNKNOWN_REJECT:
            _refuse_once(mail)
            return Decision(Outcome.REJECTED, "unknown sender")
        _hold(mail, raw=raw, record=record)
        _invite_once(mail)
        return Decision(Outcome.HELD, "unknown sender: invitation requested")
    if not user.is_active:
        return Decision(Outcome.IGNORED, "sender deactivated")
    if not selectors.writes_by_mail(user):
        _hold(mail, raw=raw, record=record)
        return Decision(Outcome.HELD, "sender has not confirmed the address")
    return _apply_as(user, mail)


def _apply_as(user: DirectoryUser, mail: ParsedMail) -> Decision:
    """The message's effect as ``user`` (active, address confirmed; their row locked,
    which keeps one sender's messages in order and their hourly count exact)."""
    actor = Actor(id=user.pk, role=user.role)
    ticket_id = selectors.thread_ticket_id(mail)
    if ticket_id is not None:
        return _comment(actor, ticket_id, mail)
    if not actor.is_client:
        return Decision(Outcome.IGNORED, "staff mail that answers no ticket")
    if selectors.tickets_opened_lately(mail.sender) >= settings.INBOUND_MAX_PER_SENDER_PER_HOUR:
        return Decision(Outcome.THROTTLED, "too many tickets from this sender in the last hour")
    language = _language(mail)
    files, note = _files(mail, language=language)
    with translation.override(language):
        title = mail.subject.strip()[:TITLE_MAX_LENGTH] or _("(no subject)")
    ticket = ticket_services.ticket_create(
        actor=actor, title=title, description=_bounded(mail.body, note), files=files
    )
    return Decision(Outcome.TICKET, ticket_id=ticket.pk)


def _comment(actor: Actor, ticket_id: int, mail: ParsedMail) -> Decision:
    body = mail.reply_body.strip() or mail.body.strip()
    if not body and not mail.attachments:
        return Decision(Outcome.IGNORED, "empty reply", ticket_id=ticket_id)
    files, note = _files(mail, language=_language(mail))
    try:
        comment = ticket_services.comment_create(
            ticket_id=ticket_id,
            actor=actor,
            body=_bounded(body, note),
            internal=False,
            files=files,
        )
    except Http404:
        # Not theirs to see: the ticket is not touched, and not named in the record.
        return Decision(Outcome.IGNORED, "a reply to a ticket the sender may not see")
    except attachments.AttachmentStorageError:
        raise  # the storage is away: the message fails, to be retried
    except ApplicationError as exc:
        return Decision(Outcome.IGNORED, exc.message, ticket_id=ticket_id)
    # A reply to a closed ticket lands on its follow-up (comment_create).
    return Decision(Outcome.COMMENT, ticket_id=comment.ticket_id, comment_id=comment.pk)


def _files(mail: ParsedMail, *, language: str) -> tuple[list[ContentFile[bytes]], str]:
    """The attachments to keep, within the limits every upload has
    (``tickets.attachments``), and a note naming those left out, for the text: a mail
    cannot be refused the way an upload is, so what fits is kept."""
    kept: list[ContentFile[bytes]] = []
    left_out: list[str] = []
    total = 0
    for attachment in mail.attachments:
        size = len(attachment.content)
        if (
            size == 0
            or size > attachments.max_file_bytes()
            or total + size > attachments.max_request_bytes()
            or len(kept) >= attachments.max_files()
        ):
            left_out.append(attachment.filename)
            continue
        total += size
        kept.append(ContentFile(attachment.content, name=attachment.filename))
    if not left_out:
        return kept, ""
    with translation.override(language):
        note = _("Attachments not kept (empty or over the size limits): %(names)s") % {
            "names": ", ".join(left_out)
        }
    return kept, note


def _bounded(text: str, note: str = "") -> str:
    """``text`` (and ``note`` below it) within a ticket's or comment's length."""
    suffix = f"\n\n[{note}]" if note else ""
    room = BODY_MAX_LENGTH - len(suffix)
    if len(text) > room:
        text = text[: room - 1] + "…"
    return text + suffix


def _language(mail: ParsedMail) -> str:
    """The mail's language when Servidesk speaks it, else the default."""
    code = (mail.language or "").split(",")[0].strip().lower()[:2]
    return code if code in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


# --- unknown senders --------------------------------------------------------------------


def _hold(mail: ParsedMail, *, raw: bytes, record: InboundMessage) -> None:
    HeldMessage.objects.create(message=record, email=mail.sender, raw=raw)


def _notice_once(email: str, kind: str) -> bool:
    """Note that ``kind`` was done for ``email``; False when it had been already."""
    _notice, created = SenderNotice.objects.get_or_create(email=email, kind=kind)
    return created


def _invite_once(mail: ParsedMail) -> None:
    if _notice_once(mail.sender, SenderNotice.Kind.INVITATION):
        publish(
            UserInviteRequested(email=mail.sender, name=mail.sender_name, language=_language(mail))
        )


def _refuse_once(mail: ParsedMail) -> None:
    if not _notice_once(mail.sender, SenderNotice.Kind.REFUSAL):
        return
    language = _language(mail)
    transaction.on_commit(
        lambda: _send_refusal(
            to=mail.sender, subject=mail.subject, message_id=mail.message_id, language=language
        )
    )


def _send_refusal(*, to: str, subject: str, message_id: str, language: str) -> None:
    """The one answer an unknown sender gets in ``reject`` mode. Marked as an automatic
    reply (RFC 3834), so a well-behaved mail program does not answer it in turn."""
    with translation.override(language):
        message = EmailMessage(
            subject=_("Your message to %(address)s was not accepted")
            % {"address": parseaddr(settings.SUPPORT_EMAIL)[1]},
            body=_(
                "Hello,\n\n"
                'We received your message "%(subject)s", but this address only accepts '
                "messages from people registered with the help desk. If you have an "
                "account, write to us again from the address registered in it.\n\n"
                "This is an automatic answer; replies to it are not read."
            )
            % {"subject": subject},
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
            headers={
                "Auto-Submitted": "auto-replied",
                "In-Reply-To": message_id,
                "References": message_id,
                "X-Auto-Response-Suppress": "All",
            },
        )
    try:
        message.send()
    except Exception:
        # After commit: the message is recorded either way; a lost answer is only logged.
        logger.exception("could not send the refusal", extra={"recipient": to})


# --- held messages ----------------------------------------------------------------------


@transaction.atomic
def held_messages_release(*, user: DirectoryUser) -> int:
    """Apply the messages held for ``user``'s address, as them, if they may now write by
    mail (``selectors.writes_by_mail``: active, and the address confirmed or the one an
    invitation was requested for). Returns how many.

    Runs inside the ``user.*`` event's transaction (``tickets.handlers``); a message a
    concurrent call is applying is skipped (``skip_locked``), not applied twice.
    """
    if not (user.email and user.is_active):
        return 0
    held = list(
        selectors.held_for(user.email)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("message")
    )
    if not held:
        return 0  # the usual case: one indexed read per user event
    if not selectors.writes_by_mail(user):
        return 0  # still held: the address is not confirmed yet
    released = 0
    # The lock on the user's row a fetcher takes too (see _apply_as).
    locked = DirectoryUser.objects.select_for_update().filter(pk=user.pk).first() or user
    for message in held:
        mail = parse(bytes(message.raw))
        try:
            with transaction.atomic():
                decision = _apply_as(locked, mail)
        except attachments.AttachmentStorageError:
            raise  # the storage is away: the event is retried, the message stays held
        except ApplicationError as exc:
            # Refused for good (a rule of tickets.services): kept out of the way, with why.
            decision = Decision(Outcome.IGNORED, exc.message)
        _record_decision(message.message, decision)
        message.delete()
        released += 1
        logger.info(
            "held inbound mail %s",
            decision.outcome,
            extra={"message_id": mail.message_id, "sender": mail.sender},
        )
    return released


def held_messages_sweep() -> int:
    """Release the messages of senders who became known without their event releasing
    them (a message held while its sender's ``user.registered`` was being applied)."""
    return sum(held_messages_release(user=user) for user in selectors.senders_now_known())


# --- failures ---------------------------------------------------------------------------


@transaction.atomic
def failure_record(*, source: str, position: str, raw: bytes, reason: str) -> FailedMessage:
    """Remember why the message at ``position`` failed (it goes to the failed folder)."""
    try:
        mail: ParsedMail | None = parse(raw)
    except ValueError:
        mail = None
    return FailedMessage.objects.create(
        source=source,
        source_uid=position,
        message_id=mail.message_id if mail else "",
        sender=mail.sender if mail else "",
        subject=mail.subject[:TITLE_MAX_LENGTH] if mail else "",
        reason=reason[:REASON_MAX_LENGTH],
    )


@transaction.atomic
def failures_retried(*, source: str) -> int:
    """The failed messages of ``source`` were put back in the mailbox to be read again."""
    return FailedMessage.objects.filter(source=source, retried_at__isnull=True).update(
        retried_at=timezone.now()
    )


# --- one reader per mailbox -------------------------------------------------------------


def lease_holder_name() -> str:
    """A name for this process among the mailbox's readers (host, pid, and a random part
    so a reused pid is not taken for its predecessor)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@transaction.atomic
def mailbox_lease_take(*, source: str, holder: str, seconds: float) -> bool:
    """Take (or renew) the lease on ``source`` for ``seconds``; False while another
    process holds an unexpired one."""
    now = timezone.now()
    MailboxLease.objects.get_or_create(source=source, defaults={"expires_at": now})
    taken = (
        MailboxLease.objects.filter(source=source)
        .filter(Q(holder=holder) | Q(expires_at__lte=now))
        .update(holder=holder, expires_at=now + timedelta(seconds=seconds))
    )
    return taken == 1


@transaction.atomic
def mailbox_lease_release(*, source: str, holder: str) -> None:
    MailboxLease.objects.filter(source=source, holder=holder).update(
        holder="", expires_at=timezone.now()
    )
