"""The notifier's own settings, each with a default (read on every call: tests override).

| setting | default | meaning |
|---|---|---|
| ``WEB_BASE_URL`` | ``http://127.0.0.1:8000`` | links in messages: ``/tickets/<id>/`` on it |
| ``SUPPORT_EMAIL`` | ``soporte@servidesk.local`` | mails' ``Reply-To``; the domain of Message-IDs |
| ``NOTIFIER_MAX_ATTEMPTS`` | ``6`` | send attempts before a transient failure is final |
| ``NOTIFIER_RETRY_DELAY`` | ``5.0`` | seconds before the first retry; doubles each time |
| ``NOTIFIER_RETRY_DELAY_MAX`` | ``600.0`` | cap of one retry delay |
| ``NOTIFIER_SEND_LEASE`` | ``120.0`` | seconds a claimed delivery is reserved to its sender |
| ``NOTIFIER_BATCH_SIZE`` | ``50`` | deliveries a sender claims at once |
| ``NOTIFIER_POLL_INTERVAL`` | ``1.0`` | seconds a sender sleeps without a wake-up |
| ``NOTIFIER_CONTACT_WAIT`` | ``600.0`` | seconds a delivery waits for an unknown contact card |
| ``NOTIFIER_CONTACT_RECHECK`` | ``5.0`` | seconds between two looks for that card |
| ``SMS_MAX_PER_RECIPIENT_PER_DAY`` | ``20`` | SMS to one phone number per calendar day |
| ``EMAIL_MAX_PER_RECIPIENT_PER_DAY`` | ``100`` | mails to one address per calendar day |
| ``SMS_ALLOWED_COUNTRIES`` | the EU (``EU_COUNTRIES``) | ISO 3166 codes SMS may go to |
| ``TWILIO_*`` | ``""`` | see ``channels/sms.py`` |

The day of the caps is the calendar day in ``TIME_ZONE``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings

#: The European Union as phone numbers see it: its 27 member states (ISO 3166-1 alpha-2;
#: Greece is ``GR`` here, the EU writes ``EL``) and the parts of them that have numbering
#: codes of their own: Åland (``AX``, Finland's +358 18) and France's outermost regions
#: (French Guiana, Guadeloupe, Martinique, Réunion, Mayotte, Saint-Martin). The Canaries,
#: Ceuta, Melilla, the Azores and Madeira number as ``ES`` and ``PT``. Where SMS may go
#: unless ``SMS_ALLOWED_COUNTRIES`` says otherwise.
EU_MEMBER_STATES: Final = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip
EU_COUNTRIES: Final = EU_MEMBER_STATES | {"AX", "GF", "GP", "MQ", "RE", "YT", "MF"}


@dataclass(frozen=True)
class NotifierSettings:
    max_attempts: int
    retry_delay: float
    retry_delay_max: float
    send_lease: float
    batch_size: int
    poll_interval: float
    contact_wait: float
    contact_recheck: float
    sms_max_per_recipient_per_day: int
    email_max_per_recipient_per_day: int
    sms_allowed_countries: frozenset[str]

    def max_per_recipient_per_day(self, channel: str) -> int:
        if channel == "sms":
            return self.sms_max_per_recipient_per_day
        return self.email_max_per_recipient_per_day


def notifier_settings() -> NotifierSettings:
    def get(name: str, default: Any) -> Any:
        return getattr(settings, name, default)

    return NotifierSettings(
        max_attempts=int(get("NOTIFIER_MAX_ATTEMPTS", 6)),
        retry_delay=float(get("NOTIFIER_RETRY_DELAY", 5.0)),
        retry_delay_max=float(get("NOTIFIER_RETRY_DELAY_MAX", 600.0)),
        send_lease=float(get("NOTIFIER_SEND_LEASE", 120.0)),
        batch_size=int(get("NOTIFIER_BATCH_SIZE", 50)),
        poll_interval=float(get("NOTIFIER_POLL_INTERVAL", 1.0)),
        contact_wait=float(get("NOTIFIER_CONTACT_WAIT", 600.0)),
        contact_recheck=float(get("NOTIFIER_CONTACT_RECHECK", 5.0)),
        sms_max_per_recipient_per_day=int(get("SMS_MAX_PER_RECIPIENT_PER_DAY", 20)),
        email_max_per_recipient_per_day=int(get("EMAIL_MAX_PER_RECIPIENT_PER_DAY", 100)),
        sms_allowed_countries=country_codes(get("SMS_ALLOWED_COUNTRIES", None)),
    )


def country_codes(value: str | Iterable[str] | None) -> frozenset[str]:
    """``"ES, pt"`` or ``["ES", "PT"]`` as ``{"ES", "PT"}``; ``EU`` stands for
    ``EU_COUNTRIES`` (``"EU,NO,CH"``); ``None`` (not set) is the EU, empty is nowhere."""
    if value is None:
        return EU_COUNTRIES
    items = value.split(",") if isinstance(value, str) else value
    codes = {code.strip().upper() for code in items if code.strip()}
    if "EU" in codes:
        codes = (codes - {"EU"}) | EU_COUNTRIES
    return frozenset(codes)
