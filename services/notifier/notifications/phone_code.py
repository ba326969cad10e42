"""The phone verification code (``verification.phone_code``): the one SMS that goes to a
number nobody has verified yet, since it is how the number gets verified.

Accounts publishes the code; the consumer records one SMS delivery for it (no in-app
entry, nothing logged); a sender texts it like any SMS, within the country allow-list and
the per-recipient daily cap, in the language the event names. The code lives in the
delivery's ``context`` only while the delivery waits: once it is final (sent, skipped,
failed) ``services.delivery_record`` erases it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Final

from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import ngettext

from notifications.channels.base import Skip
from notifications.messages import language_for

#: The delivery ``kind`` of a verification code (next to ``messages.Kind``'s).
KIND: Final = "phone_code"
EVENT_TYPE: Final = "verification.phone_code"


def context_for(*, phone: str, code: str, language: str, expires_at: datetime) -> dict[str, Any]:
    """What the delivery keeps until it is sent (JSON-ready)."""
    return {
        "kind": KIND,
        "phone": phone,
        "code": code,
        "language": language,
        "expires_at": expires_at.isoformat(),
    }


def without_code(context: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in context.items() if name != "code"}


def phone_of(context: dict[str, Any]) -> str:
    return str(context.get("phone") or "")


def minutes_left(context: dict[str, Any], *, now: datetime | None = None) -> int:
    """Whole minutes (rounded up) the code still lives; ``Skip`` when it is gone or expired
    before it could go (checked before the code takes a slot of the daily cap)."""
    expires_at = parse_datetime(str(context.get("expires_at") or ""))
    if not context.get("code") or expires_at is None:
        raise Skip("the verification code is no longer kept")
    seconds = (expires_at - (now or timezone.now())).total_seconds()
    if seconds <= 0:
        raise Skip("the verification code expired before it could be sent")
    return max(1, math.ceil(seconds / 60))


def sms_text(context: dict[str, Any], *, now: datetime | None = None) -> str:
    """``Servidesk: tu código es 123456. Caduca en 10 minutos.``: one short segment, in the
    language of the event. ``Skip`` as ``minutes_left`` says."""
    minutes = minutes_left(context, now=now)
    code = str(context["code"])
    with translation.override(language_for(str(context.get("language") or ""))):
        return ngettext(
            "Servidesk: your code is %(code)s. It expires in %(minutes)d minute.",
            "Servidesk: your code is %(code)s. It expires in %(minutes)d minutes.",
            minutes,
        ) % {"code": code, "minutes": minutes}
