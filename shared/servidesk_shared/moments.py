"""Date-times typed by users, as the database can hold them.

Python accepts UTC offsets up to ±23:59 and years 1 to 9999; PostgreSQL refuses offsets
past ±15:59 (a 500 for ``?created_before=2026-01-01T00:00:00+18:05``). Every date-time
from a query string or body goes through ``utc_moment`` before it reaches a query: the
same instant in UTC, or a validation error when that instant is outside the calendar.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _


def utc_moment(moment: datetime) -> datetime:
    """``moment`` (naive means the server's time zone) as an aware UTC date-time."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError(_("This date and time is out of range."), code="invalid") from None
