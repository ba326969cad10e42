"""The Django admin for users. Changes go through the same events as the API's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from users import events, services
from users.models import ApiKeyExchange, SocialLoginCode, User
from users.phones import to_e164


class _PhoneMixin(forms.ModelForm):  # type: ignore[type-arg]
    def clean_phone(self) -> str:
        return to_e164(self.cleaned_data.get("phone", ""))


class ServideskUserCreationForm(_PhoneMixin, UserCreationForm):  # type: ignore[type-arg]
    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined,misc]
        model = User
        fields = ("username", "email", "role")


class ServideskUserChangeForm(_PhoneMixin, UserChangeForm):  # type: ignore[type-arg]
    class Meta(UserChangeForm.Meta):  # type: ignore[name-defined,misc]
        model = User
        fields = (
            "username",
            "password",
            "full_name",
            "email",
            "email_verified",
            "phone",
            "language",
            "notify_email",
            "notify_sms",
            "role",
            "is_active",
            "is_staff",
            "is_superuser",
            "last_login",
            "date_joined",
        )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):  # type: ignore[type-arg]
    form = ServideskUserChangeForm
    add_form = ServideskUserCreationForm
    list_display = ("username", "email", "full_name", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active", "is_staff", "language")
    search_fields = ("username", "email", "full_name")
    ordering = ("-date_joined",)
    #: Proved by the user only (a link, a texted code); a changed phone is unverified again.
    readonly_fields = ("pending_email", "phone_verified")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("Contact card"),
            {
                "fields": (
                    "full_name",
                    "email",
                    "email_verified",
                    "pending_email",
                    "phone",
                    "phone_verified",
                    "language",
                    "notify_email",
                    "notify_sms",
                )
            },
        ),
        (_("Role and access"), {"fields": ("role", "is_active", "is_staff", "is_superuser")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "role", "password1", "password2"),
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Tickets and reports keep user ids: deactivate instead of deleting.
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = events.card(User.objects.get(pk=obj.pk)) if change and obj.pk else None
        actor = request.user if isinstance(request.user, User) else None
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            services.user_saved_elsewhere(user=obj, before=before, actor=actor)


@admin.register(SocialLoginCode)
class SocialLoginCodeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "created_at", "expires_at", "used_at")
    readonly_fields = ("code_hash", "user", "created_at", "expires_at", "used_at")


@admin.register(ApiKeyExchange)
class ApiKeyExchangeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The audit trail of API keys: read only (keys are managed through the API)."""

    list_display = ("at", "api_key", "prefix", "address", "outcome")
    list_filter = ("outcome",)
    readonly_fields = ("at", "api_key", "prefix", "address", "outcome")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
