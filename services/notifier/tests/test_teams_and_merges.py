"""Team queues, urgent priorities and merges (issue 18) through the real path: the event's
handler, the in-app feed, the senders, a real SMTP server and the Twilio fake.

People (``people``): Lucía the client (es), Tom a technician (en), Ana the admin (es);
here also Marta (4, es) and Pat (6, en, email off), technicians. Team 10, "Soporte N1",
is Tom, Marta and Pat, led by Ana.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from kombu import Connection
from notifications import services
from notifications.handlers import handlers
from notifications.models import Contact, Delivery, MailThread, Notification
from notifications.sender import Sender

from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.schemas import (
    FieldChange,
    TeamCreated,
    TicketCommented,
    TicketCreated,
    TicketMerged,
    TicketSnapshot,
    TicketStatusChanged,
    TicketUpdated,
)
from servidesk_shared.events.topology import Topology
from servidesk_shared.outbox.models import InboxEntry
from servidesk_testing.bus import RABBITMQ_URL, Running, publish
from tests.conftest import drain
from tests.factories import (
    CommentSnapshotFactory,
    ContactFactory,
    TicketSnapshotFactory,
    envelope_of,
    user_card,
)
from tests.fakes import ReceivedMail, SmtpServer, TwilioFake, wait_until

pytestmark = pytest.mark.django_db

LUCIA, TOM, ANA = "lucia@example.com", "tom@example.com", "ana@example.com"
MARTA, PAT = "marta@example.com", "pat@example.com"
LUCIA_PHONE = "+34600111222"
TEAM = TeamCreated(
    id=10,
    name="Soporte N1",
    member_ids=(2, 4, 6),
    lead_id=3,
    assignment="round_robin",
    category_slugs=("hardware",),
)
#: Staff-only words: no message a client gets may show them.
TAGS = ("cliente-moroso", "vip-secreto")


@pytest.fixture
def team(people: dict[str, Contact]) -> dict[str, Contact]:
    staff = {
        "marta": ContactFactory(
            user_id="4",
            username="marta",
            full_name="Marta Ruiz",
            email=MARTA,
            role="technician",
            language="es",
        ),
        "pat": ContactFactory(
            user_id="6",
            username="pat",
            full_name="Pat Lee",
            email=PAT,
            role="technician",
            language="en",
            notify_email=False,
        ),
    }
    services.team_apply(card=TEAM, sequence=1)
    return {**people, **staff}


def ticket(ticket_id: int = 42, **overrides: Any) -> TicketSnapshot:
    values: dict[str, Any] = {
        "id": ticket_id,
        "number": f"SD-{1000 + ticket_id}",
        "title": "Impresora sin tóner",
        "client_id": 1,
        "assignee_id": None,
        "team_id": 10,
        "status": "pending",
        "priority": "high",
        "tags": TAGS,
    }
    values.update(overrides)
    return TicketSnapshotFactory(**values)


def edit(snapshot: TicketSnapshot, actor: int, **changes: tuple[Any, Any]) -> TicketUpdated:
    return TicketUpdated(
        ticket=snapshot,
        actor_id=actor,
        changes={name: FieldChange(before=b, after=a) for name, (b, a) in changes.items()},
    )


def only(mails: list[ReceivedMail], to: str) -> ReceivedMail:
    (mail,) = [mail for mail in mails if to in mail.rcpt_tos]
    return mail


def feed(recipient: str) -> list[tuple[str, str, str]]:
    return list(
        Notification.objects.filter(recipient_id=recipient)
        .order_by("id")
        .values_list("event_type", "ticket_id", "title")
    )


# --- team queues ------------------------------------------------------------------------


def test_a_ticket_opened_into_a_team_tells_its_people_in_their_language(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(TicketCreated(ticket=ticket(), actor_id=1))
    drain("email")
    mails = smtp.wait_for(4)  # Lucía's receipt; Tom, Ana, Marta; Pat turned email off
    assert sorted(r for mail in mails for r in mail.rcpt_tos) == [ANA, LUCIA, MARTA, TOM]

    to_tom = only(mails, TOM)
    assert to_tom.subject == "[SD-1042] Impresora sin tóner"
    assert to_tom.text.splitlines()[0] == "SD-1042 is waiting in the queue of Soporte N1"
    assert "is in the queue of Soporte N1 and nobody is assigned to it yet" in to_tom.text
    assert "Team: Soporte N1" in to_tom.text
    assert '<th align="left">Team</th><td>Soporte N1</td>' in to_tom.html
    assert str(to_tom.message["Message-ID"]).startswith("<sd.42.")
    to_marta = only(mails, MARTA)
    assert to_marta.text.splitlines()[0] == "SD-1042 espera en la cola de Soporte N1"
    assert "Equipo: Soporte N1" in to_marta.text
    assert "Prioridad: Alta" in to_marta.text
    assert only(mails, ANA).message["Content-Language"] == "es"
    # The client's receipt says nothing of teams.
    receipt = only(mails, LUCIA)
    assert "Soporte N1" not in receipt.text + receipt.html
    assert "Equipo" not in receipt.text

    assert feed("2") == [("ticket.created", "42", "SD-1042 is waiting in the queue of Soporte N1")]
    assert feed("6") == [("ticket.created", "42", "SD-1042 is waiting in the queue of Soporte N1")]
    pat = Delivery.objects.get(channel="email", recipient_id="6")
    assert (pat.kind, pat.status, pat.last_error) == (
        "team_queue",
        "skipped",
        "recipient turned email notifications off",
    )


def test_the_same_team_event_twice_tells_each_person_once(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    data = edit(ticket(), actor=2, team_id=(None, 10))
    first = deliver(data)
    deliver(data, event=first)  # a redelivery reaching the handler again
    consumer = EventConsumer(None, registry=handlers, queue="notifier.events")
    assert consumer.apply(first, handlers.get(first.type)) is True  # the inbox: first time
    assert consumer.apply(first, handlers.get(first.type)) is False  # seen: skipped
    drain("email")
    drain("email")
    mails = smtp.wait_for(2)
    assert sorted(r for mail in mails for r in mail.rcpt_tos) == [ANA, MARTA]  # not Tom: actor
    assert len(smtp.received()) == 2
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == ["3", "4", "6"]
    assert Delivery.objects.filter(channel="email").count() == 3


def test_edits_other_than_the_team_tell_nobody(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    assigned = ticket(assignee_id=2, status="in_progress")
    deliver(edit(assigned, actor=3, team_id=(None, 10)))  # assigned: not waiting in the queue
    deliver(edit(ticket(), actor=3, title=("Impresora", "Impresora sin tóner")))
    deliver(edit(ticket(), actor=3, description=("a", "b"), category=("red", "hardware")))
    deliver(edit(ticket(), actor=3, tags=([], list(TAGS))))
    deliver(edit(assigned, actor=3, priority=("low", "high")))
    deliver(edit(assigned, actor=3, priority=("urgent", "high")))
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()
    assert not MailThread.objects.exists()


# --- urgent priority --------------------------------------------------------------------


def test_a_priority_raised_to_urgent_tells_the_assignee(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    urgent = ticket(assignee_id=2, status="in_progress", priority="urgent")
    deliver(edit(urgent, actor=2, priority=("high", "urgent")))  # Tom himself: nobody
    assert not Delivery.objects.exists()
    deliver(edit(urgent, actor=3, priority=("high", "urgent")))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (TOM,)
    assert mail.subject == "[SD-1042] Impresora sin tóner"
    assert mail.text.splitlines()[0] == "SD-1042 is now urgent"
    assert "assigned to you, was raised from High to Urgent. Status: In progress." in mail.text
    assert feed("2") == [("ticket.updated", "42", "SD-1042 is now urgent")]
    assert feed("1") == []  # the client hears nothing of priorities


# --- merges -----------------------------------------------------------------------------


def merged(**into: Any) -> TicketMerged:
    """Lucía's SD-1043 merged into SD-1042 by Tom."""
    return TicketMerged(
        ticket=ticket(
            43,
            title="Sigue sin tóner",
            assignee_id=2,
            status="resolved",
            merged_into_id=42,
        ),
        into=ticket(42, assignee_id=2, status="in_progress", **into),
        actor_id=2,
    )


def test_a_merge_tells_the_client_once_on_the_thread_of_the_ticket_it_went_into(
    team: dict[str, Contact],
    smtp: SmtpServer,
    twilio: TwilioFake,
    deliver: Callable[..., Any],
) -> None:
    deliver(TicketCreated(ticket=ticket(42, team_id=None), actor_id=1))  # Lucía's receipt
    drain()
    (receipt,) = smtp.wait_for(1)
    twilio.wait_for(1)
    smtp.clear()
    twilio.clear()

    event = deliver(merged())
    deliver(merged(), event=event)  # the same event again
    # Tickets publishes no status change for the merge; one arriving anyway (or a replay
    # of one) does not announce the merged ticket as resolved.
    deliver(
        TicketStatusChanged(
            ticket=merged().ticket, actor_id=2, from_status="in_progress", to_status="resolved"
        )
    )
    drain()
    drain()
    (mail,) = smtp.wait_for(1)
    (sms,) = twilio.wait_for(1)
    assert len(smtp.received()) == 1
    assert len(twilio.messages) == 1

    assert mail.rcpt_tos == (LUCIA,)
    assert mail.subject == "[SD-1042] Impresora sin tóner"
    assert mail.message["In-Reply-To"] == receipt.message["Message-ID"]
    assert str(mail.message["Message-ID"]).startswith("<sd.42.")
    assert mail.text.splitlines()[0] == "Tu ticket SD-1043 se fusionó con SD-1042"
    assert (
        "Tu ticket SD-1043 “Sigue sin tóner” se fusionó con el ticket SD-1042 “Impresora sin "
        "tóner”, sobre el mismo asunto. La conversación sigue allí: SD-1043 ya no cambia. "
        "Estado de SD-1042: En progreso."
    ) in mail.text
    assert "http://testserver/tickets/42/" in mail.text
    assert "Responde a este mensaje para añadir tu respuesta al ticket SD-1042." in mail.text
    assert "Resuelto" not in mail.text + mail.html
    assert (sms.to, sms.body) == (
        LUCIA_PHONE,
        'Servidesk: tu ticket SD-1043 se ha unido a SD-1042 "Impresora sin tóner". Estado: '
        "En progreso. http://testserver/tickets/42/",
    )
    assert feed("1")[-1:] == [("ticket.merged", "42", "Tu ticket SD-1043 se fusionó con SD-1042")]
    assert len(feed("1")) == 2  # the receipt and the merge: no resolution
    assert Notification.objects.filter(event_type="ticket.merged").count() == 1
    assert not Notification.objects.filter(event_type="ticket.status_changed").exists()
    assert not Delivery.objects.filter(event_type="ticket.status_changed").exists()
    assert feed("2") == []  # Tom merged it: he is not told


def test_a_merge_into_another_clients_ticket_never_names_that_ticket(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    secret = "Nóminas de la dirección"
    deliver(merged(client_id=7, title=secret, number="SD-1042"))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (LUCIA,)
    assert mail.subject == "[SD-1043] Sigue sin tóner"
    assert str(mail.message["Message-ID"]).startswith("<sd.43.")
    assert mail.text.splitlines()[0] == "Tu ticket SD-1043 se fusionó con otro ticket"
    assert "El ticket SD-1043 ya no cambia: para contarnos algo nuevo, escríbenos." in mail.text
    (note,) = Notification.objects.all()
    delivery = Delivery.objects.get(channel="email")
    everything = mail.text + mail.html + note.title + note.body + json.dumps(delivery.context)
    assert "SD-1042" not in everything
    assert secret not in everything
    assert "/tickets/42/" not in everything
    assert (note.recipient_id, note.ticket_id) == ("1", "43")


# --- tags -------------------------------------------------------------------------------


def test_a_ticket_with_tags_gives_the_client_messages_without_them(
    team: dict[str, Contact],
    smtp: SmtpServer,
    twilio: TwilioFake,
    deliver: Callable[..., Any],
) -> None:
    assert ticket().tags == TAGS
    events = [
        TicketCreated(ticket=ticket(), actor_id=1),
        TicketStatusChanged(
            ticket=ticket(assignee_id=2, status="in_progress"),
            actor_id=2,
            from_status="pending",
            to_status="in_progress",
        ),
        TicketCommented(
            ticket=ticket(assignee_id=2, status="in_progress"),
            actor_id=2,
            comment=CommentSnapshotFactory(author_id=2, body="Ya va de camino."),
        ),
        edit(ticket(assignee_id=2, priority="urgent"), actor=3, priority=("high", "urgent")),
        merged(),
    ]
    for data in events:
        deliver(data)
    drain()
    # Lucía: receipt, status, reply, merge; staff: the team queue (Tom, Ana, Marta), urgent
    # (Tom). Pat turned email off; everybody has SMS on.
    mails = smtp.wait_for(8)
    texts = twilio.wait_for(4 + 3 + 1 + 1)
    assert len(mails) == 8
    assert len(texts) == 9
    to_lucia = smtp.received(to=LUCIA)
    assert len(to_lucia) == 4
    assert len(twilio.messages_to(LUCIA_PHONE)) == 4
    client_side = [
        *(f"{m.subject}\n{m.text}\n{m.html}\n{m.message.as_string()}" for m in to_lucia),
        *(sms.body for sms in twilio.messages_to(LUCIA_PHONE)),
        *(f"{n.title}\n{n.body}" for n in Notification.objects.filter(recipient_id="1")),
        *(json.dumps(d.context) for d in Delivery.objects.filter(recipient_id="1")),
    ]
    assert len(client_side) == 4 + 4 + 4 + 8
    for text in client_side:
        for tag in TAGS:
            assert tag not in text
    # Nor do staff messages carry them: no message has them at all.
    everything = [
        *(f"{m.subject}\n{m.text}\n{m.html}\n{m.message.as_string()}" for m in mails),
        *(sms.body for sms in texts),
        *(f"{n.title}\n{n.body}" for n in Notification.objects.all()),
        *(json.dumps(d.context) for d in Delivery.objects.all()),
    ]
    assert not [text for text in everything if any(tag in text for tag in TAGS)]


# --- over the real bus ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_team_events_reach_the_notifier_over_rabbitmq(bus: Topology, smtp: SmtpServer) -> None:
    """``notifier.events`` is bound to ``team.#``: the team arrives, then a ticket for it."""
    cards = [
        envelope_of(user_card(1, role="client"), sequence=1),
        envelope_of(user_card(4, role="technician", email=MARTA, language="es"), sequence=1),
    ]
    consumer = Running(
        EventConsumer(Connection(RABBITMQ_URL), registry=handlers, queue="notifier.events")
    )
    sender = Sender(["email"])
    sender.start()
    try:
        publish(
            bus,
            *cards,
            envelope_of(
                TeamCreated(
                    id=10, name="Soporte N1", member_ids=(4,), lead_id=None, assignment="manual"
                )
            ),
        )
        assert wait_until(lambda: InboxEntry.objects.count() == 3, timeout=10)
        publish(bus, envelope_of(TicketCreated(ticket=ticket(), actor_id=1)))
        mails = smtp.wait_for(2, timeout=10)
        assert wait_until(lambda: not Delivery.objects.filter(status="queued").exists())
    finally:
        sender.stop()
        consumer.stop()
    assert sorted(r for mail in mails for r in mail.rcpt_tos) == [MARTA, "user1@example.com"]
    assert only(mails, MARTA).text.splitlines()[0] == "SD-1042 espera en la cola de Soporte N1"
