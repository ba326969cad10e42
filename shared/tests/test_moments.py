from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError

from servidesk_shared.moments import utc_moment


def test_any_offset_python_reads_becomes_the_same_instant_in_utc() -> None:
    moment = datetime(2026, 3, 1, 0, 9, tzinfo=timezone(timedelta(hours=18, minutes=5)))
    assert utc_moment(moment) == moment
    assert utc_moment(moment).utcoffset() == timedelta(0)
    assert utc_moment(moment).tzinfo is UTC


def test_an_instant_outside_the_calendar_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        utc_moment(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))
