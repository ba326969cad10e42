"""Serializer fields for the contract's shapes."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from tickets.models import USER_ID_LENGTH, Priority
from tickets.user_ids import render_user_id


class OpaqueIdField(serializers.Field):  # type: ignore[type-arg]
    """A user id: a JSON number or string in, stored as text, rendered as it came."""

    default_error_messages = {
        "invalid": _("Give a user id (a number or a string)."),
        "max_length": _("A user id has at most {max_length} characters."),
    }

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("invalid")
        text = str(data).strip()
        if not text or any(ch.isspace() or not ch.isprintable() for ch in text):
            self.fail("invalid")
        if len(text) > USER_ID_LENGTH:
            self.fail("max_length", max_length=USER_ID_LENGTH)
        return text

    def to_representation(self, value: Any) -> int | str | None:
        return render_user_id(value)


class PriorityField(serializers.ChoiceField):
    """``low`` | ``medium`` | ``high`` | ``urgent`` in JSON, the rank in the database."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Priority.api_keys(), **kwargs)

    def to_internal_value(self, data: Any) -> int:  # type: ignore[override]
        key = super().to_internal_value(data)
        return int(Priority.from_key(key))

    def to_representation(self, value: Any) -> str:
        return Priority(value).key
