"""Reads of the mail channel: who wrote, which ticket a reply belongs to, what was recorded."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from tickets.models import NUMBER_PREFIX, DirectoryUser, Ticket

from inbound.models import FailedMessage, HeldMessage, InboundMessage, Outcome, SenderNotice
from inbound.parsing import ParsedMail, ticket_id_from_references, ticket_number_from_subject


def own_addresses() -> frozenset[str]:
    """Servidesk's own addresses: mail from them is its own, come back (a loop)."""
    addresses = (
        settings.SUPPORT_EMAIL,
        settings.DEFAULT_FROM_EMAIL,
        settings.SERVER_EMAIL,
    )
    return frozenset(parseaddr(address)[1].lower() for address in addresses if address)


def sender_lookup(email: str, *, for_update: bool = False) -> DirectoryUser | None:
    """The directory user with this address (any case): an active one with the address
    confirmed first, so a stale entry sharing the address cannot shadow the owner."""
    users = DirectoryUser.objects.filter(email__iexact=email).order_by(
        "-is_active", "-email_verified", "pk"
    )
    if for_update:
        users = users.select_for_update()
    return users.first()


def invited(email: str) -> bool:
    """Servidesk asked accounts to make a client of this address (``user.invite_requested``)."""
    return SenderNotice.objects.filter(
        email=email.lower(), kind=SenderNotice.Kind.INVITATION
    ).exists()


def writes_by_mail(user: DirectoryUser) -> bool:
    """Mail from ``user``'s address acts as them: they are active, and the address is
    confirmed or is the one accounts made their account for at Servidesk's request (the
    contract: held mail becomes their ticket when ``user.registered`` arrives)."""
    if not (user.is_active and user.email):
        return False
    return user.email_verified or invited(user.email)


def thread_ticket_id(mail: ParsedMail) -> int | None:
    """The existing ticket a mail answers: by its ``<sd.<ticket id>.…>`` references, else
    by the ``[SD-123]`` in its subject. None for a new conversation."""
    ticket_id = ticket_id_from_references(mail.references)
    if ticket_id is not None and Ticket.objects.filter(pk=ticket_id).exists():
        return ticket_id
    reference = ticket_number_from_subject(mail.subject)
    if reference is not None:
        number = int(reference.removeprefix(NUMBER_PREFIX))
        found: int | None = (
            Ticket.objects.filter(number=number).values_list("pk", flat=True).first()
        )
        return found
    return None


def is_recorded(*, source: str, position: str, message_id: str) -> bool:
    """This message (at this place, or by its Message-ID) has been applied already."""
    return InboundMessage.objects.filter(
        Q(source=source, source_uid=position) | Q(message_id=message_id)
    ).exists()


def position_is_recorded(*, source: str, position: str) -> bool:
    return InboundMessage.objects.filter(source=source, source_uid=position).exists()


def tickets_opened_lately(sender: str) -> int:
    """Tickets ``sender`` opened by mail in the last hour (the flood limit counts these)."""
    since = timezone.now() - timedelta(hours=1)
    return InboundMessage.objects.filter(
        sender=sender, outcome=Outcome.TICKET, applied_at__gte=since
    ).count()


def held_for(email: str) -> QuerySet[HeldMessage]:
    return HeldMessage.objects.filter(email=email.lower())


def senders_now_known() -> QuerySet[DirectoryUser]:
    """Active users who have messages held and may now write by mail (``writes_by_mail``):
    they became known meanwhile."""
    invitations = SenderNotice.objects.filter(kind=SenderNotice.Kind.INVITATION)
    return (
        DirectoryUser.objects.filter(is_active=True)
        .exclude(email="")
        .alias(address=Lower("email"))
        .filter(address__in=HeldMessage.objects.values("email"))
        .filter(Q(email_verified=True) | Q(address__in=invitations.values("email")))
    )


def failed_messages(sources: Iterable[str] | None = None) -> QuerySet[FailedMessage]:
    """Failures not yet retried, oldest first."""
    failed = FailedMessage.objects.filter(retried_at__isnull=True)
    if sources is not None:
        failed = failed.filter(source__in=list(sources))
    return failed
