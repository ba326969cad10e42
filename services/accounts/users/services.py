"""Writes: creating and changing users, signing in and out, passwords, social-login codes.

Every change to a user's contact card publishes its event through the outbox in the
same transaction (``users.events``). Views validate the input with serializers and call
these functions; the functions enforce the rules that do not depend on the input's shape.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import update_last_login
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework.exceptions import Throttled
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from templated_mail.mail import BaseEmailMessage

from users import events, lockout, sessions, throttles
from users.models import Language, Role, SocialLoginCode, User, hash_code, normalize_email
from users.selectors import user_by_email
from users.tokens import TokenPair, token_pair_for

logger = logging.getLogger(__name__)

#: Fields of the contact card a user edits on their own profile.
PROFILE_FIELDS = frozenset(
    {"full_name", "email", "phone", "language", "notify_email", "notify_sms"}
)
#: What an admin may change on any user (``users/<id>/``).
ADMIN_FIELDS = PROFILE_FIELDS | {"role", "is_active"}


def _unique_violation(exc: IntegrityError) -> ValidationError:
    """A race past the serializers' uniqueness checks, as the same per-field message."""
    text = str(exc)
    if "email" in text:
        return ValidationError({"email": [_("A user with that email address already exists.")]})
    return ValidationError({"username": [_("A user with that username already exists.")]})


# --- Users ------------------------------------------------------------------------------


def user_create(
    *,
    username: str,
    email: str,
    password: str | None,
    role: str = Role.CLIENT,
    full_name: str = "",
    phone: str = "",
    language: str = Language.SPANISH,
    notify_email: bool = True,
    notify_sms: bool = False,
    email_verified: bool = False,
) -> User:
    """A new user (``password=None`` makes one that can only sign in socially).

    Publishes ``user.registered``.
    """
    user = User(
        username=username,
        email=normalize_email(email),
        role=role,
        full_name=full_name,
        phone=phone,
        language=language,
        notify_email=notify_email,
        notify_sms=notify_sms,
        email_verified=email_verified,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            events.user_registered(user)
    except IntegrityError as exc:
        raise _unique_violation(exc) from exc
    return user


def user_register(**fields: Any) -> User:
    """Self-registration: always a client, whatever the caller sent."""
    fields["role"] = Role.CLIENT
    return user_create(**fields)


def user_update(*, user: User, data: dict[str, Any], actor: User) -> User:
    """Change ``data`` on ``user``; ``actor`` is the user themself or an admin.

    A user edits their profile; an admin also changes roles and deactivates, but never
    their own role or active flag (so there is always an active admin). Deactivation
    revokes the user's refresh tokens. Publishes ``user.updated`` or ``user.deactivated``
    when the contact card changed.
    """
    allowed = ADMIN_FIELDS if actor.role == Role.ADMIN and actor.is_active else PROFILE_FIELDS
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({name: [_("You cannot change this field.")] for name in unknown})
    if actor.pk == user.pk:
        if "role" in data and data["role"] != user.role:
            raise ValidationError({"role": [_("You cannot change your own role.")]})
        if "is_active" in data and not data["is_active"]:
            raise ValidationError({"is_active": [_("You cannot deactivate your own account.")]})

    before = events.card(user)
    if "email" in data:
        data = {**data, "email": normalize_email(data["email"])}
    for name, value in data.items():
        setattr(user, name, value)
    if user.email != before["email"]:
        user.email_verified = False
    try:
        with transaction.atomic():
            user.save()
            if before["is_active"] and not user.is_active:
                user_revoke_tokens(user=user)
            events.user_changed(user, before=before)
    except IntegrityError as exc:
        raise _unique_violation(exc) from exc
    return user


def user_saved_elsewhere(*, user: User, before: dict[str, Any] | None) -> None:
    """Publish and revoke for a change made outside these functions (the Django admin)."""
    if before is None:
        events.user_registered(user)
        return
    if before["is_active"] and not user.is_active:
        user_revoke_tokens(user=user)
    events.user_changed(user, before=before)


# --- Tokens -----------------------------------------------------------------------------


def auth_login(*, identifier: str, password: str, request: HttpRequest | None) -> TokenPair:
    """The token pair for a correct username-or-email and password: a new session.

    The answer never says whether the account exists. Failures count per account (its
    username and email alike) and per client address (``users.lockout``): after a few,
    each try must wait twice as long as the last, up to ``LOGIN_LOCKOUT_SECONDS``; while
    it waits, 429 with ``Retry-After``, even with the right password. A password reset
    lifts the account's wait.
    """
    address = throttles.client_address(request) if request is not None else None
    wait = lockout.locked_for(identifier, address=address)
    if wait:
        raise Throttled(
            wait=wait,
            detail=ngettext(
                "Too many failed sign-in attempts. Wait %(seconds)d second and try again: "
                "until then even the correct password is refused. "
                "Resetting your password lifts the wait.",
                "Too many failed sign-in attempts. Wait %(seconds)d seconds and try again: "
                "until then even the correct password is refused. "
                "Resetting your password lifts the wait.",
                wait,
            )
            % {"seconds": wait},
        )
    user = authenticate(request, username=identifier, password=password)
    if user is None:
        # The backend has counted the account's failure (the Django admin's too).
        if address:
            lockout.record_address_failure(address)
        raise lockout.SignInFailed(
            _("No active account found with the given credentials."), code="no_active_account"
        )
    with transaction.atomic():
        update_last_login(User, user)
        return token_pair_for(user)


def auth_refresh(*, refresh: str) -> TokenPair:
    """The next pair of ``refresh``'s session, with the user's current role and name.

    ``users.sessions`` holds the rules: rotation, a few seconds' grace for a second tab,
    reuse of a rotated token ends the whole session, an absolute lifetime. 401 when the
    token, its session or its user is no longer valid.
    """
    return sessions.session_refresh(refresh=refresh)


def auth_logout(*, refresh: str) -> None:
    """End ``refresh``'s session; its access tokens run out on their own (15 minutes)."""
    sessions.session_end(refresh=refresh)


def user_revoke_tokens(*, user: User) -> int:
    """End every session of ``user``; returns how many refresh tokens were in force."""
    return sessions.sessions_end_all(user=user)


# --- Passwords --------------------------------------------------------------------------


def _check_new_password(password: str, user: User, field: str) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc


def user_change_password(*, user: User, current_password: str, new_password: str) -> TokenPair:
    """Set a new password; every other session ends. Returns a fresh pair for this one.

    A user who only ever signed in socially has no password yet and needs no current one.
    """
    if user.has_usable_password() and not user.check_password(current_password):
        raise ValidationError({"current_password": [_("The current password is not correct.")]})
    _check_new_password(new_password, user, "new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_revoke_tokens(user=user)
    return token_pair_for(user)


class PasswordResetEmail(BaseEmailMessage):  # type: ignore[misc]
    template_name = "users/email/password_reset.html"


def _send_later(send: Callable[[], None]) -> None:
    """Send after commit, off the request thread unless configured otherwise.

    The answer must take as long whether or not an email goes out, or its timing would
    tell who has an account.
    """

    def run() -> None:
        try:
            send()
        except Exception:  # a mail server problem must not surface to anyone
            logger.exception("could not send the password reset email")

    if getattr(settings, "EMAIL_SEND_IN_BACKGROUND", True):
        transaction.on_commit(lambda: threading.Thread(target=run, daemon=True).start())
    else:
        transaction.on_commit(run)


def password_reset_url(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = settings.PASSWORD_RESET_CONFIRM_PATH.format(uid=uid, token=token)
    return f"{settings.WEB_BASE_URL}{path}"


def password_reset_request(*, email: str) -> None:
    """Email a reset link to the active account with ``email``, if there is one.

    The caller answers the same either way. The link leads to the web UI, which calls
    ``password_reset_confirm``; it works once and expires after ``PASSWORD_RESET_TIMEOUT``.
    """
    user = user_by_email(email)
    if user is None or not user.is_active:
        return
    url = password_reset_url(user)
    language = user.language
    recipient = user.email
    context = {"user": user, "reset_url": url, "hours": settings.PASSWORD_RESET_TIMEOUT // 3600}

    def send() -> None:
        with translation.override(language):
            PasswordResetEmail(context=context).send(to=[recipient])

    _send_later(send)


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set the password from a reset link; the link stops working, sessions end.

    Reading the email proves the address, so the email counts as verified afterwards.
    """
    invalid = ValidationError({"token": [_("This reset link is invalid or has expired.")]})
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError) as exc:
        raise invalid from exc
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, token):
        raise invalid
    _check_new_password(new_password, user, "new_password")
    user.set_password(new_password)
    user.email_verified = True
    user.save(update_fields=["password", "email_verified"])
    user_revoke_tokens(user=user)
    lockout.clear(user.username)  # the account's wait, whichever name was typed
    return user


# --- Social login -----------------------------------------------------------------------


def social_login_user_for(emails: Iterable[tuple[str, bool]]) -> tuple[User | None, bool]:
    """The account a provider's emails point at: ``(user, verified_match)``.

    Only a verified email may sign into an existing account; an unverified one that
    matches is reported (``verified_match=False``) so the flow can refuse it.
    """
    unverified_match: User | None = None
    for email, verified in emails:
        user = user_by_email(email)
        if user is None:
            continue
        if verified:
            return user, True
        unverified_match = unverified_match or user
    return unverified_match, False


def social_login_connect(*, user: User) -> None:
    """A provider has just proved ``user``'s email: trust it from now on.

    If the address was never proved before, whoever set the password may not own the
    inbox (someone can register with another person's email and wait). So the password
    is wiped and every refresh token revoked, leaving the account to the inbox's owner;
    they can set a password again with a reset.
    """
    if user.email_verified:
        return
    if user.has_usable_password():
        user.set_unusable_password()
    user.email_verified = True
    user.save(update_fields=["password", "email_verified"])
    user_revoke_tokens(user=user)


def social_login_code_issue(*, user: User) -> str:
    """A single-use code for ``user``, valid ``SOCIAL_LOGIN_CODE_TTL`` seconds."""
    now = timezone.now()
    code = secrets.token_urlsafe(32)
    SocialLoginCode.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
    SocialLoginCode.objects.create(
        code_hash=hash_code(code),
        user=user,
        expires_at=now + timedelta(seconds=settings.SOCIAL_LOGIN_CODE_TTL),
    )
    return code


def social_login_code_exchange(*, code: str) -> TokenPair:
    """The token pair for a code from the social-login flow; the code then stops working."""
    invalid = AuthenticationFailed(
        _("This sign-in code is invalid or has expired."), code="invalid_code"
    )
    with transaction.atomic():
        entry = (
            SocialLoginCode.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(code_hash=hash_code(code))
            .first()
        )
        if entry is None or entry.used_at is not None or entry.expires_at <= timezone.now():
            raise invalid
        entry.used_at = timezone.now()
        entry.save(update_fields=["used_at"])
        if not entry.user.is_active:
            raise invalid
        update_last_login(User, entry.user)
        return token_pair_for(entry.user)
