"""Proving an address and a phone number the way a person does: by reading what was sent.

Notifier mails only confirmed addresses and texts only verified numbers (issue 15). A
person who registers gets a confirmation link by mail and, with a phone, a 6-digit code
by SMS; the tests read both from the real SMTP server and the Twilio fake they run, and
give them back to accounts as the web pages would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import httpx
from stack import eventually

from servidesk_testing.fakes import ReceivedMail, SentSms, SmtpServer, TwilioFake

#: The link in accounts' confirmation mail: web's /confirm-email/<token>/.
CONFIRM_LINK = re.compile(r"https?://\S+/confirm-email/(?P<token>[^/\s]+)/")
#: "Servidesk: tu código es 123456. Caduca en 10 minutos." (any language: the 6 digits).
CODE_SMS = re.compile(r"^Servidesk: .*?\b(?P<code>\d{6})\b")


def confirmation_mail(smtp: SmtpServer, email: str, *, timeout: float = 60) -> ReceivedMail:
    """The last confirmation mail ``email`` received (waits for the first)."""

    def found() -> list[ReceivedMail]:
        return [m for m in smtp.received(to=email) if CONFIRM_LINK.search(m.text)]

    return eventually(found, timeout=timeout, what=f"the confirmation mail to {email}")[-1]


def confirmation_token(mail: ReceivedMail) -> str:
    link = CONFIRM_LINK.search(mail.text)
    assert link is not None, mail.text
    return link["token"]


def code_sms(twilio: TwilioFake, phone: str, *, timeout: float = 60) -> SentSms:
    """The last verification code texted to ``phone`` (waits for the first)."""

    def found() -> list[SentSms]:
        return [s for s in twilio.messages_to(phone) if CODE_SMS.search(s.body)]

    return eventually(found, timeout=timeout, what=f"the code SMS to {phone}")[-1]


def sms_code(sms: SentSms) -> str:
    match = CODE_SMS.search(sms.body)
    assert match is not None, sms.body
    return match["code"]


Post = Callable[..., httpx.Response]


def confirm_email(post: Post, headers: Mapping[str, str], smtp: SmtpServer, email: str) -> None:
    """Open the link of the confirmation mail, signed in (``post``: a client's ``post``
    whose base is the gateway or accounts' own address)."""
    token = confirmation_token(confirmation_mail(smtp, email))
    answer = post("/api/accounts/me/email/confirm/", json={"token": token}, headers=headers)
    assert answer.status_code == 200, answer.text


def verify_phone(post: Post, headers: Mapping[str, str], twilio: TwilioFake, phone: str) -> None:
    """Type in the code texted to ``phone``."""
    code = sms_code(code_sms(twilio, phone))
    answer = post("/api/accounts/me/phone/verify/", json={"code": code}, headers=headers)
    assert answer.status_code == 200, answer.text
