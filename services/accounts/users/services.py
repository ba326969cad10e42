"""Writes: creating and changing users, signing in and out, passwords, proving an email
address and a phone number, inviting unknown senders of support mail, social-login codes
and links.

Every change to a user's contact card publishes its event through the outbox in the
same transaction (``users.events``). Views validate the input with serializers and call
these functions; the functions enforce the rules that do not depend on the input's shape.

Each function owns its transaction (``@transaction.atomic``, or one block when it must
catch a unique violation or keep a write while refusing): a refusal raised inside it
takes its writes back. The refusals whose write is their point (a counted wrong sign-in
or phone code, a used-up link) commit that write first and raise after the block.

Contacts are proved before they are used (``users.verification``): an email address
counts once a link mailed to it is opened by its account (or an admin set it), a phone
number once the code texted to it is typed back. A user's new email address waits in
``pending_email`` until then; a new phone number is unverified until then.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import update_last_login
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework import exceptions
from rest_framework.exceptions import APIException, Throttled
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from templated_mail.mail import BaseEmailMessage

from users import audit, events, lockout, sessions, throttles, verification
from users.models import (
    EMAIL_MAX_LENGTH,
    FULL_NAME_MAX_LENGTH,
    Language,
    PhoneCode,
    Role,
    SocialLinkPending,
    SocialLinkToken,
    SocialLoginCode,
    User,
    hash_code,
    normalize_email,
)
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
    email_verified: bool = True,
    phone_verified: bool = False,
) -> User:
    """A new user (``password=None`` makes one that can only sign in socially).

    An admin's word counts for the email (``email_verified`` defaults to true), never for
    the phone: unless ``phone_verified`` (the demo seed), a phone gets its code texted.
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
        phone_verified=bool(phone) and phone_verified,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
            events.user_registered(user)
            if user.phone and not user.phone_verified:
                user_phone_code_send(user=user, when_over_limit="skip")
    except IntegrityError as exc:
        raise _unique_violation(exc) from exc
    return user


@transaction.atomic
def user_register(**fields: Any) -> User:
    """Self-registration: always a client, whatever the caller sent, and the email
    unconfirmed until the link mailed to it is opened (signing in never needs it)."""
    fields["role"] = Role.CLIENT
    fields["email_verified"] = False
    fields["phone_verified"] = False
    user = user_create(**fields)
    user_email_confirmation_send(user=user, when_over_limit="skip")
    return user


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
    data = dict(data)
    asked_email = "email" in data
    new_email = normalize_email(data.pop("email", user.email))
    # One's own address changes only once the new one confirms it (the serializer has
    # checked the password); an admin's change to someone else's takes effect at once.
    own_email_change = (
        actor.pk == user.pk
        and asked_email
        and (new_email != user.email or bool(user.pending_email))
    )
    old_email = user.email
    if actor.pk != user.pk and new_email != user.email:
        user.email = new_email
        user.email_verified = True
        user.pending_email = ""
    for name, value in data.items():
        setattr(user, name, value)
    if user.phone != before["phone"]:
        user.phone_verified = False
    try:
        with transaction.atomic():
            user.save()
            if before["is_active"] and not user.is_active:
                user_revoke_tokens(user=user)
            events.user_changed(user, before=before)
            audit.user_changes(user=user, before=before, actor=actor)
            if own_email_change:
                user_email_change_request(user=user, email=new_email)
            elif user.email != old_email:
                _email_change_notice(user=user, old_email=old_email, by_admin=True)
            if user.phone != before["phone"] and user.phone:
                user_phone_code_send(user=user, when_over_limit="skip", new_number=True)
    except IntegrityError as exc:
        raise _unique_violation(exc) from exc
    return user


@transaction.atomic
def user_saved_elsewhere(
    *, user: User, before: dict[str, Any] | None, actor: User | None = None
) -> None:
    """Publish, revoke and audit for a change made outside these functions (the Django
    admin, by ``actor``).

    A changed phone number is unverified again and gets its code, as through the API.
    """
    if before is None:
        events.user_registered(user)
        return
    new_number = bool(user.phone) and user.phone != before["phone"]
    if user.phone != before["phone"] and user.phone_verified:
        user.phone_verified = False
        user.save(update_fields=["phone_verified"])
    if before["is_active"] and not user.is_active:
        user_revoke_tokens(user=user)
    events.user_changed(user, before=before)
    audit.user_changes(user=user, before=before, actor=actor)
    if new_number:
        user_phone_code_send(user=user, when_over_limit="skip", new_number=True)


# --- Proving the email address ----------------------------------------------------------


class EmailConfirmationEmail(BaseEmailMessage):  # type: ignore[misc]
    template_name = "users/email/email_confirmation.html"


class EmailChangeNoticeEmail(BaseEmailMessage):  # type: ignore[misc]
    template_name = "users/email/email_change_notice.html"


def _mail(
    message: type[BaseEmailMessage],
    *,
    to: str,
    language: str,
    context: dict[str, Any],
    in_background: bool = True,
) -> None:
    """Send ``message`` to ``to`` in ``language`` once the transaction commits."""

    def send() -> None:
        with translation.override(language):
            message(context=context).send(to=[to])

    _send_later(send, in_background=in_background)


def email_confirmation_url(user: User) -> str:
    """The link (to web) that confirms ``verification.email_to_confirm(user)``."""
    path = settings.EMAIL_CONFIRM_PATH.format(token=verification.email_token_make(user))
    return f"{settings.WEB_BASE_URL}{path}"


def _email_send_budget(user: User, *, when_over_limit: str) -> bool:
    """Spend one of the user's confirmation mails; False (or 429) when none is left."""
    wait = verification.send_allowance(
        f"email:{user.pk}", limit=settings.EMAIL_CONFIRM_SENDS_PER_HOUR, period=60 * 60
    )
    if not wait:
        return True
    if when_over_limit == "skip":
        logger.warning("confirmation email not sent: over the limit", extra={"user_id": user.pk})
        return False
    raise Throttled(
        wait=wait,
        detail=_("Too many confirmation emails. Try again in %(seconds)d seconds.")
        % {"seconds": wait},
    )


def user_email_confirmation_send(*, user: User, when_over_limit: str = "raise") -> None:
    """Mail a confirmation link to the address waiting for it: the pending one, else the
    current one while unconfirmed (``POST me/email/send-confirmation/``, registration).

    At most ``EMAIL_CONFIRM_SENDS_PER_HOUR`` a user: beyond it ``Throttled`` (429), or
    nothing with ``when_over_limit="skip"``. Nothing to confirm is a 400.
    """
    email = verification.email_to_confirm(user)
    if not email:
        raise ValidationError({"email": [_("Your email address is already confirmed.")]})
    if not _email_send_budget(user, when_over_limit=when_over_limit):
        return
    context = {
        "user": user,
        "email": email,
        "confirm_url": email_confirmation_url(user),
        "days": max(1, settings.EMAIL_CONFIRM_TIMEOUT // (24 * 60 * 60)),
        "change": bool(user.pending_email),
    }
    _mail(EmailConfirmationEmail, to=email, language=user.language, context=context)


def _email_change_notice(*, user: User, old_email: str, by_admin: bool) -> None:
    """Tell the old address about a change (a plain notice: nothing in it to act on)."""
    context = {
        "user": user,
        "new_email": user.pending_email or user.email,
        "by_admin": by_admin,
    }
    _mail(EmailChangeNoticeEmail, to=old_email, language=user.language, context=context)


@transaction.atomic
def user_email_change_request(*, user: User, email: str) -> User:
    """``user`` asks to use ``email``: it waits in ``pending_email`` until confirmed.

    The link goes to the new address and a notice to the current one. The answer is the
    same whether or not another account uses ``email`` (confirming re-checks that, so no
    one learns who has an account here). Asking for the current address again cancels a
    pending change. The caller has checked the password of an account that has one.
    """
    email = normalize_email(email)
    if email == user.email:
        if user.pending_email:
            user.pending_email = ""
            user.save(update_fields=["pending_email"])
        return user
    user.pending_email = email
    _email_send_budget(user, when_over_limit="raise")
    user.save(update_fields=["pending_email"])
    context = {
        "user": user,
        "email": email,
        "confirm_url": email_confirmation_url(user),
        "days": max(1, settings.EMAIL_CONFIRM_TIMEOUT // (24 * 60 * 60)),
        "change": True,
    }
    _mail(EmailConfirmationEmail, to=email, language=user.language, context=context)
    _email_change_notice(user=user, old_email=user.email, by_admin=False)
    return user


def user_email_confirm(*, user: User, token: str) -> User:
    """Confirm the address a link was mailed to; ``user`` is the one signed in.

    A pending address becomes the account's email; either way the email is confirmed.
    The link works once, for ``EMAIL_CONFIRM_TIMEOUT`` seconds, for its own account and
    for the address it was sent to (a link for an older pending address is refused).
    Publishes ``user.updated``.
    """
    parsed = verification.email_token_parse(token)
    if parsed is not None and parsed.user_id != user.pk:
        raise ValidationError(
            {
                "token": [
                    _(
                        "This link confirms the email of another account: sign in with "
                        "that account to use it."
                    )
                ]
            }
        )
    email = verification.email_to_confirm(user)
    if not email:
        raise ValidationError({"token": [_("Your email address is already confirmed.")]})
    if parsed is None or not verification.email_token_valid(user, parsed):
        raise ValidationError({"token": [_("This confirmation link is invalid or has expired.")]})
    taken = ValidationError(
        {"token": [_("Another account already uses this email address, so it cannot be yours.")]}
    )
    if User.objects.filter(email=email).exclude(pk=user.pk).exists():
        raise taken
    before = events.card(user)
    user.email = email
    user.pending_email = ""
    user.email_verified = True
    try:
        with transaction.atomic():
            user.save(update_fields=["email", "pending_email", "email_verified"])
            events.user_changed(user, before=before)
            audit.user_changes(user=user, before=before, actor=user)
    except IntegrityError as exc:
        raise taken from exc
    return user


# --- Proving the phone number -----------------------------------------------------------


def user_phone_code_send(
    *, user: User, when_over_limit: str = "raise", new_number: bool = False
) -> None:
    """Text a new 6-digit code to ``user.phone`` (``verification.phone_code`` through the
    outbox: notifier sends it); earlier codes stop working.

    At most one code per ``PHONE_CODE_RESEND_SECONDS`` (a ``new_number`` skips that
    wait) and ``PHONE_CODES_PER_DAY`` a user; beyond them ``Throttled`` (429), or nothing
    with ``when_over_limit="skip"``. No phone or a verified one is a 400.
    """
    if not user.phone:
        raise ValidationError({"phone": [_("Add a phone number first.")]})
    if user.phone_verified:
        raise ValidationError({"phone": [_("Your phone number is already verified.")]})
    now = timezone.now()
    sent = PhoneCode.objects.filter(user=user, created_at__gt=now - timedelta(days=1))
    wait = 0.0
    if sent.count() >= settings.PHONE_CODES_PER_DAY:
        oldest = sent.order_by("created_at").values_list("created_at", flat=True).first()
        wait = ((oldest or now) + timedelta(days=1) - now).total_seconds()
    elif not new_number:
        last = sent.order_by("-created_at").values_list("created_at", flat=True).first()
        if last is not None:
            resend_at = last + timedelta(seconds=settings.PHONE_CODE_RESEND_SECONDS)
            wait = (resend_at - now).total_seconds()
    if wait > 0:
        if when_over_limit == "skip":
            logger.warning("phone code not sent: over the limit", extra={"user_id": user.pk})
            return
        raise Throttled(
            wait=int(wait) + 1,
            detail=_("A code was sent a moment ago. Try again in %(seconds)d seconds.")
            % {"seconds": int(wait) + 1},
        )
    code = verification.phone_code_make()
    expires_at = now + timedelta(seconds=settings.PHONE_CODE_TTL)
    with transaction.atomic():
        PhoneCode.objects.filter(user=user, created_at__lt=now - timedelta(days=2)).delete()
        PhoneCode.objects.create(
            user=user,
            phone=user.phone,
            code_hash=verification.phone_code_hash(user_id=user.pk, phone=user.phone, code=code),
            created_at=now,
            expires_at=expires_at,
        )
        events.phone_code_requested(user, code=code, expires_at=expires_at)


class PhoneCodeRefused(exceptions.ValidationError):
    """400 on ``code``, raised after the transaction that counted the wrong try committed
    (the count is the point of the refusal)."""


def user_phone_verify(*, user: User, code: str) -> User:
    """Mark ``user.phone`` verified if ``code`` is the one texted to it last.

    Each wrong code counts; after ``PHONE_CODE_MAX_ATTEMPTS`` the code stops working and
    a new one is needed. A wrong, expired or used-up code raises ``PhoneCodeRefused``
    once the transaction that counted it committed. No phone,
    or one already verified, raises (400). Publishes ``user.updated``.
    """
    if not user.phone:
        raise ValidationError({"phone": [_("Add a phone number first.")]})
    if user.phone_verified:
        raise ValidationError({"code": [_("Your phone number is already verified.")]})
    problem = ""
    with transaction.atomic():
        entry = (
            PhoneCode.objects.select_for_update().filter(user=user).order_by("-created_at").first()
        )
        if entry is None or entry.phone != user.phone or entry.used_at is not None:
            problem = _("There is no code for this number. Ask for a new one.")
        elif entry.expires_at <= timezone.now():
            problem = _("This code has expired. Ask for a new one.")
        elif entry.attempts >= settings.PHONE_CODE_MAX_ATTEMPTS:
            problem = _("Too many wrong codes. Ask for a new one.")
        elif not constant_time_compare(
            entry.code_hash,
            verification.phone_code_hash(user_id=user.pk, phone=user.phone, code=code),
        ):
            PhoneCode.objects.filter(pk=entry.pk).update(attempts=F("attempts") + 1)
            left = settings.PHONE_CODE_MAX_ATTEMPTS - entry.attempts - 1
            problem = (
                _("The code is not correct.")
                if left > 0
                else _("The code is not correct. Ask for a new one.")
            )
        else:
            before = events.card(user)
            entry.used_at = timezone.now()
            entry.save(update_fields=["used_at"])
            user.phone_verified = True
            user.save(update_fields=["phone_verified"])
            events.user_changed(user, before=before)
    if problem:
        raise PhoneCodeRefused({"code": [problem]})
    return user


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
    with transaction.atomic():
        user = authenticate(request, username=identifier, password=password)
        if user is not None:
            update_last_login(User, user)
            return token_pair_for(user)
        # The backend has counted the account's failure (the Django admin's too). The
        # counts commit with this block: the refusal below must not take them back.
        if address:
            lockout.record_address_failure(address)
    raise lockout.SignInFailed(
        _("No active account found with the given credentials."), code="no_active_account"
    )


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


@transaction.atomic
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


def _send_later(send: Callable[[], None], *, in_background: bool = True) -> None:
    """Send after commit, off the request thread unless configured otherwise.

    The answer must take as long whether or not an email goes out, or its timing would
    tell who has an account. Work that answers no one (an event's handler) passes
    ``in_background=False`` and sends in its own thread, after the commit and before the
    event is acked: a process told to stop then finishes the mail instead of dropping it.
    """

    def run() -> None:
        try:
            send()
        except Exception:  # a mail server problem must not surface to anyone
            logger.exception("could not send an email")

    def run_in_thread() -> None:
        try:
            run()
        finally:
            # A connection this thread borrowed (a template's query) goes back to the
            # process's pool: a thread that ends holding one would keep its slot for good.
            connections.close_all()

    if in_background and getattr(settings, "EMAIL_SEND_IN_BACKGROUND", True):
        transaction.on_commit(lambda: threading.Thread(target=run_in_thread, daemon=True).start())
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


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set the password from a reset link or an invitation's link (``invitation_url``);
    the link stops working, sessions end.

    Reading the email proves the address, so the email counts as verified afterwards
    (``user.updated``).
    """
    invalid = ValidationError({"token": [_("This reset link is invalid or has expired.")]})
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError) as exc:
        raise invalid from exc
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not (
        default_token_generator.check_token(user, token)
        or verification.invitation_token_valid(user, token)
    ):
        raise invalid
    _check_new_password(new_password, user, "new_password")
    before = events.card(user)
    user.set_password(new_password)
    user.email_verified = True
    user.save(update_fields=["password", "email_verified"])
    events.user_changed(user, before=before)
    user_revoke_tokens(user=user)
    lockout.clear(user.username)  # the account's wait, whichever name was typed
    return user


# --- Invitations: unknown senders of support mail -----------------------------------------

#: Tries at a free username before giving the event back to be retried.
USERNAME_TRIES = 5
#: Room left in ``User.username`` for a number that makes a taken one unique.
USERNAME_BASE_LENGTH = 140
#: Characters a username may hold (``models.username_validator``), ASCII only here.
NOT_USERNAME_CHARACTERS = re.compile(r"[^a-z0-9._+-]")


class InvitationEmail(BaseEmailMessage):  # type: ignore[misc]
    template_name = "users/email/invitation.html"


def invitation_url(user: User) -> str:
    """The link (to web's password-reset page) that sets an invited client's first
    password; ``password_reset_confirm`` takes its token for ``INVITATION_TIMEOUT``."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = verification.invitation_token_make(user)
    path = settings.PASSWORD_RESET_CONFIRM_PATH.format(uid=uid, token=token)
    return f"{settings.WEB_BASE_URL}{path}"


def plain_name(text: str) -> str:
    """A display name from a mail header, as one line of printable text: control
    characters (NUL, CR, LF...) and lone surrogates become spaces, runs of spaces one,
    cut to fit ``User.full_name``."""
    printable = "".join(
        " " if unicodedata.category(char) in {"Cc", "Cs"} else char for char in text
    )
    return " ".join(printable.split())[:FULL_NAME_MAX_LENGTH]


def _username_base(email: str) -> str:
    """The part of ``email`` before the ``@`` as a username: accents dropped, ASCII
    letters, digits and ``. + - _`` kept; ``client`` when nothing is left."""
    local = email.rpartition("@")[0]
    ascii_text = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
    base = NOT_USERNAME_CHARACTERS.sub("", ascii_text.lower())[:USERNAME_BASE_LENGTH]
    return base or "client"


def _free_usernames(base: str) -> Iterator[str]:
    """``base``, ``base2``, ``base3``...: those no user has (usernames ignore case)."""
    taken = {
        name.lower()
        for name in User.objects.filter(username__istartswith=base).values_list(
            "username", flat=True
        )
    }
    candidates = itertools.chain([base], (f"{base}{n}" for n in itertools.count(2)))
    return (name for name in candidates if name not in taken)


def _address_usable(email: str) -> bool:
    try:
        validate_email(email)
    except ValidationError:
        return False
    return len(email) <= EMAIL_MAX_LENGTH


@transaction.atomic
def user_invite(*, email: str, name: str, language: str) -> User | None:
    """Make a client of someone unknown who wrote to the support address
    (``user.invite_requested`` from tickets); the new user, or ``None`` when nothing
    was done.

    The client has no usable password and an unconfirmed email; ``user.registered``
    announces them (tickets then opens the messages it held). One mail, in ``language``,
    after commit, says their message was received and links to setting a password, which
    also confirms the address. An address some account already uses (any case), or one
    that is not an address, changes nothing and mails no one: each address is invited
    once, and only while no account has it.
    """
    address = normalize_email(email)
    if not _address_usable(address):
        logger.warning("invitation refused: the sender's address is not a valid email")
        return None
    existing = user_by_email(address)
    if existing is not None:
        logger.info("invitation not needed: user %s already has that address", existing.pk)
        return None
    language = language if language in Language.values else Language.SPANISH
    for username in itertools.islice(_free_usernames(_username_base(address)), USERNAME_TRIES):
        try:
            user = user_create(
                username=username,
                email=address,
                password=None,
                full_name=plain_name(name),
                language=language,
                email_verified=False,
            )
        except ValidationError as exc:
            if "email" in exc.message_dict:  # invited or registered at this very moment
                logger.info("invitation not needed: the address was taken meanwhile")
                return None
            continue  # that username was taken meanwhile: the next one
        break
    else:
        raise RuntimeError(f"no free username after {USERNAME_TRIES} tries")
    context = {
        "user": user,
        "set_password_url": invitation_url(user),
        "days": max(1, settings.INVITATION_TIMEOUT // (24 * 60 * 60)),
    }
    _mail(InvitationEmail, to=user.email, language=language, context=context, in_background=False)
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


def social_login_may_link(*, user: User, provider_verified: bool) -> bool:
    """Whether a social login whose email matches ``user`` may join ``user``'s account.

    Only when both sides proved the address: the provider verified it and the account
    confirmed it (a link mailed to it, a reset, an admin). An account whose address was
    never proved may belong to someone who typed another person's email, or to its real
    owner with a squatter's password: it is left alone (no silent link, no password
    wiped), and the inbox's owner takes it over with a password reset. Staff accounts are
    never linked this way: technicians and admins link from their profile while signed in.
    """
    if not provider_verified or not user.email_verified:
        return False
    return not (user.is_staff_member or user.is_staff or user.is_superuser)


@transaction.atomic
def social_link_start(*, user: User, provider: str) -> str:
    """A single-use token that starts linking ``provider`` to ``user`` in a browser,
    valid ``SOCIAL_LINK_TOKEN_TTL`` seconds (``POST me/social/link/``)."""
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    SocialLinkToken.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
    SocialLinkToken.objects.create(
        token_hash=hash_code(token),
        user=user,
        provider=provider,
        expires_at=now + timedelta(seconds=settings.SOCIAL_LINK_TOKEN_TTL),
    )
    return token


def social_link_begin(*, token: str) -> SocialLinkToken | None:
    """Use a link token: its row (with the user), or None if unknown, used, expired or
    its user is inactive. It never works again."""
    with transaction.atomic():
        entry = (
            SocialLinkToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(token_hash=hash_code(token))
            .first()
        )
        if entry is None or entry.used_at is not None or entry.expires_at <= timezone.now():
            return None
        entry.used_at = timezone.now()
        entry.save(update_fields=["used_at"])
    return entry if entry.user.is_active else None


@transaction.atomic
def social_link_pending_issue(
    *, user: User, provider: str, uid: str, extra_data: dict[str, Any], nonce: str
) -> str:
    """Keep the provider login ``(provider, uid)`` waiting to be linked to ``user`` (who
    started the link, with web's ``nonce``): a single-use code, valid
    ``SOCIAL_LINK_CODE_TTL`` seconds, for ``me/social/link/confirm/``."""
    now = timezone.now()
    code = secrets.token_urlsafe(32)
    SocialLinkPending.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
    SocialLinkPending.objects.create(
        code_hash=hash_code(code),
        nonce_hash=hash_code(nonce),
        user=user,
        provider=provider,
        uid=uid,
        extra_data=extra_data,
        expires_at=now + timedelta(seconds=settings.SOCIAL_LINK_CODE_TTL),
    )
    return code


class SocialLinkRefused(APIException):
    """A pending link that was not made; ``code`` says why. The pending link stays used
    up (the point of the refusal: a code tried once, by anyone, never works again), so
    ``social_link_confirm`` raises it after the block that used the link up."""

    status_code = 400
    default_code = "failed"


def social_link_confirm(*, user: User, code: str, nonce: str) -> str:
    """Link the provider login waiting under ``code`` to ``user``; its provider's id.

    Only the user who started the link, from the browser that started it (``nonce``, web's
    session's), may finish it: a link URL handed to someone else (their browser, their
    provider login, their signed-in session) links nothing to anyone. The pending link is
    used up whatever the answer. A provider login that belongs to another user is never
    moved. Nothing but the provider login is added to the account.
    """
    with transaction.atomic():
        entry = (
            SocialLinkPending.objects.select_for_update(of=("self",))
            .filter(code_hash=hash_code(code))
            .first()
        )
        if entry is None or entry.used_at is not None or entry.expires_at <= timezone.now():
            raise SocialLinkRefused(
                _("This link request is invalid or has expired. Please start again."),
                code="expired",
            )
        entry.used_at = timezone.now()
        entry.save(update_fields=["used_at"])
    if entry.user_id != user.pk:
        logger.warning(
            "social link refused: started by user %s, confirmed by user %s",
            entry.user_id,
            user.pk,
        )
        raise SocialLinkRefused(
            _("This link was started from another account, so nothing was linked."),
            code="not_yours",
        )
    if not nonce or not constant_time_compare(entry.nonce_hash, hash_code(nonce)):
        raise SocialLinkRefused(
            _("This link was not started in this browser, so nothing was linked."),
            code="other_browser",
        )
    already_linked = SocialLinkRefused(
        _("That provider account is already linked to another account."),
        code="already_linked",
    )
    owner = (
        SocialAccount.objects.filter(provider=entry.provider, uid=entry.uid)
        .values_list("user_id", flat=True)
        .first()
    )
    if owner is not None and owner != user.pk:
        raise already_linked
    if owner is None:
        try:
            with transaction.atomic():
                SocialAccount.objects.create(
                    user=user, provider=entry.provider, uid=entry.uid, extra_data=entry.extra_data
                )
        except IntegrityError:  # linked to someone in the meantime
            raise already_linked from None
    return entry.provider


@transaction.atomic
def social_login_code_issue(*, user: User, nonce: str) -> str:
    """A single-use code for ``user``, valid ``SOCIAL_LOGIN_CODE_TTL`` seconds, that only
    ``nonce`` (web's, from the start of the flow) can exchange."""
    now = timezone.now()
    code = secrets.token_urlsafe(32)
    SocialLoginCode.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
    SocialLoginCode.objects.create(
        code_hash=hash_code(code),
        nonce_hash=hash_code(nonce),
        user=user,
        expires_at=now + timedelta(seconds=settings.SOCIAL_LOGIN_CODE_TTL),
    )
    return code


def social_login_code_exchange(*, code: str, nonce: str) -> TokenPair:
    """The token pair for a code from the social-login flow; the code then stops working.

    ``nonce`` must be the one the flow started with (web keeps it in the browser's
    session): a code carried to another browser is refused like an unknown one.
    """
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
        if not nonce or not constant_time_compare(entry.nonce_hash, hash_code(nonce)):
            raise invalid
        entry.used_at = timezone.now()
        entry.save(update_fields=["used_at"])
        if not entry.user.is_active:
            raise invalid
        update_last_login(User, entry.user)
        return token_pair_for(entry.user)
