"""Applying inbound mail (``inbound.services``): what each message becomes, once.

The mailbox side (Dovecot, Maildir, the command) is in ``test_inbound_mailbox.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail as django_mail
from django.utils import translation
from django.utils.translation import gettext
from inbound import services
from inbound.models import HeldMessage, InboundMessage, Outcome, SenderNotice
from inbound.parsing import ParseError
from tickets import services as ticket_services
from tickets.actors import Actor
from tickets.handlers import handlers
from tickets.models import Attachment, Comment, DirectoryUser, Role, Ticket

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.schemas import UserRegistered, UserUpdated
from servidesk_shared.outbox.models import OutboxMessage
from tests.factories import DirectoryUserFactory
from tests.inbound_mail import bounce, mail, reply

pytestmark = pytest.mark.django_db

SOURCE = "maildir:/test/inbox"
_positions = itertools.count(1)


def apply(raw: bytes, position: str | None = None) -> services.Applied:
    return services.message_apply(
        source=SOURCE, position=position or str(next(_positions)), raw=raw
    )


def outbox(event_type: str) -> list[dict[str, Any]]:
    rows = OutboxMessage.objects.filter(event_type=event_type).order_by("id")
    return [row.envelope["data"] for row in rows]


@pytest.fixture
def ana(db: Any) -> DirectoryUser:
    """A client whose address is confirmed."""
    user: DirectoryUser = DirectoryUserFactory(
        id="11", username="ana", email="Ana@Example.com", email_verified=True
    )
    return user


@pytest.fixture
def bruno(db: Any) -> DirectoryUser:
    user: DirectoryUser = DirectoryUserFactory(
        id="12", username="bruno", email="bruno@example.com", email_verified=True
    )
    return user


@pytest.fixture
def tere(db: Any) -> DirectoryUser:
    user: DirectoryUser = DirectoryUserFactory(
        id="21",
        username="tere",
        email="tere@servidesk.example",
        email_verified=True,
        role=Role.TECHNICIAN,
    )
    return user


def open_ticket(user: DirectoryUser) -> Ticket:
    return ticket_services.ticket_create(
        actor=Actor(id=user.pk, role=user.role), title="Printer", description="Jammed."
    )


def deliver(schema: Any, sequence: int, **card: Any) -> None:
    """What ``consume_events`` does with a user event: parse, validate, run the handler."""
    values: dict[str, Any] = {
        "id": 77,
        "username": "carla",
        "full_name": "Carla Nueva",
        "email": "carla@example.net",
        "phone": "",
        "role": "client",
        "language": "es",
        "notify_email": True,
        "notify_sms": False,
        "is_active": True,
        "email_verified": True,
        **card,
    }
    raw = envelopes.build(schema(**values), producer="accounts", sequence=sequence)
    event = envelopes.decode(envelopes.parse_envelope(raw))
    handler = handlers.get(event.type)
    assert handler is not None
    handler(event)


# --- new tickets ------------------------------------------------------------------------


def test_a_confirmed_client_writing_in_opens_a_ticket(ana: DirectoryUser) -> None:
    applied = apply(mail(sender="ana@EXAMPLE.com", subject="VPN drops", body="Every hour."))

    ticket = Ticket.objects.get()
    assert applied == services.Applied(Outcome.TICKET, "", ticket.pk)
    assert (ticket.title, ticket.description) == ("VPN drops", "Every hour.")
    assert ticket.client_id == "11"
    record = InboundMessage.objects.get()
    assert (record.source, record.outcome, record.ticket_id) == (SOURCE, Outcome.TICKET, ticket.pk)
    assert record.sender == "ana@example.com"
    # The ticket's own event: notifier sends the receipt from it.
    assert [data["ticket"]["id"] for data in outbox("ticket.created")] == [ticket.pk]


@pytest.mark.parametrize(("language", "expected"), [("en-GB", "en"), ("es", "es"), ("fr", "es")])
def test_an_empty_subject_gets_a_title_in_the_mails_language(
    ana: DirectoryUser, language: str, expected: str
) -> None:
    apply(mail(subject="", headers={"Content-Language": language}))

    with translation.override(expected):
        assert Ticket.objects.get().title == gettext("(no subject)")


def test_staff_writing_a_new_mail_opens_nothing(tere: DirectoryUser) -> None:
    applied = apply(mail(sender=tere.email, subject="Lunch?"))

    assert applied.outcome == Outcome.IGNORED
    assert not Ticket.objects.exists()


def test_a_deactivated_sender_is_ignored(ana: DirectoryUser) -> None:
    DirectoryUser.objects.filter(pk=ana.pk).update(is_active=False)

    assert apply(mail()).outcome == Outcome.IGNORED
    assert not Ticket.objects.exists()
    assert not HeldMessage.objects.exists()


# --- replies ----------------------------------------------------------------------------


def test_a_reply_threads_by_its_headers_without_the_quote(ana: DirectoryUser) -> None:
    ticket = open_ticket(ana)

    applied = apply(reply(ticket_id=ticket.pk, subject="Re: something else entirely"))

    comment = Comment.objects.get()
    assert applied == services.Applied(Outcome.COMMENT, "", ticket.pk)
    assert (comment.ticket_id, comment.author_id) == (ticket.pk, "11")
    assert (comment.body, comment.internal) == ("Thanks, it prints again.", False)
    assert InboundMessage.objects.get().comment_id == comment.pk
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize("status", ["waiting", "resolved"])
def test_a_clients_mail_brings_a_waiting_or_resolved_ticket_back_to_work(
    ana: DirectoryUser, tere: DirectoryUser, status: str
) -> None:
    ticket = open_ticket(ana)
    staff = Actor(id=tere.pk, role=Role.TECHNICIAN)
    ticket_services.ticket_change_status(ticket_id=ticket.pk, actor=staff, status="in_progress")
    ticket_services.ticket_change_status(ticket_id=ticket.pk, actor=staff, status=status)

    apply(reply(ticket_id=ticket.pk, text="Here is the photo you asked for."))

    assert Ticket.objects.get(pk=ticket.pk).status == "in_progress"
    moved = outbox("ticket.status_changed")[-1]
    assert (moved["from_status"], moved["to_status"], moved["actor_id"]) == (
        status,
        "in_progress",
        11,
    )


def test_a_clients_mail_to_a_closed_ticket_opens_a_follow_up(
    ana: DirectoryUser, tere: DirectoryUser
) -> None:
    ticket = open_ticket(ana)
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")

    applied = apply(reply(ticket_id=ticket.pk, text="It happens again."))

    follow_up = Ticket.objects.exclude(pk=ticket.pk).get()
    assert applied.outcome == Outcome.COMMENT
    assert applied.ticket_id == follow_up.pk
    assert follow_up.follow_up_of_id == ticket.pk
    assert Comment.objects.get(ticket=follow_up).body == "It happens again."
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


def test_a_reply_threads_by_the_number_in_its_subject(ana: DirectoryUser) -> None:
    ticket = open_ticket(ana)

    apply(reply(subject=f"RE: [{ticket.reference}] Printer", text="Still jammed."))

    assert Comment.objects.get(ticket=ticket).body == "Still jammed."


def test_a_reply_to_a_ticket_the_sender_may_not_see_does_not_touch_it(
    ana: DirectoryUser, bruno: DirectoryUser
) -> None:
    ticket = open_ticket(ana)

    applied = apply(reply(ticket_id=ticket.pk, sender=bruno.email, text="Mine now"))

    assert applied.outcome == Outcome.IGNORED
    assert applied.ticket_id is None
    assert not Comment.objects.exists()
    assert Ticket.objects.get().version == ticket.version
    assert Ticket.objects.count() == 1  # and no ticket of bruno's either


def test_staff_replying_by_mail_answers_in_public(ana: DirectoryUser, tere: DirectoryUser) -> None:
    ticket = open_ticket(ana)

    apply(reply(ticket_id=ticket.pk, sender=tere.email, text="Restart it, please."))

    comment = Comment.objects.get()
    assert (comment.author_id, comment.internal) == ("21", False)
    assert Ticket.objects.get().first_response_at is not None


# --- unknown and unconfirmed senders ----------------------------------------------------


def test_an_unknown_sender_is_invited_once_and_their_mail_held_until_registered(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    first = apply(mail(sender="Carla@Example.net", name="Carla Nueva", subject="First"))
    second = apply(mail(sender="carla@example.net", subject="Second"))

    assert (first.outcome, second.outcome) == (Outcome.HELD, Outcome.HELD)
    assert not Ticket.objects.exists()
    assert outbox("user.invite_requested") == [
        {"email": "carla@example.net", "name": "Carla Nueva", "language": "es"}
    ]

    # accounts made the client and announces them; the address is confirmed only when
    # they use the invitation's link, but it is the one the account was made for.
    deliver(UserRegistered, 1, email="carla@EXAMPLE.net", email_verified=False)

    tickets = Ticket.objects.order_by("id")
    assert [(t.title, t.client_id) for t in tickets] == [("First", "77"), ("Second", "77")]
    assert not HeldMessage.objects.exists()
    outcomes = InboundMessage.objects.order_by("id").values_list("outcome", "ticket_id")
    assert list(outcomes) == [(Outcome.TICKET, tickets[0].pk), (Outcome.TICKET, tickets[1].pk)]
    assert len(django_mail.outbox) == 0  # accounts does the inviting

    # Their next mail, before they have used the link, is theirs too.
    assert apply(mail(sender="carla@example.net", subject="Third")).outcome == Outcome.TICKET


def test_a_known_sender_who_has_not_confirmed_the_address_waits_for_it() -> None:
    deliver(UserRegistered, 1, email_verified=False)

    assert apply(mail(sender="carla@example.net")).outcome == Outcome.HELD
    assert not outbox("user.invite_requested")  # accounts knows them already
    deliver(UserUpdated, 2, full_name="Carla N.", email_verified=False)
    assert not Ticket.objects.exists()

    deliver(UserUpdated, 3, email_verified=True)

    assert Ticket.objects.get().client_id == "77"


def test_a_held_sender_who_turns_out_staff_opens_nothing() -> None:
    apply(mail(sender="carla@example.net"))

    deliver(UserRegistered, 1, role="technician")

    assert not Ticket.objects.exists()
    assert InboundMessage.objects.get().outcome == Outcome.IGNORED
    assert not HeldMessage.objects.exists()


def test_a_held_reply_to_someone_elses_ticket_stays_out_of_it(ana: DirectoryUser) -> None:
    ticket = open_ticket(ana)
    apply(reply(ticket_id=ticket.pk, sender="carla@example.net", text="Let me in"))

    deliver(UserRegistered, 1)

    assert not Comment.objects.exists()
    assert InboundMessage.objects.get().outcome == Outcome.IGNORED
    assert Ticket.objects.count() == 1


def test_an_invited_sender_who_was_deactivated_opens_nothing() -> None:
    apply(mail(sender="carla@example.net"))

    deliver(UserRegistered, 1, email_verified=False, is_active=False)

    assert not Ticket.objects.exists()
    assert HeldMessage.objects.count() == 1


def test_held_mail_of_a_sender_known_meanwhile_is_swept_up() -> None:
    apply(mail(sender="carla@example.net"))
    # The directory learnt of them without the handler's release (a race with the hold).
    DirectoryUserFactory(id="77", email="carla@example.net", email_verified=True)

    assert services.held_messages_sweep() == 1
    assert Ticket.objects.get().client_id == "77"


def test_held_mail_of_an_invited_sender_known_meanwhile_is_swept_up() -> None:
    apply(mail(sender="carla@example.net"))  # unknown: held, invitation requested
    DirectoryUserFactory(id="77", email="carla@example.net", email_verified=False)
    DirectoryUserFactory(id="78", email="dora@example.net", email_verified=False)

    assert services.held_messages_sweep() == 1
    assert Ticket.objects.get().client_id == "77"


def test_reject_mode_answers_an_unknown_sender_once(
    settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.INBOUND_UNKNOWN_SENDERS = "reject"
    with django_capture_on_commit_callbacks(execute=True):
        first = apply(mail(sender="stranger@example.org", subject="Hola"))
    with django_capture_on_commit_callbacks(execute=True):
        second = apply(mail(sender="stranger@example.org", subject="Hola otra vez"))

    assert (first.outcome, second.outcome) == (Outcome.REJECTED, Outcome.REJECTED)
    assert not Ticket.objects.exists()
    assert not HeldMessage.objects.exists()
    assert not outbox("user.invite_requested")
    [answer] = django_mail.outbox
    assert answer.to == ["stranger@example.org"]
    assert answer.extra_headers["Auto-Submitted"] == "auto-replied"
    assert "Hola" in answer.body
    with translation.override("es"):  # the default language: the mail did not say
        expected = gettext("Your message to %(address)s was not accepted")
    assert answer.subject == expected % {"address": "soporte@servidesk.local"}


# --- loops, floods and bounces ----------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "headers"),
    [
        ("ana@example.com", {"Auto-Submitted": "auto-replied"}),
        ("ana@example.com", {"Precedence": "bulk"}),
        ("ana@example.com", {"List-Id": "<printers.example.com>"}),
        ("soporte@servidesk.local", {}),
        ("no-reply@servidesk.local", {}),
    ],
    ids=["auto-submitted", "bulk", "list", "support-address", "from-address"],
)
def test_automatic_mail_is_recorded_and_dropped(
    settings: Any,
    ana: DirectoryUser,
    django_capture_on_commit_callbacks: Callable[..., Any],
    sender: str,
    headers: dict[str, str],
) -> None:
    settings.INBOUND_UNKNOWN_SENDERS = "reject"  # an answer would be a loop

    with django_capture_on_commit_callbacks(execute=True):
        applied = apply(mail(sender=sender, headers=headers))

    assert applied.outcome == Outcome.LOOP
    assert not Ticket.objects.exists()
    assert not django_mail.outbox
    assert not SenderNotice.objects.exists()


def test_servidesks_own_mail_come_back_is_dropped(ana: DirectoryUser) -> None:
    applied = apply(mail(message_id="<sd.7.created.1@servidesk.local>"))

    assert applied.outcome == Outcome.LOOP
    assert not Ticket.objects.exists()


def test_a_bounce_is_published_for_notifier(ana: DirectoryUser) -> None:
    applied = apply(bounce(original_message_id="<sd.7.created.1@servidesk.local>"))

    assert applied.outcome == Outcome.BOUNCE
    assert outbox("mail.bounced") == [
        {
            "message_id": "<sd.7.created.1@servidesk.local>",
            "recipient": "gone@example.org",
            "reason": "5.1.1 550 5.1.1 user unknown",
        }
    ]
    assert not Ticket.objects.exists()


def test_a_sender_over_the_hourly_limit_is_throttled(settings: Any, ana: DirectoryUser) -> None:
    settings.INBOUND_MAX_PER_SENDER_PER_HOUR = 2

    outcomes = [apply(mail(subject=f"Problem {n}")).outcome for n in range(3)]

    assert outcomes == [Outcome.TICKET, Outcome.TICKET, Outcome.THROTTLED]
    assert Ticket.objects.count() == 2
    # Replies are conversation, not floods of tickets: still applied.
    ticket = Ticket.objects.first()
    assert ticket is not None
    assert apply(reply(ticket_id=ticket.pk)).outcome == Outcome.COMMENT


# --- exactly once -----------------------------------------------------------------------


def test_a_message_is_applied_once_by_position_and_by_message_id(ana: DirectoryUser) -> None:
    raw = mail()

    assert apply(raw, position="5").outcome == Outcome.TICKET
    assert apply(raw, position="5") == services.ALREADY_APPLIED  # a rerun
    assert apply(raw, position="9") == services.ALREADY_APPLIED  # a second copy

    assert Ticket.objects.count() == 1
    assert InboundMessage.objects.count() == 1


def test_a_message_that_fails_leaves_nothing(
    ana: DirectoryUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> Ticket:
        raise RuntimeError("storage away")

    monkeypatch.setattr(ticket_services, "ticket_create", broken)

    with pytest.raises(RuntimeError):
        apply(mail())

    assert not InboundMessage.objects.exists()


def test_an_unparsable_message_raises_parse_error(ana: DirectoryUser) -> None:
    with pytest.raises(ParseError):
        apply(b"this is not a mail\r\n")
    assert not InboundMessage.objects.exists()


# --- attachments ------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_attachments_travel_with_the_ticket_and_the_reply(ana: DirectoryUser) -> None:
    apply(mail(attachments=[("invoice.pdf", PDF, "application/octet-stream")]))
    ticket = Ticket.objects.get()

    apply_reply = mail(
        subject=f"Re: [{ticket.reference}] Printer",
        body="Here is the log.",
        attachments=[("printer.log", b"E-42 at 09:00\n", "text/plain")],
    )
    apply(apply_reply)

    files = Attachment.objects.order_by("id")
    assert [(f.filename, f.content_type, f.size, f.comment_id) for f in files] == [
        ("invoice.pdf", "application/pdf", len(PDF), None),  # sniffed, not declared
        ("printer.log", "text/plain", 14, Comment.objects.get().pk),
    ]
    assert {f.ticket_id for f in files} == {ticket.pk}
    assert [item["filename"] for item in outbox("ticket.created")[0]["attachments"]] == [
        "invoice.pdf"
    ]


def test_attachments_over_the_limits_are_left_out_and_named(
    settings: Any, ana: DirectoryUser
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 100

    apply(
        mail(
            body="Two files.",
            headers={"Content-Language": "en"},
            attachments=[
                ("big.bin", b"x" * 101, "application/octet-stream"),
                ("ok.pdf", PDF, "application/pdf"),
            ],
        )
    )

    ticket = Ticket.objects.get()
    assert list(Attachment.objects.values_list("filename", flat=True)) == ["ok.pdf"]
    assert ticket.description == (
        "Two files.\n\n[Attachments not kept (empty or over the size limits): big.bin]"
    )
