"""The user of every Servidesk service: accounts is the only place that stores it."""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CLIENT = "client", _("Client")
    TECHNICIAN = "technician", _("Technician")
    ADMIN = "admin", _("Administrator")


class Language(models.TextChoices):
    SPANISH = "es", _("Spanish")
    ENGLISH = "en", _("English")


#: Usernames never contain "@", so a login identifier with one is always an email.
username_validator = RegexValidator(
    r"^[\w.+-]+\Z",
    _("Use only letters, digits and . + - _ (no spaces or @)."),
    code="invalid_username",
)


#: Lengths of ``User.email`` (Django's default for emails) and ``User.full_name``.
EMAIL_MAX_LENGTH = 254
FULL_NAME_MAX_LENGTH = 150


def normalize_email(email: str | None) -> str:
    """Emails are stored lower-cased, so lookups are exact and use the unique index."""
    return (email or "").strip().lower()


class ServideskUserManager(UserManager["User"]):
    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        return normalize_email(email)

    def create_superuser(
        self, username: str, email: str | None = None, password: str | None = None, **extra: Any
    ) -> User:
        """``createsuperuser``: an ``admin`` whose arrival the other services hear about.

        The operator's word counts for the email, as an admin's does in the API.
        """
        from users import events  # noqa: PLC0415 (events import the model)

        extra.setdefault("role", Role.ADMIN)
        extra.setdefault("email_verified", True)
        with transaction.atomic():
            user = super().create_superuser(username, email, password, **extra)
            events.user_registered(user)
        return user


class User(AbstractUser):
    """A client, technician or admin. Names live in ``full_name``, not first/last."""

    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    username = models.CharField(
        _("username"),
        max_length=150,
        unique=True,
        validators=[username_validator],
        help_text=_("150 characters or fewer: letters, digits and . + - _ only."),
        error_messages={"unique": _("A user with that username already exists.")},
    )
    email = models.EmailField(
        _("email address"),
        max_length=EMAIL_MAX_LENGTH,
        unique=True,
        error_messages={"unique": _("A user with that email address already exists.")},
    )
    #: The owner proved they read this address (a confirmation link, a password reset, a
    #: provider's verified email) or an admin set it.
    email_verified = models.BooleanField(_("email verified"), default=False)
    #: An address asked for on the profile, not in use until a link mailed to it confirms it.
    pending_email = models.EmailField(_("email waiting for confirmation"), blank=True)
    full_name = models.CharField(_("full name"), max_length=FULL_NAME_MAX_LENGTH, blank=True)
    phone = models.CharField(
        _("phone"), max_length=16, blank=True, help_text=_("E.164, e.g. +34600111222")
    )
    #: The owner typed the code texted to ``phone``; any change of the number clears it.
    phone_verified = models.BooleanField(_("phone verified"), default=False)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CLIENT)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.SPANISH
    )
    notify_email = models.BooleanField(_("email notifications"), default=True)
    notify_sms = models.BooleanField(_("SMS notifications"), default=False)

    objects: ClassVar[ServideskUserManager] = ServideskUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        indexes = [models.Index(fields=["role", "is_active"])]
        constraints = [
            # Login by username ignores case, so two usernames may not differ only in case.
            models.UniqueConstraint(Lower("username"), name="users_user_username_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="users_user_email_lowercase"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="users_user_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email(self.email)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_staff_member(self) -> bool:
        """Technicians and admins (Django's ``is_staff`` only opens the Django admin)."""
        return self.role in (Role.TECHNICIAN, Role.ADMIN)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class PhoneCode(models.Model):
    """A 6-digit code texted to ``phone`` (through notifier) to prove the user reads it.

    Only a keyed hash of the code is stored. The newest row of a user is the one that
    counts; older rows stay a day as the record of how many codes were sent.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(max_length=16)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    #: Wrong codes typed against this one; at ``PHONE_CODE_MAX_ATTEMPTS`` it stops working.
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("phone code")
        verbose_name_plural = _("phone codes")
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"code for {self.phone}, expires {self.expires_at:%Y-%m-%d %H:%M:%S}"


class SingleUseSecret(models.Model):
    """What every short-lived, single-use secret of a sign-in flow keeps besides its hash:
    whose it is, and when it was made, stops working and was used."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class SocialLinkToken(SingleUseSecret):
    """Starts linking a social login to a signed-in user, from their profile.

    ``POST me/social/link/`` returns a URL carrying the token; opening it in the browser
    starts the provider's flow for that user. Single-use and short-lived; only a SHA-256
    of the token is stored.
    """

    token_hash = models.CharField(max_length=64, unique=True)
    provider = models.CharField(max_length=30)

    class Meta:
        verbose_name = _("social link token")
        verbose_name_plural = _("social link tokens")

    def __str__(self) -> str:
        return f"{self.provider} link for user {self.user_id}"


class SocialLinkPending(SingleUseSecret):
    """A provider login waiting to be linked, between the provider's callback and web.

    The callback of a link started from the profile links nothing: it keeps the provider
    login here and sends the browser to web's profile with a single-use code. Web confirms
    it (``me/social/link/confirm/``) as its signed-in user, with the nonce it kept in its
    session when it started the link; the link is made only if that user is ``user`` (the
    one who started it) and the nonce matches. Only SHA-256 hashes of code and nonce are
    stored; the row is used up by the first confirmation, whatever its answer.
    """

    code_hash = models.CharField(max_length=64, unique=True)
    nonce_hash = models.CharField(max_length=64)
    provider = models.CharField(max_length=30)
    uid = models.CharField(max_length=191)
    extra_data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("pending social link")
        verbose_name_plural = _("pending social links")

    def __str__(self) -> str:
        return f"pending {self.provider} link for user {self.user_id}"


class SocialLoginCode(SingleUseSecret):
    """A short-lived, single-use code that ends the social-login browser flow.

    The browser carries only the code to the web UI; web exchanges it server-side for
    the token pair. Only a SHA-256 of the code is stored, and one of the nonce web put
    in its own session when the browser started the flow: the exchange must bring the
    same nonce back, so a code reaches only the browser that asked for it.
    """

    code_hash = models.CharField(max_length=64, unique=True)
    nonce_hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("social login code")
        verbose_name_plural = _("social login codes")

    def __str__(self) -> str:
        return f"code for user {self.user_id}, expires {self.expires_at:%Y-%m-%d %H:%M:%S}"


class RefreshTokenFamily(models.Model):
    """One sign-in session: every refresh token rotated, one after another, from a sign-in.

    Its refresh tokens name it in their ``fam`` claim (``users.tokens``); the policy is
    ``users.sessions``. Only ``current_jti`` may be rotated. ``previous_jti``, rotated at
    ``rotated_at``, still gets the current pair for a few seconds (a second tab refreshing
    at the same time); any other member presented again revokes the whole family. No
    refresh works after ``expires_at`` (the absolute lifetime), nor after ``revoked_at``.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    current_jti = models.CharField(max_length=255)
    previous_jti = models.CharField(max_length=255, blank=True, default="")
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in session")
        verbose_name_plural = _("sign-in sessions")

    def __str__(self) -> str:
        return f"session {self.pk} of user {self.user_id}"


class ApiKey(models.Model):
    """A key an integration trades for short-lived access tokens (``users.api_keys``).

    The key is ``sdk_<prefix>_<secret>``: ``prefix`` (public, unique) finds the row, and
    only a SHA-256 of the whole key is stored (``key_hash``), compared in constant time.
    Shown once, at creation. Acts with ``role`` (technician or admin), for reads only when
    ``read_only``. A revoked key's row stays, with its exchanges, as their record.
    """

    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    read_only = models.BooleanField(_("read only"), default=False)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=[Role.TECHNICIAN, Role.ADMIN]),
                name="users_apikey_role_staff",
            ),
        ]

    def __str__(self) -> str:
        return f"API key {self.pk} ({self.prefix})"


class ApiKeyExchange(models.Model):
    """One try to trade an API key for an access token: the audit trail of API keys.

    ``api_key`` is the key whose prefix was presented (null when it names none: ``prefix``
    keeps what it named, only when it has a key prefix's shape, never other text sent).
    """

    class Outcome(models.TextChoices):
        ISSUED = "issued", _("Token issued")
        INVALID = "invalid", _("Unknown or wrong key")
        REVOKED = "revoked", _("Revoked key")
        EXPIRED = "expired", _("Expired key")

    api_key = models.ForeignKey(
        ApiKey, on_delete=models.CASCADE, null=True, blank=True, related_name="exchanges"
    )
    prefix = models.CharField(max_length=16, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)

    class Meta:
        verbose_name = _("API key exchange")
        verbose_name_plural = _("API key exchanges")
        indexes = [models.Index(fields=["api_key", "-at"])]

    def __str__(self) -> str:
        return f"{self.outcome} for key {self.api_key_id or self.prefix or '?'} at {self.at}"


class AuditEntry(models.Model):
    """One change to a user or an API key, written in the transaction of the change
    (``users.audit``): the audit trail admins read at ``GET audit/``.

    ``actor`` is who made it (null: the system, e.g. a user confirming their own new
    address is their own actor, an invitation none); ``user`` the account changed (null
    for API key entries); ``old_value``/``new_value`` what changed (a role, an email
    address, an exchange's outcome), empty when the action says it all.
    """

    class Action(models.TextChoices):
        ROLE_CHANGED = "role_changed", _("Role changed")
        ACTIVATED = "activated", _("Activated")
        DEACTIVATED = "deactivated", _("Deactivated")
        EMAIL_CHANGED = "email_changed", _("Email changed")
        API_KEY_CREATED = "api_key_created", _("API key created")
        API_KEY_REVOKED = "api_key_revoked", _("API key revoked")
        API_KEY_EXCHANGED = "api_key_exchanged", _("API key exchanged for a token")

    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=32, choices=Action.choices)
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    old_value = models.CharField(max_length=EMAIL_MAX_LENGTH, blank=True)
    new_value = models.CharField(max_length=EMAIL_MAX_LENGTH, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_trail"),
            models.Index(fields=["user", "-at", "-id"], name="audit_user"),
            models.Index(fields=["action", "-at", "-id"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} at {self.at}"
