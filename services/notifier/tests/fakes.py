"""Moved to ``servidesk_testing.fakes`` so the cross-service tests share them."""

from servidesk_testing.fakes import (
    ReceivedMail,
    SentSms,
    SmtpServer,
    TwilioFake,
    free_port,
    iter_texts,
    twilio_signature,
    wait_until,
)

__all__ = [
    "ReceivedMail",
    "SentSms",
    "SmtpServer",
    "TwilioFake",
    "free_port",
    "iter_texts",
    "twilio_signature",
    "wait_until",
]
