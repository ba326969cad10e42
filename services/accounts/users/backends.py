"""Password authentication by username or email, with a lock after repeated failures.

Used by the API's token endpoint and by the Django admin login alike, so both share the
failed-login lock. An identifier with "@" is an email (usernames cannot contain one).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from users import lockout
from users.models import User
from users.selectors import user_by_identifier


class UsernameOrEmailBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        identifier = username if username is not None else kwargs.get("email")
        if not identifier or password is None:
            return None
        if lockout.locked_for(identifier):
            # Stops every backend: a locked account is not tried, even with the right password.
            raise PermissionDenied
        user = user_by_identifier(identifier)
        if user is None:
            # The same work as a real check, so timing does not tell whether the user exists.
            User().set_password(password)
            lockout.record_failure(identifier)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            lockout.clear(identifier)
            return user
        lockout.record_failure(identifier)
        return None
