"""SMS through the official ``twilio`` client.

``TWILIO_API_BASE_URL`` replaces ``https://api.twilio.com``: the client builds absolute
URLs on that host (``twilio.rest.api.ApiBase``), so a small ``HttpClient`` rewrites the
prefix of every request before ``requests`` sends it. Everything else (auth, form
encoding, error parsing) stays the official client's.

Settings: ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM_NUMBER`` or
``TWILIO_MESSAGING_SERVICE_SID``, ``TWILIO_API_BASE_URL``, ``TWILIO_STATUS_CALLBACK_URL``
(default: ``WEB_BASE_URL`` + ``/api/notifications/twilio/status/``; ``off`` for none),
``TWILIO_TIMEOUT`` (seconds, default 10).

Who may be texted: a contact who wants SMS, at a number they verified with a code, in a
country of ``SMS_ALLOWED_COUNTRIES`` (``conf.py``). The verification code itself
(``phone_code.py``) goes to a number not verified yet; the allow-list still applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, Self

import phonenumbers
import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client

from notifications import phone_code
from notifications.channels.base import PermanentError, Sent, Skip, TransientError
from notifications.conf import notifier_settings
from notifications.messages import compose
from notifications.models import Channel, Contact, Delivery

TWILIO_API_URL: Final = "https://api.twilio.com"
STATUS_CALLBACK_PATH: Final = "/api/notifications/twilio/status/"
#: HTTP statuses worth retrying besides 5xx: timeout and rate limiting.
_TRANSIENT_STATUSES: Final = frozenset({408, 409, 429})


def _setting(name: str) -> str:
    return str(getattr(settings, name, "") or "")


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]  # untyped library
    """``TwilioHttpClient`` sending what was meant for ``https://api.twilio.com`` elsewhere."""

    def __init__(self, base_url: str, *, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        if self.base_url and url.startswith(TWILIO_API_URL):
            url = self.base_url + url[len(TWILIO_API_URL) :]
        return super().request(method, url, *args, **kwargs)


def not_configured_reason() -> str | None:
    """Why SMS cannot be sent with the current settings, or ``None`` when they can."""
    missing = [name for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not _setting(name)]
    if not (_setting("TWILIO_FROM_NUMBER") or _setting("TWILIO_MESSAGING_SERVICE_SID")):
        missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
    if missing:
        return "Twilio is not configured (missing " + ", ".join(missing) + ")"
    return None


def status_callback_url() -> str | None:
    configured = _setting("TWILIO_STATUS_CALLBACK_URL")
    if configured.lower() in {"off", "none", "false"}:
        return None
    if configured:
        return configured
    return str(settings.WEB_BASE_URL).rstrip("/") + STATUS_CALLBACK_PATH


def signature_is_valid(
    *,
    token: str,
    urls: Iterable[str],
    params: Any,
    signature: str,
    settings_header: str = "",
) -> bool:
    """Whether Twilio signed this request (``X-Twilio-Signature``) for one of ``urls``.

    The URL Twilio signed is the one it was given: ``status_callback_url()``, tried next
    to the URL the request reached us at (behind a proxy they can differ). No token or
    no signature is never valid.
    """
    if not token or not signature:
        return False
    validator = RequestValidator(token)
    algorithm = get_signature_algorithm(settings_header)
    candidates = dict.fromkeys([*urls, status_callback_url() or ""])
    return any(
        validator.validate(url, params, signature, algorithm=algorithm) for url in candidates if url
    )


def twilio_client() -> Client:
    http_client = BaseUrlHttpClient(
        _setting("TWILIO_API_BASE_URL"),
        timeout=float(getattr(settings, "TWILIO_TIMEOUT", 10.0)),
    )
    return Client(
        _setting("TWILIO_ACCOUNT_SID"),
        _setting("TWILIO_AUTH_TOKEN"),
        http_client=http_client,
        environment={},  # settings only: never pick credentials up from os.environ
    )


def country_refusal(phone: str, allowed: frozenset[str] | None = None) -> str | None:
    """Why ``phone`` (E.164) is no number SMS may go to, or ``None`` when it is.

    The country is the one the number belongs to (``phonenumbers``), not its calling code
    alone: +358 18 is Åland (``AX``), the rest of +358 Finland; +1 is the US, Canada and
    the Caribbean, none of them in the EU.
    """
    if allowed is None:
        allowed = notifier_settings().sms_allowed_countries
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return "the phone number is not in international format (+<country code><number>)"
    if not phonenumbers.is_valid_number(number):
        return "the phone number is not a valid one"
    country = phonenumbers.region_code_for_number(number)
    if country not in allowed:
        return f"SMS to {country} (+{number.country_code}) are not allowed (SMS_ALLOWED_COUNTRIES)"
    return None


def skip_reason(contact: Contact) -> str | None:
    if not contact.is_active:
        return "recipient is inactive"
    if not contact.notify_sms:
        return "recipient turned SMS notifications off"
    if not contact.phone:
        return "recipient has no phone number"
    if not contact.phone_verified:
        return "recipient's phone number is not verified"
    return country_refusal(contact.phone) or not_configured_reason()


def phone_code_skip_reason(*, phone: str, contact: Contact | None) -> str | None:
    """``skip_reason`` for a verification code: the number need not be verified (that is
    what the code is for) nor SMS notifications wanted (the owner asked for it)."""
    if contact is not None and not contact.is_active:
        return "recipient is inactive"
    if not phone:
        return "no phone number to send the code to"
    return country_refusal(phone) or not_configured_reason()


def destination(delivery: Delivery, contact: Contact | None) -> str:
    """The number ``delivery`` goes to; ``Skip`` with the reason when it must not go."""
    if delivery.kind == phone_code.KIND:
        phone_code.minutes_left(delivery.context)  # an expired code takes no slot
        phone = phone_code.phone_of(delivery.context)
        reason = phone_code_skip_reason(phone=phone, contact=contact)
    elif contact is None:
        phone, reason = "", "no contact card for this user"
    else:
        phone, reason = contact.phone, skip_reason(contact)
    if reason:
        raise Skip(reason)
    return phone


def _is_transient(status: int) -> bool:
    return status >= 500 or status in _TRANSIENT_STATUSES


class SmsTransport:
    channel = Channel.SMS

    #: Every request stands alone: nothing about the session can break for good.
    usable = True

    def __init__(self) -> None:
        self._client: Client | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    @property
    def client(self) -> Client:
        # One client (one pooled HTTP session) per transport; built only when needed.
        if self._client is None:
            self._client = twilio_client()
        return self._client

    def destination(self, delivery: Delivery, contact: Contact | None) -> str:
        return destination(delivery, contact)

    def send(self, delivery: Delivery, contact: Contact | None) -> Sent:
        to = destination(delivery, contact)
        if delivery.kind == phone_code.KIND:
            body = phone_code.sms_text(delivery.context)
        else:
            body = compose(delivery.context, contact.language if contact else None, sms=True).sms
        options: dict[str, Any] = {"to": to, "body": body}
        if _setting("TWILIO_MESSAGING_SERVICE_SID"):
            options["messaging_service_sid"] = _setting("TWILIO_MESSAGING_SERVICE_SID")
        else:
            options["from_"] = _setting("TWILIO_FROM_NUMBER")
        callback = status_callback_url()
        if callback:
            options["status_callback"] = callback
        try:
            message = self.client.messages.create(**options)
        except TwilioRestException as exc:
            reason = f"Twilio {exc.status} (code {exc.code}): {exc.msg}"
            if _is_transient(int(exc.status)):
                raise TransientError(reason) from exc
            raise PermanentError(reason) from exc
        except TwilioServiceException as exc:
            reason = f"Twilio {exc.status} (code {exc.code}): {exc.title} {exc.detail or ''}"
            if _is_transient(int(exc.status)):
                raise TransientError(reason.strip()) from exc
            raise PermanentError(reason.strip()) from exc
        except (requests.RequestException, TwilioException, OSError) as exc:
            raise TransientError(f"Twilio unreachable: {type(exc).__name__}: {exc}") from exc
        return Sent(
            address=to,
            provider_id=str(message.sid or ""),
            provider_status=str(message.status or ""),
        )
