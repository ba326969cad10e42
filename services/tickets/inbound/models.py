"""What the mail channel remembers: each message applied, the messages held for a sender
not known yet, the notices sent once per address, the messages that failed, and which
process is reading each mailbox.

``InboundMessage`` is the exactly-once record: written in the transaction that applies
the message (its ticket, comment or hold), unique by mailbox position (``source`` +
``source_uid``) and by ``message_id``, so a message seen again (a rerun after a crash,
a second fetcher, a second copy of the same mail) is recognised and only marked done on
the server.
"""

from __future__ import annotations

from typing import Final

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: Long enough for the sources' keys (``imap:user@host:port/folder``, a Maildir's path).
SOURCE_MAX_LENGTH: Final = 500
#: A Message-ID as ``inbound.parsing`` hands it back (``MESSAGE_ID_MAX_LENGTH``).
MESSAGE_ID_MAX_LENGTH: Final = 255
ADDRESS_MAX_LENGTH: Final = 254
REASON_MAX_LENGTH: Final = 500
SUBJECT_MAX_LENGTH: Final = 200


class Outcome(models.TextChoices):
    TICKET = "ticket", _("opened a ticket")
    COMMENT = "comment", _("added a comment")
    #: The sender is not a confirmed user yet: kept until ``user.registered`` says so.
    HELD = "held", _("held for its sender")
    #: Recorded and left alone (a reply to a ticket its sender may not see, …).
    IGNORED = "ignored", _("ignored")
    #: Automatic mail (auto-replies, lists, Servidesk's own): never applied nor answered.
    LOOP = "loop", _("automatic mail")
    BOUNCE = "bounce", _("delivery failure report")
    THROTTLED = "throttled", _("too many from this sender")
    REJECTED = "rejected", _("unknown sender, refused")


class InboundMessage(models.Model):
    source = models.CharField(_("mailbox"), max_length=SOURCE_MAX_LENGTH)
    #: The message's place in that mailbox (IMAP: ``<uidvalidity>:<uid>``).
    source_uid = models.CharField(_("position in the mailbox"), max_length=255)
    message_id = models.CharField(_("Message-ID"), max_length=MESSAGE_ID_MAX_LENGTH)
    sender = models.CharField(_("sender"), max_length=ADDRESS_MAX_LENGTH)
    subject = models.CharField(_("subject"), max_length=SUBJECT_MAX_LENGTH, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    reason = models.CharField(_("reason"), max_length=REASON_MAX_LENGTH, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        verbose_name=_("ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    comment = models.ForeignKey(
        "tickets.Comment",
        verbose_name=_("comment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    #: When the outcome was last decided (a held message is decided again on release).
    applied_at = models.DateTimeField(_("applied at"), default=timezone.now)

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        constraints = [
            models.UniqueConstraint(fields=["source", "source_uid"], name="inbound_position"),
            models.UniqueConstraint(fields=["message_id"], name="inbound_message_id"),
        ]
        indexes = [
            # The per-sender hourly limit counts the tickets a sender opened lately.
            models.Index(fields=["sender", "outcome", "applied_at"], name="inbound_sender"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.outcome})"


class HeldMessage(models.Model):
    """A message whose sender is not a confirmed, active user yet; applied as that user
    when the directory learns of them (``inbound.services.held_messages_release``)."""

    message = models.OneToOneField(
        InboundMessage, on_delete=models.CASCADE, primary_key=True, related_name="held"
    )
    #: The sender's address, lower case.
    email = models.CharField(_("email"), max_length=ADDRESS_MAX_LENGTH, db_index=True)
    raw = models.BinaryField(_("message"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("held message")
        verbose_name_plural = _("held messages")
        ordering = ["created_at", "message_id"]

    def __str__(self) -> str:
        return f"held for {self.email}"


class SenderNotice(models.Model):
    """Something done once per address: an invitation requested, a refusal answered."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("invitation requested")
        REFUSAL = "refusal", _("refusal sent")

    email = models.CharField(_("email"), max_length=ADDRESS_MAX_LENGTH)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("sender notice")
        verbose_name_plural = _("sender notices")
        constraints = [
            models.UniqueConstraint(fields=["email", "kind"], name="inbound_notice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.email}"


class FailedMessage(models.Model):
    """A message that could not be parsed or applied, moved to the mailbox's failed folder.

    ``retried_at`` is set when ``fetch_mail --retry`` put it back into the mailbox.
    """

    source = models.CharField(_("mailbox"), max_length=SOURCE_MAX_LENGTH)
    source_uid = models.CharField(_("position in the mailbox"), max_length=255)
    message_id = models.CharField(_("Message-ID"), max_length=MESSAGE_ID_MAX_LENGTH, blank=True)
    sender = models.CharField(_("sender"), max_length=ADDRESS_MAX_LENGTH, blank=True)
    subject = models.CharField(_("subject"), max_length=SUBJECT_MAX_LENGTH, blank=True)
    reason = models.CharField(_("reason"), max_length=REASON_MAX_LENGTH)
    failed_at = models.DateTimeField(_("failed at"), default=timezone.now)
    retried_at = models.DateTimeField(_("retried at"), null=True, blank=True)

    class Meta:
        verbose_name = _("failed message")
        verbose_name_plural = _("failed messages")
        ordering = ["failed_at", "id"]

    def __str__(self) -> str:
        return f"{self.source_uid}: {self.reason}"


class MailboxLease(models.Model):
    """Which process reads a mailbox now, until when (renewed as it goes).

    One reader per mailbox at a time: a second ``fetch_mail`` waits its turn instead of
    reading the same messages (the unique keys of ``InboundMessage`` would still keep it
    from applying them twice, but both would move them on the server). A reader that
    dies lets its lease expire; another takes over then.
    """

    source = models.CharField(_("mailbox"), max_length=SOURCE_MAX_LENGTH, primary_key=True)
    holder = models.CharField(_("held by"), max_length=200, blank=True)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("mailbox lease")
        verbose_name_plural = _("mailbox leases")

    def __str__(self) -> str:
        return f"{self.source}: {self.holder or '-'}"
