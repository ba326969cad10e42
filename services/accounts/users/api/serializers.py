"""Input validation and output shapes of the accounts API (ARCHITECTURE.md "API shapes")."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from users.api_keys import KEY_ROLES
from users.models import (
    ApiKey,
    AuditEntry,
    Language,
    Role,
    User,
    normalize_email,
    username_validator,
)
from users.phones import to_e164

PASSWORD_MAX_LENGTH = 128


def password_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=PASSWORD_MAX_LENGTH,
        style={"input_type": "password"},
        **kwargs,
    )


# --- Output -----------------------------------------------------------------------------


class MeSerializer(serializers.ModelSerializer[User]):
    """The user as they see themselves (and as ``register`` returns them)."""

    #: A plain string: empty when nothing waits (an email format would refuse "").
    pending_email = serializers.CharField(
        read_only=True,
        help_text=_(
            "A new address waiting for confirmation (empty when none); the account keeps "
            "using `email` until the link mailed there is opened."
        ),
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "full_name",
            "phone",
            "role",
            "language",
            "notify_email",
            "notify_sms",
            "email_verified",
            "phone_verified",
            "pending_email",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "email_verified": {
                "help_text": _(
                    "The address was confirmed (a link mailed to it) or set by an admin; "
                    "only confirmed addresses get notifications."
                )
            },
            "phone_verified": {
                "help_text": _(
                    "The number was proved with the code texted to it; only verified "
                    "numbers get SMS."
                )
            },
        }


class UserSerializer(MeSerializer):
    """A user as admins see them in ``users/``."""

    class Meta(MeSerializer.Meta):
        fields = [
            *MeSerializer.Meta.fields,
            "is_active",
            "date_joined",
            "last_login",
        ]
        read_only_fields = fields


class TokenPairSerializer(serializers.Serializer[Any]):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)


class AccessTokenSerializer(serializers.Serializer[Any]):
    access = serializers.CharField(read_only=True)


# --- API keys ---------------------------------------------------------------------------


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    """An API key as the list shows it: never the key itself."""

    created_by = serializers.CharField(
        source="created_by_id", read_only=True, allow_null=True, help_text=_("A user id.")
    )

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "role",
            "read_only",
            "prefix",
            "created_at",
            "created_by",
            "expires_at",
            "last_used_at",
        ]
        read_only_fields = fields


class ApiKeyCreatedSerializer(ApiKeySerializer):
    """A new key: the only answer that ever carries ``key``."""

    key = serializers.CharField(
        read_only=True, help_text=_("Shown this once: only a hash of it is kept.")
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.ModelSerializer[ApiKey]):
    """``name``, ``role`` (technician or admin), ``read_only`` (default false: the key's
    tokens may write), ``expires_at`` (default: never)."""

    role = serializers.ChoiceField(choices=[(role, role) for role in KEY_ROLES])

    class Meta:
        model = ApiKey
        fields = ["name", "role", "read_only", "expires_at"]
        extra_kwargs = {"expires_at": {"required": False, "allow_null": True, "default": None}}


class ApiKeyExchangeSerializer(serializers.Serializer[Any]):
    api_key = serializers.CharField(
        max_length=128, trim_whitespace=True, help_text=_("The key an admin created.")
    )


# --- Profile fields (shared by register, me and users) -----------------------------------


class ProfileFieldsMixin(serializers.Serializer[Any]):
    """Validation of the contact card's fields; ``instance`` is the user being changed."""

    email = serializers.EmailField(max_length=254)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    notify_email = serializers.BooleanField(required=False)
    notify_sms = serializers.BooleanField(required=False)

    def validate_email(self, value: str) -> str:
        email = normalize_email(value)
        others = User.objects.filter(email=email)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(_("A user with that email address already exists."))
        return email

    def validate_phone(self, value: str) -> str:
        try:
            return to_e164(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("notify_sms") and not attrs.get("phone", getattr(self.instance, "phone", "")):
            raise serializers.ValidationError(
                {"notify_sms": [_("Add a phone number to receive SMS notifications.")]}
            )
        return attrs


class RegisterSerializer(ProfileFieldsMixin):
    username = serializers.CharField(max_length=150, validators=[username_validator])
    password = password_field()

    def validate_username(self, value: str) -> str:
        taken = (
            User.objects.alias(username_lower=Lower("username"))
            .filter(username_lower=value.lower())
            .exists()
        )
        if taken:
            raise serializers.ValidationError(_("A user with that username already exists."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        candidate = User(
            username=attrs.get("username", ""),
            email=attrs.get("email", ""),
            full_name=attrs.get("full_name", ""),
        )
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": exc.messages}) from exc
        return attrs


class UserCreateSerializer(RegisterSerializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)


class MeUpdateSerializer(ProfileFieldsMixin):
    """``PATCH me/``: the profile. The role is not the user's to change.

    A new ``email`` only becomes ``pending_email`` (see ``services.user_update``). With a
    usable password, ``current_password`` is checked before anything about the email, and
    the answer is the same whether or not another account uses the address.
    """

    email = serializers.EmailField(
        max_length=254,
        required=False,
        help_text=_("A new address waits in `pending_email` until a link mailed there is opened."),
    )
    role = serializers.CharField(required=False, write_only=True)
    #: Needed to change the email (the address password resets go to).
    current_password = password_field(
        required=False,
        allow_blank=True,
        help_text=_("Your password: needed to change the email of an account that has one."),
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        user = self.instance
        assert isinstance(user, User)  # noqa: S101 (always bound to the caller)
        email = data.get("email") if hasattr(data, "get") else None
        if isinstance(email, str) and normalize_email(email) != user.email:
            self._check_password(user, data.get("current_password"))
        values: dict[str, Any] = super().to_internal_value(data)
        return values

    @staticmethod
    def _check_password(user: User, password: Any) -> None:
        if not user.has_usable_password():
            return  # a social sign-up has none to give
        if not isinstance(password, str) or not password:
            raise serializers.ValidationError(
                {"current_password": [_("Enter your password to change your email.")]}
            )
        if len(password) > PASSWORD_MAX_LENGTH or not user.check_password(password):
            raise serializers.ValidationError(
                {"current_password": [_("The current password is not correct.")]}
            )

    def validate_email(self, value: str) -> str:
        # Whether another account uses it is told only to whoever confirms it.
        return normalize_email(value)

    def validate_role(self, value: str) -> str:
        if value != getattr(self.instance, "role", None):
            raise serializers.ValidationError(_("You cannot change your own role."))
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        attrs.pop("role", None)
        attrs.pop("current_password", None)
        return attrs


class UserUpdateSerializer(ProfileFieldsMixin):
    """``PATCH users/<id>/`` (admins): the profile, the role and the active flag."""

    email = serializers.EmailField(max_length=254, required=False)
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)

    def validate_email(self, value: str) -> str:
        email = super().validate_email(value)
        actor = self.context.get("actor")
        user = self.instance
        if actor is not None and user is not None and actor.pk == user.pk and email != user.email:
            raise serializers.ValidationError(
                _("Change your own email address from your profile (it needs your password).")
            )
        return email


# --- Authentication ---------------------------------------------------------------------


class LoginSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=254, help_text=_("A username or an email."))
    password = password_field()


class RefreshSerializer(serializers.Serializer[Any]):
    refresh = serializers.CharField(max_length=4096)


class PasswordChangeSerializer(serializers.Serializer[Any]):
    current_password = password_field(required=False, allow_blank=True, default="")
    new_password = password_field()


class PasswordResetSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer[Any]):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = password_field()


class SocialExchangeSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=128)
    nonce = serializers.CharField(
        max_length=128,
        help_text=_("The nonce web kept in its session when the browser started the flow."),
    )


class EmailConfirmSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(
        max_length=128,
        help_text=_("The last path segment of the link in the confirmation email."),
    )


class PhoneVerifySerializer(serializers.Serializer[Any]):
    code = serializers.RegexField(
        r"^\s*[0-9]{6}\s*$",
        max_length=16,
        help_text=_("The 6-digit code texted to your phone."),
        error_messages={"invalid": _("Enter the 6 digits of the code we texted you.")},
    )

    def validate_code(self, value: str) -> str:
        return value.strip()


class SocialLinkSerializer(serializers.Serializer[Any]):
    provider = serializers.ChoiceField(choices=[("google", "Google"), ("facebook", "Facebook")])


class SocialLinkStartSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(
        read_only=True,
        help_text=_("Open it in the browser (same host) within a couple of minutes, once."),
    )


class SocialLinkConfirmSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(
        max_length=128,
        help_text=_("The link_code accounts sent the browser back to the profile with."),
    )
    nonce = serializers.CharField(
        max_length=128,
        allow_blank=True,
        help_text=_(
            "The nonce web kept in its session when it started the link (empty when this "
            "browser started none: the pending link is then used up and refused)."
        ),
    )


class SocialLinkConfirmedSerializer(serializers.Serializer[Any]):
    provider = serializers.CharField(read_only=True)


class MessageSerializer(serializers.Serializer[Any]):
    message = serializers.CharField(read_only=True)


class SocialProviderSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    login_url = serializers.CharField(read_only=True)


# --- Audit trail ------------------------------------------------------------------------


class AuditEntrySerializer(serializers.ModelSerializer[AuditEntry]):
    """One change to a user or an API key, with who made it."""

    actor_id = serializers.CharField(
        read_only=True, allow_null=True, help_text=_("A user id; null: the system.")
    )
    actor_username = serializers.CharField(
        source="actor.username", read_only=True, allow_null=True, default=None
    )
    user_id = serializers.CharField(read_only=True, allow_null=True)
    username = serializers.CharField(
        source="user.username", read_only=True, allow_null=True, default=None
    )
    api_key_id = serializers.CharField(read_only=True, allow_null=True)
    api_key_name = serializers.CharField(
        source="api_key.name", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "action",
            "actor_id",
            "actor_username",
            "user_id",
            "username",
            "api_key_id",
            "api_key_name",
            "old_value",
            "new_value",
        ]
        read_only_fields = fields
