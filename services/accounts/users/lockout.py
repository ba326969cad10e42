"""Failed-login lock per account, keyed by the identifier as typed (normalized).

Keying on the identifier, not the user, makes unknown and known accounts behave alike,
so the lock never tells whether an account exists. After ``LOGIN_FAILURE_LIMIT`` failures
within ``LOGIN_LOCKOUT_SECONDS`` the identifier is locked for ``LOGIN_LOCKOUT_SECONDS``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _key(kind: str, identifier: str) -> str:
    digest = hashlib.sha256(identifier.strip().lower().encode()).hexdigest()
    return f"login:{kind}:{digest}"


def locked_for(identifier: str) -> int:
    """Seconds left on the lock of ``identifier``, 0 when it is not locked."""
    until = cache.get(_key("lock", identifier))
    if until is None:
        return 0
    return max(0, math.ceil(float(until) - time.time()))


def record_failure(identifier: str) -> None:
    window = settings.LOGIN_LOCKOUT_SECONDS
    key = _key("failures", identifier)
    cache.add(key, 0, timeout=window)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        failures = 1
    if failures >= settings.LOGIN_FAILURE_LIMIT:
        cache.set(_key("lock", identifier), time.time() + window, timeout=window)
        logger.warning(
            "sign-in locked after %d failures for %ds",
            failures,
            window,
            extra={"identifier_hash": _key("lock", identifier).rsplit(":", 1)[-1][:16]},
        )
        cache.delete(key)


def clear(identifier: str) -> None:
    cache.delete_many([_key("failures", identifier), _key("lock", identifier)])
