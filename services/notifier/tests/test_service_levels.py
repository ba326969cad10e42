"""Service levels that act, closing and satisfaction (issue 19) through the real path: the
event's handler (or the consumer's inbox, or RabbitMQ), the in-app feed, the senders, a
real SMTP server and the Twilio fake.

People (``people``): Lucía the client (1, es), Tom a technician (2, en), Ana the admin
(3, es); here also Marta (4, es) and Pat (6, en, email off), technicians. Team 10,
"Soporte N1", is Tom, Ana, Marta and Pat, led by Ana.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import pytest
from kombu import Connection
from notifications import services
from notifications.handlers import handlers
from notifications.messages import Kind, compose, csat_link
from notifications.models import Contact, Delivery, MailThread, Notification
from pytest_django.fixtures import Settings as SettingsWrapper

from servidesk_shared.events import envelope as envelopes
from servidesk_shared.events.consumer import EventConsumer
from servidesk_shared.events.envelope import Event
from servidesk_shared.events.schemas import (
    SCHEMAS,
    EventData,
    FieldChange,
    TeamCreated,
    TicketAssigned,
    TicketClosed,
    TicketCommented,
    TicketCreated,
    TicketMerged,
    TicketRated,
    TicketSlaBreached,
    TicketSlaWarning,
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
    as_event,
    envelope_of,
)
from tests.fakes import ReceivedMail, SmtpServer, TwilioFake, wait_until

pytestmark = pytest.mark.django_db

LUCIA, TOM, ANA = "lucia@example.com", "tom@example.com", "ana@example.com"
MARTA, PAT = "marta@example.com", "pat@example.com"
LUCIA_PHONE = "+34600111222"
TEAM = TeamCreated(
    id=10,
    name="Soporte N1",
    member_ids=(2, 3, 4, 6),
    lead_id=3,
    assignment="round_robin",
    category_slugs=("hardware",),
)
#: A token as tickets mints them (Django's signer: URL-safe base64 and colons).
TOKEN: Final = "eyJ0IjoiNDIifQ:1vSZ0a:Qm9fX2-aZ3Kx8y_TnP0cLw"
DUE: Final = datetime(2026, 12, 9, 10, 30, tzinfo=UTC)
#: A client's rating comment that tries to add headers and markup.
HOSTILE_COMMENT: Final = "Fatal.\r\nBcc: victim@example.com\r\nX-Evil: 1\n<b>nunca</b> más"


@pytest.fixture
def team(people: dict[str, Contact], settings: SettingsWrapper) -> dict[str, Contact]:
    settings.TIME_ZONE = "Europe/Madrid"  # due times are written in it
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
        "assignee_id": 2,
        "team_id": 10,
        "status": "in_progress",
        "priority": "high",
    }
    values.update(overrides)
    return TicketSnapshotFactory(**values)


def moved(
    from_status: str,
    to_status: str,
    *,
    actor: int,
    token: str | None = None,
    reply: int | None = None,
    **snapshot: Any,
) -> TicketStatusChanged:
    return TicketStatusChanged(
        ticket=ticket(status=to_status, **snapshot),
        actor_id=actor,
        from_status=from_status,
        to_status=to_status,
        rating_token=token,
        reply_comment_id=reply,
    )


def warning(clock: str = "resolution", **snapshot: Any) -> TicketSlaWarning:
    return TicketSlaWarning(
        ticket=ticket(**snapshot), actor_id=None, clock=clock, due_at=DUE, cycle=1
    )


def breach(
    clock: str = "resolution", escalation: tuple[str, ...] = (), **snapshot: Any
) -> TicketSlaBreached:
    return TicketSlaBreached(
        ticket=ticket(**snapshot),
        actor_id=None,
        clock=clock,
        due_at=DUE,
        cycle=1,
        escalation=escalation,
    )


def rated(rating: str, comment: str = "", previous: str | None = None) -> TicketRated:
    return TicketRated(
        ticket=ticket(status="resolved", rating=rating),
        actor_id=1,
        rating=rating,
        comment=comment,
        previous_rating=previous,
        rated_at=datetime.now(tz=UTC),
    )


def only(mails: list[ReceivedMail], to: str) -> ReceivedMail:
    (mail,) = [mail for mail in mails if to in mail.rcpt_tos]
    return mail


def feed(recipient: str) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(recipient_id=recipient)
        .order_by("id")
        .values_list("event_type", "title")
    )


def deliveries() -> list[tuple[str, str, str, str]]:
    """``(recipient, channel, kind, status)`` of every delivery, sorted."""
    return sorted(Delivery.objects.values_list("recipient_id", "channel", "kind", "status"))


#: The fields version 2 added to ticket events (a version 1 event does not have them).
V2_TICKET_FIELDS: Final = ("waiting_since", "follow_up_of_id", "rating")
V2_EVENT_FIELDS: Final = ("rating_token",)


def as_v1_event(data: EventData) -> Event[Any]:
    """``data`` as a version 1 producer sent it: the envelope says version 1 and the
    payload lacks version 2's fields; decoded the way the consumer decodes it."""
    body = envelope_of(data)
    body["version"] = 1
    payload = body["data"]
    for snapshot in ("ticket", "into"):
        for name in V2_TICKET_FIELDS:
            payload.get(snapshot, {}).pop(name, None)
    for name in V2_EVENT_FIELDS:
        payload.pop(name, None)
    event = envelopes.decode(envelopes.parse_envelope(body))
    assert (event.version, type(event.data).__name__) == (1, f"{type(data).__name__}V1")
    return event


# --- SLA warnings -----------------------------------------------------------------------


def test_a_warning_tells_the_assignee_by_mail_and_in_app_in_their_language(
    team: dict[str, Contact], smtp: SmtpServer, twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    deliver(warning())
    drain()
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (TOM,)
    assert mail.subject == "[SD-1042] Impresora sin tóner"
    assert mail.text.splitlines()[0] == "SD-1042: the resolution is due soon"
    assert (
        "Ticket “Impresora sin tóner” is due to be resolved by Dec. 9, 2026, 11:30 a.m. "
        "(CET). Status: In progress. Priority: High."
    ) in mail.text
    assert str(mail.message["Message-ID"]).startswith("<sd.42.")
    assert feed("2") == [("ticket.sla_warning", "SD-1042: the resolution is due soon")]
    # Staff news: the client hears nothing, the team does not either (Tom holds it), and an
    # SLA alert is no SMS (not even a skipped one).
    assert deliveries() == [("2", "email", Kind.SLA_WARNING, "sent")]
    assert twilio.messages == []


def test_a_first_response_warning_in_spanish(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(warning("first_response", assignee_id=4, status="pending"))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (MARTA,)
    assert mail.text.splitlines()[0] == "SD-1042: la primera respuesta vence pronto"
    assert (
        "La primera respuesta al ticket “Impresora sin tóner” vence el 9 de diciembre de 2026 "
        "a las 11:30 (CET). Estado: Pendiente. Prioridad: Alta."
    ) in mail.text


def test_a_warning_of_an_unassigned_ticket_tells_the_teams_people_by_their_preferences(
    team: dict[str, Contact], smtp: SmtpServer, twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    deliver(warning(assignee_id=None, status="pending"))
    drain()
    mails = smtp.wait_for(3)
    assert sorted(r for mail in mails for r in mail.rcpt_tos) == [ANA, MARTA, TOM]
    assert "Nobody is assigned to it yet." in only(mails, TOM).text
    assert "Aún no tiene a nadie asignado." in only(mails, MARTA).text
    # Pat turned email off: in-app only (the mail is logged as skipped, why included).
    assert feed("6") == [("ticket.sla_warning", "SD-1042: the resolution is due soon")]
    pat = Delivery.objects.get(recipient_id="6")
    assert (pat.channel, pat.status, pat.last_error) == (
        "email",
        "skipped",
        "recipient turned email notifications off",
    )
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == [
        "2",
        "3",
        "4",
        "6",
    ]
    assert twilio.messages == []
    assert feed("1") == []


def test_a_warning_about_a_ticket_no_longer_open_or_without_anyone_tells_nobody(
    team: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    deliver(warning(status="resolved"))
    deliver(warning(status="closed"))
    deliver(warning(merged_into_id=43, status="closed"))
    deliver(warning(assignee_id=None, team_id=None, status="pending"))
    deliver(warning(assignee_id=None, team_id=99, status="pending"))  # a team not known
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()
    assert not MailThread.objects.exists()


# --- SLA breaches -----------------------------------------------------------------------


def test_a_breach_tells_the_assignee_and_the_team_lead(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(breach(escalation=("raised_priority",), priority="urgent"))
    drain()
    mails = smtp.wait_for(2)
    assert sorted(r for mail in mails for r in mail.rcpt_tos) == [ANA, TOM]
    to_tom = only(mails, TOM)
    assert to_tom.text.splitlines()[0] == "SD-1042 missed its resolution target"
    assert (
        "Ticket “Impresora sin tóner” was due to be resolved by Dec. 9, 2026, 11:30 a.m. (CET) "
        "and is not resolved yet. The team's escalation rule raised its priority to Urgent. "
        "Status: In progress. Priority: Urgent."
    ) in to_tom.text
    to_ana = only(mails, ANA)
    assert to_ana.text.splitlines()[0] == "SD-1042 incumplió el objetivo de resolución"
    assert "La regla de escalado del equipo subió su prioridad a Urgente." in to_ana.text
    assert feed("2") == [("ticket.sla_breached", "SD-1042 missed its resolution target")]
    assert feed("3") == [("ticket.sla_breached", "SD-1042 incumplió el objetivo de resolución")]
    assert feed("4") == []  # members other than the assignee: not at a breach
    assert feed("1") == []
    assert deliveries() == [
        ("2", "email", Kind.SLA_BREACHED, "sent"),
        ("3", "email", Kind.SLA_BREACHED, "sent"),
    ]


def test_a_breach_reassigned_to_the_lead_tells_the_lead_once(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(breach("first_response", escalation=("reassigned_to_lead",), assignee_id=3))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (ANA,)
    assert mail.text.splitlines()[0] == "SD-1042 incumplió el objetivo de primera respuesta"
    assert "La regla de escalado del equipo se lo asignó al responsable del equipo." in mail.text
    assert "prioridad" not in mail.text.split("Estado:")[0]  # the rule did not raise it
    assert len(feed("3")) == 1
    assert Notification.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_a_breach_of_an_unassigned_ticket_tells_the_team_and_its_lead_each_once(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    event = deliver(breach(assignee_id=None, status="pending"))
    deliver(breach(assignee_id=None, status="pending"), event=event)  # delivered again
    drain("email")
    mails = smtp.wait_for(3)
    assert sorted(r for mail in mails for r in mail.rcpt_tos) == [ANA, MARTA, TOM]
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == [
        "2",
        "3",
        "4",
        "6",
    ]
    drain("email")
    assert len(smtp.received()) == 3


def test_a_breach_respects_an_assignee_who_turned_email_off(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(breach(assignee_id=6))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (ANA,)  # the lead; Pat reads it in the app
    assert feed("6") == [("ticket.sla_breached", "SD-1042 missed its resolution target")]
    assert deliveries() == [
        ("3", "email", Kind.SLA_BREACHED, "sent"),
        ("6", "email", Kind.SLA_BREACHED, "skipped"),
    ]


def test_sla_alerts_never_reach_a_client(
    team: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    """Should the directory say an assignee or a lead is a client, nothing is recorded."""
    ContactFactory(user_id="8", role="client", email="otro@example.com")
    deliver(warning(assignee_id=8))
    deliver(breach(assignee_id=8, team_id=None))
    deliver(breach(client_id=2, assignee_id=2, team_id=None))  # the ticket's own client
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()


# --- resolution: "How did we do?" -----------------------------------------------------


def test_the_resolved_mail_asks_the_client_how_we_did(
    team: dict[str, Contact], smtp: SmtpServer, twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    deliver(moved("in_progress", "resolved", actor=3, token=TOKEN))
    drain()
    mails = smtp.wait_for(2)  # Lucía, and Tom (Ana resolved his ticket)
    assert len(mails) == 2
    to_lucia = only(mails, LUCIA)
    good = f"http://testserver/csat/{TOKEN}/?rating=good"
    bad = f"http://testserver/csat/{TOKEN}/?rating=bad"
    assert to_lucia.subject == "[SD-1042] Impresora sin tóner"
    assert to_lucia.text.splitlines()[0] == "SD-1042 ahora está Resuelto"
    assert "cambió de En progreso a Resuelto" in to_lucia.text
    assert (
        "¿Qué tal lo hemos hecho? Basta un clic, sin iniciar sesión; en la página que se abre "
        "puedes añadir un comentario. Los enlaces valen durante 14 días.\n"
        f"Bien: {good}\nMal: {bad}\n"
    ) in to_lucia.text.replace("\r\n", "\n")
    assert f'href="{good}"' in to_lucia.html
    assert f'href="{bad}"' in to_lucia.html
    assert "¿Qué tal lo hemos hecho?" in to_lucia.html
    assert "¿Algo sigue sin ir bien? Responde a este mensaje y lo retomamos." in to_lucia.text
    # One mail, one feed entry: the question is in both.
    ((_type, title),) = feed("1")
    assert title == "SD-1042 ahora está Resuelto"
    body = Notification.objects.get(recipient_id="1").body
    assert body.endswith(f"\nBien: {good}\nMal: {bad}")
    assert "¿Qué tal lo hemos hecho?" in body
    # The token is the client's alone: not in Tom's mail or feed, not in any SMS.
    to_tom = only(mails, TOM)
    assert to_tom.text.splitlines()[0] == "SD-1042 is now Resolved"
    assert TOKEN not in to_tom.text + to_tom.html + Notification.objects.get(recipient_id="2").body
    sms = twilio.wait_for(2)
    assert all(TOKEN not in text.body for text in sms)
    assert all(
        TOKEN not in json.dumps(d.context)
        for d in Delivery.objects.exclude(recipient_id="1", channel="email")
    )
    kinds = {(d.recipient_id, d.channel): d.kind for d in Delivery.objects.all()}
    assert kinds[("1", "email")] == kinds[("1", "sms")] == Kind.RESOLVED_CSAT
    assert kinds[("2", "email")] == Kind.STATUS_CHANGED


def test_no_rating_token_no_question(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    """A version 1 event (no ``rating_token``), or a version 2 one without it: the plain
    status message."""
    deliver(
        moved("in_progress", "resolved", actor=2),
        event=as_v1_event(moved("in_progress", "resolved", actor=2)),
    )
    deliver(moved("waiting", "resolved", actor=2, ticket_id=43, number="SD-1043"))
    drain("email")
    mails = smtp.wait_for(2)
    assert [mail.rcpt_tos for mail in mails] == [(LUCIA,), (LUCIA,)]
    for mail in mails:
        assert "/csat/" not in mail.text + mail.html
        assert "¿Qué tal" not in mail.text + mail.html
        assert "Responde a este mensaje para añadir tu respuesta" in mail.text
    assert not any("/csat/" in n.body for n in Notification.objects.all())
    assert set(Delivery.objects.values_list("kind", flat=True)) == {Kind.STATUS_CHANGED}


def test_rating_links_quote_whatever_the_token_holds() -> None:
    link = csat_link('a/b?c=d&e"<x>#f:g')
    assert link == "http://testserver/csat/a%2Fb%3Fc%3Dd%26e%22%3Cx%3E%23f:g/"
    assert csat_link(TOKEN, "bad") == f"http://testserver/csat/{TOKEN}/?rating=bad"


# --- waiting on the client --------------------------------------------------------------


def test_waiting_tells_the_client_once_that_we_wait_for_their_answer(
    team: dict[str, Contact], smtp: SmtpServer, twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    # Tom asks a question, then moves the ticket to waiting: the reply is its own mail.
    deliver(
        TicketCommented(
            ticket=ticket(),
            actor_id=2,
            comment=CommentSnapshotFactory(author_id=2, body="¿Qué modelo de impresora es?"),
        )
    )
    deliver(moved("in_progress", "waiting", actor=2, waiting_since=datetime.now(tz=UTC)))
    drain()
    mails = smtp.wait_for(2)
    assert [mail.rcpt_tos for mail in mails] == [(LUCIA,), (LUCIA,)]
    waiting = [mail for mail in mails if "espera tu respuesta" in mail.text]
    assert len(waiting) == 1
    (mail,) = waiting
    assert mail.text.splitlines()[0] == "SD-1042 espera tu respuesta"
    assert (
        "Necesitamos algo de ti para seguir con tu ticket “Impresora sin tóner”: lee nuestra "
        "última respuesta en el ticket y contéstala (basta con responder a este mensaje). "
        "Hasta entonces, su estado es Esperando al cliente."
    ) in mail.text
    assert "Estado: Esperando al cliente" in mail.text
    assert mail.message["In-Reply-To"] is not None  # on the thread the reply began
    assert [title for _type, title in feed("1")] == [
        "Nueva respuesta en SD-1042",
        "SD-1042 espera tu respuesta",
    ]
    texts = twilio.wait_for(2)
    assert any("espera tu respuesta" in text.body for text in texts)
    # Tom moved it himself: nothing for him.
    assert feed("2") == []
    assert not Delivery.objects.filter(recipient_id="2").exists()


def test_waiting_moved_by_someone_else_tells_the_assignee_the_status(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(moved("in_progress", "waiting", actor=3))
    drain("email")
    mails = smtp.wait_for(2)
    to_tom = only(mails, TOM)
    assert to_tom.text.splitlines()[0] == "SD-1042 is now Waiting on client"
    assert "changed from In progress to Waiting on client" in to_tom.text
    assert only(mails, LUCIA).text.splitlines()[0] == "SD-1042 espera tu respuesta"


def test_the_clients_reply_moving_a_waiting_ticket_is_not_mailed_back_to_them(
    team: dict[str, Contact], smtp: SmtpServer, twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    """Tickets publishes the move (the client its actor), then the reply: the client hears
    of neither, Tom of the reply alone."""
    deliver(moved("waiting", "in_progress", actor=1))
    deliver(
        TicketCommented(
            ticket=ticket(),
            actor_id=1,
            comment=CommentSnapshotFactory(author_id=1, body="Es una HP LaserJet 4000."),
        )
    )
    drain()
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (TOM,)
    assert mail.text.splitlines()[0] == "New reply on SD-1042"
    assert "Status: In progress" in mail.text
    assert feed("1") == []
    assert feed("2") == [("ticket.commented", "New reply on SD-1042")]
    assert not Delivery.objects.filter(recipient_id="1").exists()
    assert not Delivery.objects.filter(event_type="ticket.status_changed").exists()


def test_the_client_reopening_a_resolved_ticket_tells_the_assignee(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    """Resolved to in progress by the client may be the reopen button, with no reply to
    tell Tom: he hears of the move; the client does not."""
    deliver(moved("resolved", "in_progress", actor=1))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (TOM,)
    assert "changed from Resolved to In progress" in mail.text
    assert feed("1") == []


def test_the_clients_reply_reopening_a_resolved_ticket_is_told_once_by_the_reply(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    """The move names the reply that made it: Tom hears of the reply alone, one mail."""
    deliver(moved("resolved", "in_progress", actor=1, reply=77))
    deliver(
        TicketCommented(
            ticket=ticket(),
            actor_id=1,
            comment=CommentSnapshotFactory(id=77, author_id=1, body="Vuelve a fallar."),
        )
    )
    drain()
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (TOM,)
    assert mail.text.splitlines()[0] == "New reply on SD-1042"
    assert not Delivery.objects.filter(event_type="ticket.status_changed").exists()


# --- ratings ----------------------------------------------------------------------------


def test_a_good_rating_tells_the_assignee_in_app_only(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(rated("good", "¡Gracias, rapidísimos!"))
    assert feed("2") == [("ticket.rated", "Good rating for SD-1042")]
    (note,) = Notification.objects.all()
    assert note.body == (
        "The client rated ticket “Impresora sin tóner”: Good. Their comment: ¡Gracias, rapidísimos!"
    )
    assert not Delivery.objects.exists()  # no mail, no SMS: nothing to act on
    assert not MailThread.objects.exists()
    drain()
    assert smtp.received() == []


def test_a_bad_rating_tells_the_assignee_and_the_lead_and_keeps_the_comment_out_of_headers(
    team: dict[str, Contact], smtp: SmtpServer, twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    deliver(rated("bad", HOSTILE_COMMENT, previous="good"))
    drain()
    mails = smtp.wait_for(2)
    assert sorted(r for mail in mails for r in mail.rcpt_tos) == [ANA, TOM]
    to_tom, to_ana = only(mails, TOM), only(mails, ANA)
    assert to_tom.subject == "[SD-1042] Impresora sin tóner"
    assert to_tom.text.splitlines()[0] == "Bad rating for SD-1042"
    assert (
        "The client rated ticket “Impresora sin tóner”: Bad. (Their answer before: Good.) "
        "Their comment: Fatal. Bcc: victim@example.com X-Evil: 1 <b>nunca</b> más"
    ) in to_tom.text
    assert "&lt;b&gt;nunca&lt;/b&gt;" in to_tom.html
    assert "<b>nunca</b>" not in to_tom.html
    assert to_ana.text.splitlines()[0] == "Valoración mala en SD-1042"
    assert "El cliente valoró el ticket “Impresora sin tóner”: Mal." in to_ana.text
    for mail in mails:
        assert mail.message["Bcc"] is None
        assert mail.message["X-Evil"] is None
        assert mail.rcpt_tos != ("victim@example.com",)
        headers = "".join(f"{name}: {value}\n" for name, value in mail.message.items())
        assert "Fatal" not in headers
        assert "victim" not in headers
    assert [t for _e, t in feed("3")] == ["Valoración mala en SD-1042"]
    assert feed("1") == []  # the client who rated
    assert twilio.messages == []
    assert deliveries() == [
        ("2", "email", Kind.RATED_BAD, "sent"),
        ("3", "email", Kind.RATED_BAD, "sent"),
    ]


def test_a_bad_rating_of_a_ticket_nobody_holds_tells_the_lead(
    team: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    data = rated("bad")
    deliver(
        TicketRated(
            ticket=ticket(status="resolved", assignee_id=None),
            actor_id=1,
            rating="bad",
            comment="",
            previous_rating=None,
            rated_at=data.rated_at,
        )
    )
    assert [r for r, *_rest in deliveries()] == ["3"]
    assert Notification.objects.get().body == (
        "El cliente valoró el ticket “Impresora sin tóner”: Mal."
    )


# --- closing and merging ---------------------------------------------------------------


def test_an_auto_close_is_acknowledged_and_tells_nobody(team: dict[str, Contact]) -> None:
    consumer = EventConsumer(None, registry=handlers, queue="notifier.events")
    event = as_event(
        TicketClosed(ticket=ticket(status="closed"), actor_id=None, from_status="resolved")
    )
    assert consumer.apply(event, handlers.get(event.type)) is True
    assert consumer.apply(event, handlers.get(event.type)) is False
    assert InboxEntry.objects.filter(event_id=event.id).count() == 1
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()
    assert not MailThread.objects.exists()


def test_a_merged_ticket_is_closed_and_told_once_as_merged(
    team: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    """The merged ticket is ``closed`` now: the merge message says so in the client's
    language, and nothing announces the close."""
    merged_ticket = ticket(43, title="Sigue sin tóner", status="closed", merged_into_id=42)
    deliver(TicketMerged(ticket=merged_ticket, into=ticket(client_id=7), actor_id=2))
    deliver(
        TicketStatusChanged(
            ticket=merged_ticket, actor_id=2, from_status="in_progress", to_status="closed"
        )
    )
    deliver(warning(status="closed", merged_into_id=42))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == (LUCIA,)
    assert mail.text.splitlines()[0] == "Tu ticket SD-1043 se fusionó con otro ticket"
    assert "ya no cambia. Estado: Cerrado." in mail.text
    assert Notification.objects.count() == 1


# --- versions 1 and 2 -------------------------------------------------------------------


def _workflow_events() -> list[EventData]:
    """One event of every type that existed at version 1, each telling someone."""
    return [
        TicketCreated(ticket=ticket(status="pending", assignee_id=2), actor_id=1),
        moved("pending", "in_progress", actor=3),
        TicketAssigned(ticket=ticket(), actor_id=3, from_assignee=None, to_assignee=2),
        TicketCommented(ticket=ticket(), actor_id=1, comment=CommentSnapshotFactory(author_id=1)),
        TicketUpdated(
            ticket=ticket(priority="urgent"),
            actor_id=3,
            changes={"priority": FieldChange(before="high", after="urgent")},
        ),
        TicketMerged(
            ticket=ticket(43, status="resolved", merged_into_id=42),
            into=ticket(),
            actor_id=2,
        ),
    ]


@pytest.mark.parametrize("index", range(6), ids=lambda i: _workflow_events()[i].type)
def test_every_ticket_handler_takes_version_1_and_version_2_alike(
    team: dict[str, Contact], index: int
) -> None:
    data = _workflow_events()[index]
    consumer = EventConsumer(None, registry=handlers, queue="notifier.events")
    told: dict[int, list[tuple[str, str, str]]] = {}
    for version, event in ((1, as_v1_event(data)), (2, as_event(data))):
        assert (event.version, event.type) == (version, data.type)
        assert consumer.apply(event, handlers.get(event.type)) is True
        told[version] = sorted(
            Notification.objects.filter(event_id=event.id).values_list(
                "recipient_id", "title", "body"
            )
        )
    assert told[1]
    assert told[1] == told[2]


def test_issue_19_types_exist_at_version_2_only_and_are_handled() -> None:
    for event_type in (
        "ticket.sla_warning",
        "ticket.sla_breached",
        "ticket.rated",
        "ticket.closed",
    ):
        assert (event_type, 2) in SCHEMAS
        assert (event_type, 1) not in SCHEMAS
        assert event_type in handlers
    for event_type in (
        "ticket.created",
        "ticket.status_changed",
        "ticket.assigned",
        "ticket.commented",
        "ticket.updated",
        "ticket.merged",
    ):
        assert {(event_type, 1), (event_type, 2)} <= set(SCHEMAS)


def test_a_version_1_resolution_is_the_plain_status_message(
    team: dict[str, Contact], deliver: Callable[..., Any]
) -> None:
    data = moved("in_progress", "resolved", actor=3, token=TOKEN)
    deliver(data, event=as_v1_event(data))  # the token dropped with version 2's fields
    assert not any("/csat/" in note.body for note in Notification.objects.all())
    assert set(Delivery.objects.values_list("kind", flat=True)) == {Kind.STATUS_CHANGED}


def test_the_composed_question_is_in_the_recipients_language() -> None:
    context = {
        "kind": Kind.RESOLVED_CSAT,
        "ticket": {"id": "42", "number": "SD-1042", "title": "T", "status": "resolved"},
        "from_status": "in_progress",
        "to_status": "resolved",
        "csat": {"token": TOKEN},
    }
    english = compose(context, "en").rating
    assert english is not None
    assert (english.question, english.good_label, english.bad_label) == (
        "How did we do?",
        "Good",
        "Bad",
    )
    spanish = compose(context, "es").rating
    assert spanish is not None
    assert (spanish.question, spanish.good_label, spanish.bad_label) == (
        "¿Qué tal lo hemos hecho?",
        "Bien",
        "Mal",
    )
    assert compose({**context, "csat": {"token": ""}}, "es").rating is None
    assert compose({**context, "kind": Kind.STATUS_CHANGED}, "es").rating is None


# --- over the real bus ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_issue_19_events_cross_rabbitmq_without_a_dead_letter(bus: Topology) -> None:
    """Version 2 events of the new types and a version 1 event are all consumed: each is
    in the inbox, none is dead-lettered; the warning and the bad rating reached Tom."""
    ContactFactory(user_id="1", role="client", email=LUCIA, language="es")
    ContactFactory(user_id="2", role="technician", email=TOM, language="en")
    ContactFactory(user_id="3", role="admin", email=ANA, language="es")
    services.team_apply(card=TEAM, sequence=1)
    old = envelope_of(moved("pending", "in_progress", actor=3))
    old["version"] = 1
    for name in V2_TICKET_FIELDS:
        old["data"]["ticket"].pop(name, None)
    old["data"].pop("rating_token", None)
    sent = [
        envelope_of(warning()),
        envelope_of(breach()),
        envelope_of(rated("bad", "Mal")),
        envelope_of(
            TicketClosed(ticket=ticket(status="closed"), actor_id=None, from_status="resolved")
        ),
        envelope_of(moved("in_progress", "resolved", actor=2, token=TOKEN)),
        old,
    ]
    consumer = Running(
        EventConsumer(Connection(RABBITMQ_URL), registry=handlers, queue="notifier.events")
    )
    try:
        publish(bus, *sent)
        assert wait_until(lambda: InboxEntry.objects.count() == len(sent), timeout=10)
    finally:
        consumer.stop()
    assert set(InboxEntry.objects.values_list("event_id", flat=True)) == {
        uuid.UUID(body["id"]) for body in sent
    }
    assert [t for t, _title in feed("2")] == [
        "ticket.sla_warning",
        "ticket.sla_breached",
        "ticket.rated",
        "ticket.status_changed",  # the version 1 move, by Ana
    ]
    assert [t for t, _title in feed("1")] == ["ticket.status_changed", "ticket.status_changed"]
    with Connection(RABBITMQ_URL) as conn:
        channel = conn.channel()
        for queue in (
            bus.queue_name("notifier.events"),
            bus.dead_letter_queue("notifier.events").name,
        ):
            _name, messages, _consumers = channel.queue_declare(queue=queue, passive=True)
            assert (queue, messages) == (queue, 0)  # all acked, nothing dead-lettered


@pytest.mark.parametrize(
    ("language", "escalation", "said"),
    [
        ("en", ["raised_priority"], "The team's escalation rule raised its priority to Urgent."),
        (
            "es",
            ["raised_priority", "reassigned_to_lead"],
            "La regla de escalado del equipo subió su prioridad a Urgente y se lo asignó al "
            "responsable del equipo.",
        ),
        ("en", ["something_new"], ""),
        ("es", [], ""),
    ],
)
def test_a_breach_says_what_the_escalation_rule_did(
    language: str, escalation: list[str], said: str
) -> None:
    context = {
        "kind": Kind.SLA_BREACHED,
        "ticket": {
            "id": "42",
            "number": "SD-1042",
            "title": "T",
            "status": "in_progress",
            "priority": "urgent",
        },
        "sla": {
            "clock": "resolution",
            "due_at": "2026-12-09T10:30:00+00:00",
            "assigned": True,
            "escalation": escalation,
        },
    }
    body = compose(context, language).body
    assert ("escala" in body) is bool(said)
    assert said in body
    assert "something_new" not in body
