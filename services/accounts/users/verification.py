"""Proof of contact: email confirmation tokens, phone codes, and how often either is sent.

Email confirmation token (the last path segment of web's ``/confirm-email/<token>/``)::

    <user id, base 36>-<issued at, base 36 seconds>-<HMAC-SHA256, 32 hex digits>

The HMAC (keyed by ``SECRET_KEY``) covers the user id, the time, the address being
confirmed and the state of the account's email (current address, pending address,
verified flag). Confirming changes that state, so a token works once; asking for another
address changes the pending one, so a token for an older address stops working; it
expires after ``EMAIL_CONFIRM_TIMEOUT`` seconds. Only characters ``[0-9a-z-]`` appear.

Invitation token (the ``token`` of web's ``/password-reset/confirm/<uid>/<token>/``, shaped
like Django's reset tokens so that page and ``auth/password/reset/confirm/`` take it)::

    <issued at, base 36 seconds>-<HMAC-SHA256, 32 hex digits>

It sets the first password of an invited client (no usable password yet), for
``INVITATION_TIMEOUT`` seconds. The HMAC covers the user id, the time and the account's
state (password hash, email, verified flag, active flag, last sign-in): setting the
password changes that state, so a token works once.

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
_INVITATION_SALT = "users.verification.invitation"


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


def _invitation_mac(user: User, timestamp: int) -> str:
    last_login = "" if user.last_login is None else user.last_login.isoformat()
    state = (
        f"{user.pk}|{timestamp}|{user.password}|{user.email}|{user.email_verified}"
        f"|{user.is_active}|{last_login}"
    )
    return salted_hmac(_INVITATION_SALT, state, algorithm="sha256").hexdigest()[:32]


def invitation_token_make(user: User, *, now: float | None = None) -> str:
    """A token that sets the first password of ``user`` (an invited client)."""
    timestamp = int(time.time() if now is None else now)
    return f"{int_to_base36(timestamp)}-{_invitation_mac(user, timestamp)}"


def invitation_token_valid(user: User, token: str, *, now: float | None = None) -> bool:
    """Whether ``token`` may set ``user``'s first password, now: the account is active,
    has no usable password yet, and is in the state the token was made in."""
    if not user.is_active or user.has_usable_password():
        return False
    issued, _, mac = token.partition("-")
    if len(mac) != 32:
        return False
    try:
        timestamp = base36_to_int(issued)
    except ValueError:
        return False
    age = int(time.time() if now is None else now) - timestamp
    if age < 0 or age > settings.INVITATION_TIMEOUT:
        return False
    return constant_time_compare(_invitation_mac(user, timestamp), mac)


def phone_code_make() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def phone_code_hash(*, user_id: int, phone: str, code: str) -> str:
    return salted_hmac(_PHONE_SALT, f"{user_id}|{phone}|{code}", algorithm="sha256").hexdigest()


def send_allowance(key: str, *, limit: int, period: int) -> int:
    """Count one send under ``key`` (at most ``limit`` per ``period`` seconds).

    Returns 0 when the send may go (and counts it), else the seconds until it may. The
    window opens with the first send. The count lives in Django's cache, which every
    replica shares, and is taken with ``add`` and ``incr`` (atomic there): two replicas
    asked at once never both hand out the last send.
    """
    count_key, opened_key = f"verification-sends:{key}", f"verification-sends:{key}:opened"
    now = time.time()
    cache.add(opened_key, now, timeout=period)
    cache.add(count_key, 0, timeout=period)
    try:
        count = cache.incr(count_key)
    except ValueError:  # the window closed between add and incr
        cache.set(count_key, 1, timeout=period)
        count = 1
    if count <= limit:
        return 0
    cache.decr(count_key)  # a refused send is not counted
    opened = float(cache.get(opened_key) or now)
    return max(1, int(opened + period - now) + 1)
