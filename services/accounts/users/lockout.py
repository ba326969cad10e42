"""Failed sign-ins: a progressive delay per account and per client address.

Two counters, both in Django's cache, which every process and replica of accounts shares
(its database by default, Redis when ``CACHE_URL`` names one: ``servidesk_shared.cache``).
They count with ``cache.add`` then ``cache.incr``, atomic in both, so tries sent in
parallel to several replicas are each counted:

* per **account**: the username and the email of one account share a counter, whichever
  was typed. An identifier that names no account counts under the identifier itself
  (normalized), and behaves exactly like a real account, so the delays never tell whether
  an account exists.
* per **client address**: the address the throttles use (``throttles.client_address``:
  nginx's ``X-Forwarded-For``), across every identifier tried from it.

The first ``LOGIN_FAILURE_LIMIT`` failures of an account (``LOGIN_ADDRESS_FAILURE_LIMIT``
of an address) cost nothing; from then on each failure makes the next try wait twice as
long as the last (1 s, 2 s, 4 s... up to ``LOGIN_LOCKOUT_SECONDS``). During the wait every
try is refused unchecked, the right password too, and is not counted. Failures are
forgotten ``LOGIN_FAILURE_WINDOW_SECONDS`` after the last one. So a stranger never locks
an account for good: the owner waits minutes at most, and a password reset
(``clear``) lifts the account's wait at once. A correct password clears the account's
counter, never the address's (a caller could otherwise reset it with an account of its own).

The authentication backend counts per account (the API and the Django admin login alike);
``services.auth_login`` adds the client address.

    wait = lockout.locked_for(identifier, address=address)   # 0: go ahead
    lockout.record_failure(identifier)                       # the account
    lockout.record_address_failure(address)                  # the address
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import AuthenticationFailed

from users.selectors import user_by_identifier

logger = logging.getLogger(__name__)


class SignInFailed(AuthenticationFailed):
    """401 for wrong credentials, raised after the failure was counted.

    The counters must outlive the refusal (with a database cache they are rows), so
    ``services.auth_login`` counts in its own transaction and raises once it committed.
    """


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def account_key(identifier: str) -> str:
    """The counter an identifier counts under: its account's, or its own when it names none."""
    user = user_by_identifier(identifier.strip())
    if user is not None:
        return f"user:{user.pk}"
    return f"name:{_digest(identifier.strip().lower())}"


def _address_key(address: str) -> str:
    return f"address:{_digest(address)}"


def _wait(subject: str) -> int:
    until = cache.get(f"login:until:{subject}")
    if until is None:
        return 0
    return max(0, math.ceil(float(until) - time.time()))


def locked_for(identifier: str, *, address: str | None = None) -> int:
    """Seconds before ``identifier`` (and ``address``, if given) may try again; 0: now."""
    waits = [_wait(account_key(identifier))]
    if address:
        waits.append(_wait(_address_key(address)))
    return max(waits)


def address_locked_for(address: str) -> int:
    """Seconds before the client ``address`` may try again, whatever it tries; 0: now."""
    return _wait(_address_key(address))


def delay_after(failures: int, *, limit: int) -> int:
    """The wait after the ``failures``-th failure: none up to ``limit``, then doubling."""
    if failures < limit:
        return 0
    cap: int = settings.LOGIN_LOCKOUT_SECONDS
    exponent = failures - limit
    return cap if exponent >= cap.bit_length() else min(2**exponent, cap)


def _record(subject: str, *, limit: int) -> int:
    window = max(settings.LOGIN_FAILURE_WINDOW_SECONDS, settings.LOGIN_LOCKOUT_SECONDS)
    key = f"login:failures:{subject}"
    cache.add(key, 0, timeout=window)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        failures = 1
    # Forgotten a window after the *last* failure (some backends' incr keeps the first TTL).
    cache.touch(key, timeout=window)
    delay = delay_after(failures, limit=limit)
    if delay:
        # Kept a second longer than the wait (the stored moment says when it ends): Django's
        # database cache rounds an expiry down to the whole second, so a 1 s entry could be
        # gone at once and the next try would not wait.
        cache.set(f"login:until:{subject}", time.time() + delay, timeout=delay + 1)
        kind, ident = subject.split(":", 1)
        logger.warning(
            "sign-in locked for %ds after %d failures of one %s",
            delay,
            failures,
            {"user": "account", "name": "unknown name", "address": "address"}[kind],
            # An account by its id; a name or an address only by a prefix of its digest.
            extra={"lockout": kind, "lockout_id": ident if kind == "user" else ident[:16]},
        )
    return failures


def record_failure(identifier: str) -> int:
    """Count a failed sign-in against the account ``identifier`` names; returns the count."""
    return _record(account_key(identifier), limit=settings.LOGIN_FAILURE_LIMIT)


def record_address_failure(address: str) -> int:
    """Count a failed sign-in against the client ``address``; returns the count."""
    return _record(_address_key(address), limit=settings.LOGIN_ADDRESS_FAILURE_LIMIT)


def clear(identifier: str) -> None:
    """Forget the failures and the wait of the account ``identifier`` names."""
    subject = account_key(identifier)
    cache.delete_many([f"login:failures:{subject}", f"login:until:{subject}"])
