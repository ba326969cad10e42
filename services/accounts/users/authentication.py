"""How accounts' own API knows the caller: the access token, checked against the user table.

Other services trust the token alone (stateless). Accounts holds the users, so it reads
the caller's row: a deactivated user is refused at once and a role change applies at once.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.tokens import Token

from users.models import User


class AccountsJWTAuthentication(JWTAuthentication):
    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        user_id = validated_token.get("user_id")
        try:
            user = User.objects.get(pk=int(user_id))
        except (TypeError, ValueError) as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        except User.DoesNotExist as exc:
            raise AuthenticationFailed(_("User not found"), code="user_not_found") from exc
        if not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        return user
