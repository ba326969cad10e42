"""Phone numbers in, E.164 out (``+34600111222``), checked with Google's libphonenumber."""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def to_e164(value: str) -> str:
    """``value`` as E.164; an empty value stays empty. Raises ``ValidationError`` if invalid.

    A number without a country code is read as one of ``PHONE_DEFAULT_REGION``.
    """
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) > 32:
        raise ValidationError(_("Enter a valid phone number, e.g. +34600111222."))
    try:
        number = phonenumbers.parse(value, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Enter a valid phone number, e.g. +34600111222.")) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Enter a valid phone number, e.g. +34600111222."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
