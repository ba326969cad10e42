"""How accounts' own API knows the caller: the access token, checked against the user table.

Other services trust the token alone (stateless). Accounts holds the users, so it reads
the caller's row: a deactivated user is refused at once and a role change applies at once.
An API key's token (``user_id`` ``apikey:<id>``) is checked against the key's row the same
way: revoked or expired, refused at once. Its caller is a ``ServideskTokenUser``, not a
``User``: the endpoints that act on a person's own account refuse it (``api.views``).
A read-only token may only read, here as everywhere (``ScopedAuthenticationMixin``).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.tokens import Token

from servidesk_shared.auth import (
    API_KEY_USER_PREFIX,
    ScopedAuthenticationMixin,
    ServideskTokenUser,
    is_api_key_id,
)
from users.models import ApiKey, User


def api_key_in_force(user_id: str) -> bool:
    """Whether the key a token's ``user_id`` (``apikey:<id>``) names is neither revoked
    nor expired (``users.api_keys``)."""
    key_id = user_id.removeprefix(API_KEY_USER_PREFIX)
    if not (key_id.isascii() and key_id.isdigit()) or len(key_id) > 18:
        return False
    return (
        ApiKey.objects.filter(pk=int(key_id), revoked_at__isnull=True)
        .exclude(expires_at__lte=timezone.now())
        .exists()
    )


class AccountsJWTAuthentication(ScopedAuthenticationMixin, JWTAuthentication):
    def get_user(self, validated_token: Token) -> Any:
        user_id = validated_token.get("user_id")
        if is_api_key_id(user_id):
            if not api_key_in_force(str(user_id)):
                raise AuthenticationFailed(
                    _("This API key has been revoked or has expired."), code="api_key_revoked"
                )
            return ServideskTokenUser(validated_token)
        try:
            user = User.objects.get(pk=int(user_id))
        except (TypeError, ValueError) as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        except User.DoesNotExist as exc:
            raise AuthenticationFailed(_("User not found"), code="user_not_found") from exc
        if not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        return user
