"""API keys: what an integration trades for the usual short-lived access token.

An admin creates a key (``api_key_create``) and sees it once: ``sdk_<prefix>_<secret>``,
where ``prefix`` is 12 random hex digits stored in the clear (it finds the row by a unique
index and names the key in lists and logs) and ``secret`` 32 random bytes (256 bits).

Only a SHA-256 of the whole key is stored, compared in constant time. A plain SHA-256 and
not a keyed or a slow hash: slow hashes (and salts) are there for guessable secrets such as
passwords; a 256-bit random key cannot be guessed offline from its digest, however fast the
hash, and each exchange costs one hash instead of a bcrypt's 100 ms. An HMAC keyed with a
server-side secret would add little for such a key and tie every key to that secret
(rotating ``SECRET_KEY`` would revoke them all). The same choice as the other secrets of
this service (``models.hash_code``) and as GitHub's tokens.

``api_key_exchange`` trades a key for an access token (``users.tokens``): ``user_id``
``apikey:<id>``, the key's role, ``scope`` ``read`` for a read-only key (every service then
refuses writes, ``servidesk_shared.auth``). A revoked or expired key is refused (401); a
token already issued runs out on its own (``ACCESS_TOKEN_LIFETIME``, and never past the
key's expiry). Every exchange, issued or refused, is recorded (``ApiKeyExchange``); wrong
keys count against the caller's address like wrong passwords (``users.lockout``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from users import audit, lockout, throttles
from users.models import ApiKey, ApiKeyExchange, AuditEntry, Role, User
from users.tokens import access_token_for_api_key

#: Every key starts with this, so a leaked one is recognisable (secret scanners, logs).
KEY_PREFIX: Final = "sdk_"
#: The roles a key may act with: the staff's; no client keys, no role of their own.
KEY_ROLES: Final = (Role.TECHNICIAN.value, Role.ADMIN.value)
_KEY_RE: Final = re.compile(r"sdk_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class CreatedKey:
    """A new key's row and the key itself, which exists nowhere else after this answer."""

    api_key: ApiKey
    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _parse(key: str) -> str | None:
    """The prefix of a well-formed key, else ``None``."""
    match = _KEY_RE.fullmatch(key)
    return match["prefix"] if match else None


def api_key_create(
    *,
    name: str,
    role: str,
    created_by: User,
    read_only: bool = False,
    expires_at: datetime | None = None,
) -> CreatedKey:
    """A new key for an integration; the answer is the only place the key is ever shown."""
    if role not in KEY_ROLES:
        raise ValidationError({"role": [_("An API key's role is technician or admin.")]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": [_("Choose a moment in the future.")]})
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            name=name,
            role=role,
            read_only=read_only,
            expires_at=expires_at,
            prefix=prefix,
            key_hash=hash_key(key),
            created_by=created_by,
        )
        audit.api_key_event(
            api_key=api_key, action=AuditEntry.Action.API_KEY_CREATED, actor=created_by
        )
    return CreatedKey(api_key=api_key, key=key)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None = None) -> None:
    """The key stops being exchanged at once; its tokens already issued run out on their own."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit.api_key_event(api_key=api_key, action=AuditEntry.Action.API_KEY_REVOKED, actor=actor)


def _refusal(outcome: str) -> AuthenticationFailed:
    if outcome == ApiKeyExchange.Outcome.REVOKED:
        return AuthenticationFailed(_("This API key has been revoked."), code="api_key_revoked")
    if outcome == ApiKeyExchange.Outcome.EXPIRED:
        return AuthenticationFailed(_("This API key has expired."), code="api_key_expired")
    return AuthenticationFailed(_("This API key is not valid."), code="api_key_invalid")


def _outcome(api_key: ApiKey | None, key: str) -> str:
    # Hash and compare even without a row, so an unknown prefix costs what a wrong key does.
    stored = api_key.key_hash if api_key is not None else hash_key("")
    if not constant_time_compare(hash_key(key), stored) or api_key is None:
        return ApiKeyExchange.Outcome.INVALID
    if api_key.revoked_at is not None:
        return ApiKeyExchange.Outcome.REVOKED
    if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
        return ApiKeyExchange.Outcome.EXPIRED
    return ApiKeyExchange.Outcome.ISSUED


def api_key_exchange(*, key: str, request: HttpRequest | None) -> str:
    """An access token for a valid key (its use recorded); 401 for any other, 429 while
    the caller's address waits after too many wrong keys or passwords."""
    address = throttles.client_address(request) if request is not None else None
    if address:
        wait = lockout.address_locked_for(address)
        if wait:
            raise Throttled(
                wait=wait,
                detail=ngettext(
                    "Too many failed sign-in attempts. Wait %(seconds)d second and try again.",
                    "Too many failed sign-in attempts. Wait %(seconds)d seconds and try again.",
                    wait,
                )
                % {"seconds": wait},
            )
    prefix = _parse(key)
    with transaction.atomic():
        api_key = (
            ApiKey.objects.select_for_update().filter(prefix=prefix).first() if prefix else None
        )
        outcome = _outcome(api_key, key)
        now = timezone.now()
        ApiKeyExchange.objects.create(
            api_key=api_key,
            prefix=prefix or "",
            at=now,
            address=address,
            outcome=outcome,
        )
        if api_key is not None:
            audit.api_key_event(
                api_key=api_key, action=AuditEntry.Action.API_KEY_EXCHANGED, outcome=outcome
            )
        if outcome == ApiKeyExchange.Outcome.ISSUED and api_key is not None:
            api_key.last_used_at = now
            api_key.save(update_fields=["last_used_at"])
            return access_token_for_api_key(api_key)
        if outcome == ApiKeyExchange.Outcome.INVALID and address:
            lockout.record_address_failure(address)
    # The record (and the count) commit first: the refusal must not take them back.
    raise _refusal(outcome)
