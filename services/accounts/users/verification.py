"""Proof of contact: email confirmation tokens, phone codes, and how often either is sent.

Email confirmation token (the last path segment of web's ``/confirm-email/<token>/``)::

    <user id, base 36>-<issued at, base 36 seconds>-<HMAC-SHA256, 32 hex digits>

The HMAC (keyed by ``SECRET_KEY``) covers the user id, the time, the address being
confirmed and the state of the account's email (current address, pending address,
verified flag). Confirming changes that state, so a token works once; asking for another
address changes the pending one, so a token for an older address stops working; it
expires after ``EMAIL_CONFIRM_TIMEOUT`` seconds. Only characters ``[0-9a-z-]`` appear.

Phone codes are 6 random digits; only an HMAC of the code (with the user and the number)
is stored, so the table does not give the codes away.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import base36_to_int, int_to_base36

from users.models import User

_EMAIL_SALT = "users.verification.email-confirmation"
_PHONE_SALT = "users.verification.phone-code"


def email_to_confirm(user: User) -> str:
    """The address a confirmation link for ``user`` proves: the pending one, else the
    current one while it is unconfirmed; empty when there is nothing to confirm."""
    if user.pending_email:
        return user.pending_email
    return "" if user.email_verified else user.email


def _email_mac(user: User, email: str, timestamp: int) -> str:
    state = f"{user.pk}|{timestamp}|{email}|{user.email}|{user.pending_email}|{user.email_verified}"
    return salted_hmac(_EMAIL_SALT, state, algorithm="sha256").hexdigest()[:32]


def email_token_make(user: User, *, now: float | None = None) -> str:
    """A confirmation token for ``email_to_confirm(user)``."""
    timestamp = int(time.time() if now is None else now)
    mac = _email_mac(user, email_to_confirm(user), timestamp)
    return f"{int_to_base36(user.pk)}-{int_to_base36(timestamp)}-{mac}"


@dataclass(frozen=True)
class EmailToken:
    user_id: int
    timestamp: int
    mac: str


def email_token_parse(token: str) -> EmailToken | None:
    """The parts of a token, or None when it is not shaped like one."""
    parts = token.split("-")
    if len(parts) != 3 or len(parts[2]) != 32:
        return None
    try:
        return EmailToken(base36_to_int(parts[0]), base36_to_int(parts[1]), parts[2])
    except ValueError:
        return None


def email_token_valid(user: User, token: EmailToken, *, now: float | None = None) -> bool:
    """Whether ``token`` confirms ``user``'s address to confirm, now."""
    email = email_to_confirm(user)
    if not email or token.user_id != user.pk:
        return False
    age = int(time.time() if now is None else now) - token.timestamp
    if age < 0 or age > settings.EMAIL_CONFIRM_TIMEOUT:
        return False
    return constant_time_compare(_email_mac(user, email, token.timestamp), token.mac)


def phone_code_make() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def phone_code_hash(*, user_id: int, phone: str, code: str) -> str:
    return salted_hmac(_PHONE_SALT, f"{user_id}|{phone}|{code}", algorithm="sha256").hexdigest()


def send_allowance(key: str, *, limit: int, period: int) -> int:
    """Count one send under ``key`` (at most ``limit`` per ``period`` seconds).

    Returns 0 when the send may go (and counts it), else the seconds until it may. The
    counter lives in Django's cache, like the API's throttles.
    """
    now = time.time()
    start, count = cache.get(f"verification-sends:{key}") or (now, 0)
    if start + period <= now:
        start, count = now, 0
    if count >= limit:
        return max(1, int(start + period - now) + 1)
    cache.set(f"verification-sends:{key}", (start, count + 1), timeout=int(period) + 1)
    return 0
