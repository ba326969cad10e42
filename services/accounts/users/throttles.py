"""Abuse limits on the public endpoints: per client address and per account.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``THROTTLE_<SCOPE>`` in the
environment) and are read on every request, so tests can change them. A throttled call
answers 429 with ``Retry-After`` in the common error shape.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle
from rest_framework.views import APIView


def client_address(request: HttpRequest) -> str:
    """The caller's address as every throttle here sees it.

    Behind nginx that is the last address nginx appended to ``X-Forwarded-For``
    (``NUM_PROXIES``), never one the caller wrote itself; without a proxy, the peer.
    """
    return BaseThrottle().get_ident(request if isinstance(request, Request) else Request(request))


class _ScopedThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        rate: str | None = rates.get(str(self.scope))
        return rate


class IPThrottle(_ScopedThrottle):
    """Per client address (nginx's ``X-Forwarded-For``, see ``NUM_PROXIES``)."""

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AccountThrottle(_ScopedThrottle):
    """Per account named in the body (``field``), whether or not the account exists."""

    field = "username"

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        data: Any = request.data
        value = data.get(self.field) if hasattr(data, "get") else None
        if not isinstance(value, str) or not value.strip():
            return None
        ident = hashlib.sha256(value.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class LoginIPThrottle(IPThrottle):
    scope = "login_ip"


class LoginAccountThrottle(AccountThrottle):
    scope = "login_account"
    field = "username"


class RegisterIPThrottle(IPThrottle):
    scope = "register_ip"


class RegisterAccountThrottle(AccountThrottle):
    scope = "register_account"
    field = "email"


class PasswordResetIPThrottle(IPThrottle):
    scope = "password_reset_ip"


class PasswordResetAccountThrottle(AccountThrottle):
    scope = "password_reset_account"
    field = "email"


class RefreshIPThrottle(IPThrottle):
    scope = "refresh_ip"


class SocialExchangeIPThrottle(IPThrottle):
    scope = "social_exchange_ip"
