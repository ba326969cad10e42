"""Subjects and SMS are plain text; the HTML part is escaped; a title cannot add headers.

The bug: the subject was rendered by the mail template with HTML autoescaping on, so a
ticket titled ``<b>Q&A</b>`` arrived as ``&lt;b&gt;Q&amp;A&lt;/b&gt;``. Through the real
path: the event's handler, the sender, a real SMTP server and the Twilio fake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from notifications.messages import Kind, compose
from notifications.models import Contact

from servidesk_shared.events.schemas import TicketStatusChanged
from tests.conftest import drain
from tests.factories import TicketSnapshotFactory
from tests.fakes import SmtpServer, TwilioFake

pytestmark = pytest.mark.django_db

MARKUP = "<b>Q&A</b> \"quoted\" 'single' & &amp;"
LUCIA, TOM = "+34600111222", "+353851234567"


def resolved(title: str) -> TicketStatusChanged:
    return TicketStatusChanged(
        ticket=TicketSnapshotFactory(
            id=42,
            number="SD-1042",
            title=title,
            client_id=1,
            assignee_id=2,
            status="resolved",
            priority="high",
        ),
        actor_id=2,
        from_status="in_progress",
        to_status="resolved",
    )


def test_subject_and_text_part_carry_the_title_as_typed_html_part_escapes_it(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(resolved(MARKUP))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.subject == f"[SD-1042] {MARKUP}"
    assert mail.text.splitlines()[0] == "SD-1042 ahora está Resuelto"
    assert f"Título: {MARKUP}" in mail.text
    assert MARKUP not in mail.html
    assert "&lt;b&gt;Q&amp;A&lt;/b&gt;" in mail.html
    assert "<b>" not in mail.html


def test_a_title_with_line_breaks_gives_one_subject_line_and_no_extra_header(
    people: dict[str, Contact], smtp: SmtpServer, deliver: Callable[..., Any]
) -> None:
    deliver(resolved("Printer\r\nBcc: victim@example.com\r\n\r\nbody\nX-Evil: 1\u2028end"))
    drain("email")
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("lucia@example.com",)
    assert mail.message["Bcc"] is None
    assert mail.message["X-Evil"] is None
    assert mail.subject == "[SD-1042] Printer Bcc: victim@example.com body X-Evil: 1 end"


def test_sms_body_carries_the_title_as_typed(
    people: dict[str, Contact], twilio: TwilioFake, deliver: Callable[..., Any]
) -> None:
    deliver(resolved(MARKUP))
    drain("sms")
    twilio.wait_for(1)
    (sms,) = twilio.messages_to(LUCIA)
    assert f'"{MARKUP}"' in sms.body
    assert "&lt;" not in sms.body
    assert "&amp;" not in sms.body.replace("& &amp;", "")


@pytest.mark.parametrize("kind", Kind.ALL)
def test_every_composed_text_is_plain(kind: str) -> None:
    context = {
        "kind": kind,
        "ticket": {
            "id": "42",
            "number": "SD-1042",
            "title": f"{MARKUP}\r\nnext",
            "status": "pending",
            "priority": "low",
        },
        "from_status": "pending",
        "to_status": "in_progress",
        "comment": {"body": "<i>a & b</i>", "internal": False},
    }
    composed = compose(context, "en", sms=True)
    assert composed.ticket_title == f"{MARKUP} next"
    assert f"{MARKUP} next" in composed.sms
    assert "\n" not in composed.title + composed.sms + composed.ticket_title
    if kind in (Kind.COMMENTED, Kind.INTERNAL_NOTE):
        assert "<i>a & b</i>" in composed.body
