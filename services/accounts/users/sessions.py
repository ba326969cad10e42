"""Sign-in sessions: the rules of refresh-token families (rotation, reuse, lifetime, end).

Every sign-in starts a family (``RefreshTokenFamily``, ``users.tokens.token_pair_for``);
each refresh rotates it: the presented token is blacklisted and its child becomes the
family's current token. Refresh tokens name their family in the ``fam`` claim.

Presenting a family's token to ``session_refresh``:

* the current one: rotated, a new pair (the user's current role and name);
* the one rotated just before, within ``JWT_REFRESH_REUSE_GRACE_SECONDS`` of its
  rotation: the family's current pair again (the same refresh token the first caller got,
  and a new access token), because two tabs or two requests of one browser refreshing at
  once are no theft. Both holders then share one chain, so if one of them was a thief,
  the next rotation makes the other's token a reuse and the family ends;
* any other (an older one, or the previous one after the grace): theft. The whole family
  is revoked, the current token too, whoever holds it, and a warning is logged with the
  user id;
* a family revoked (sign-out, theft, deactivation, password change) or past its absolute
  lifetime (``JWT_SESSION_MAX_DAYS`` after the sign-in): 401, sign in again.

The family's row is locked for the whole decision, so concurrent refreshes of one family
are decided one after another. A revocation for theft commits first, then is refused
with ``SessionEnded``: the revocation stands although the answer is a 401.

Refresh tokens issued before families existed (no ``fam`` claim) join a family on their
first refresh.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from users.models import RefreshTokenFamily, User
from users.tokens import (
    FAMILY_CLAIM,
    PresentedRefreshToken,
    TokenPair,
    current_pair,
    rotated_pair,
)

logger = logging.getLogger(__name__)


class SessionEnded(InvalidToken):
    """401 for a refresh that has just ended its session (a rotated token used again).

    The revocation must outlive the refusal: ``session_refresh`` raises this only after
    the transaction that revoked the session committed.
    """


def _presented(raw: str) -> PresentedRefreshToken:
    try:
        # simplejwt takes the encoded token as it came (typed as a Token in its stubs).
        return PresentedRefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise InvalidToken(str(exc.args[0])) from exc


def _invalid() -> InvalidToken:
    return InvalidToken(_("Token is invalid"))


def _revoked() -> InvalidToken:
    return InvalidToken(_("Token is blacklisted"))


def _locked_family(token: PresentedRefreshToken) -> RefreshTokenFamily | None:
    """The family of ``token``, its row locked; None when the token belongs to none."""
    families = RefreshTokenFamily.objects.select_for_update(of=("self",)).select_related("user")
    jti = str(token["jti"])
    family_id = token.get(FAMILY_CLAIM)
    user_id = str(token.get("user_id", ""))
    if family_id is not None:
        if not (str(family_id).isdigit() and user_id.isdigit()):
            return None
        return families.filter(pk=int(family_id), user_id=int(user_id)).first()
    return _adopted(jti)


def _adopted(jti: str) -> RefreshTokenFamily | None:
    """The family of a token from before families: found by its jti, or started for it."""
    outstanding = OutstandingToken.objects.select_for_update(of=("self",)).filter(jti=jti).first()
    if outstanding is None or outstanding.user_id is None:
        return None
    locked = RefreshTokenFamily.objects.select_for_update(of=("self",)).select_related("user")
    family = locked.filter(Q(current_jti=jti) | Q(previous_jti=jti)).first()
    if family is not None:
        return family
    if BlacklistedToken.objects.filter(token=outstanding).exists():
        return None
    signed_in = outstanding.created_at or timezone.now()
    family = RefreshTokenFamily.objects.create(
        user_id=outstanding.user_id,
        created_at=signed_in,
        expires_at=signed_in + timedelta(days=settings.JWT_SESSION_MAX_DAYS),
        current_jti=jti,
    )
    return locked.get(pk=family.pk)


def _revoke(family: RefreshTokenFamily) -> None:
    """End ``family``: no member refreshes again (its current token is blacklisted too)."""
    family.revoked_at = timezone.now()
    family.save(update_fields=["revoked_at"])
    current = OutstandingToken.objects.filter(jti=family.current_jti).first()
    if current is not None:
        BlacklistedToken.objects.get_or_create(token=current)


def _within_grace(family: RefreshTokenFamily, jti: str) -> bool:
    if not family.previous_jti or jti != family.previous_jti or family.rotated_at is None:
        return False
    grace = timedelta(seconds=settings.JWT_REFRESH_REUSE_GRACE_SECONDS)
    return timezone.now() - family.rotated_at <= grace


def session_refresh(*, refresh: str) -> TokenPair:
    """The next pair of ``refresh``'s session, by the rules above; 401 otherwise."""
    token = _presented(refresh)
    jti = str(token["jti"])
    with transaction.atomic():
        family = _locked_family(token)
        if family is None:
            raise _invalid()
        if family.revoked_at is not None:
            raise _revoked()
        if family.expires_at <= timezone.now():
            raise InvalidToken(_("This session has expired. Sign in again."))
        user: User = family.user
        if not user.is_active:
            raise AuthenticationFailed(
                _("No active account found for the given token."), code="no_active_account"
            )
        if jti == family.current_jti:
            outstanding = OutstandingToken.objects.filter(jti=jti).first()
            if outstanding is None:
                raise _invalid()
            _entry, rotated_now = BlacklistedToken.objects.get_or_create(token=outstanding)
            if rotated_now:
                return rotated_pair(family, user)
            # Blacklisted by other means (e.g. the admin): the session is over.
        elif _within_grace(family, jti):
            pair = current_pair(family, user)
            if pair is not None:
                return pair
        else:
            logger.warning(
                "a rotated refresh token was presented again: session revoked",
                extra={"user_id": user.pk, "session_id": family.pk},
            )
        _revoke(family)
    raise SessionEnded(_("Token is blacklisted"))


def session_end(*, refresh: str) -> None:
    """Sign out: ``refresh``'s whole session ends, whichever of its tokens it is."""
    token = _presented(refresh)
    with transaction.atomic():
        family = _locked_family(token)
        if family is None:
            raise _invalid()
        if family.revoked_at is None:
            _revoke(family)


def sessions_end_all(*, user: User) -> int:
    """End every session of ``user``; returns how many refresh tokens were still in force."""
    now = timezone.now()
    with transaction.atomic():
        RefreshTokenFamily.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
        live = OutstandingToken.objects.filter(
            user=user, expires_at__gt=now, blacklistedtoken__isnull=True
        )
        revoked = BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
        )
    return len(revoked)
