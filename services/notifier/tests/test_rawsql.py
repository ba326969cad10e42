"""The hand-written multi-row INSERT: every column accounted for, conflicts skipped."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from notifications.rawsql import ConflictIgnoringInsert
from notifications.models import Notification

FIELDS = ("recipient_id", "event_id", "event_type", "ticket_id", "title", "body", "created_at")


def test_a_column_left_out_is_refused_when_the_insert_is_defined() -> None:
    # The tables have no column defaults: a field added to the model later must be named.
    with pytest.raises(ValueError, match=r"missing \['read_at'\]"):
        ConflictIgnoringInsert(Notification, FIELDS, {})
    with pytest.raises(ValueError, match=r"unknown \['colour'\]"):
        ConflictIgnoringInsert(Notification, FIELDS, {"read_at": "NULL", "colour": "''"})


@pytest.mark.django_db
def test_rows_are_inserted_and_a_conflicting_one_is_skipped() -> None:
    insert = ConflictIgnoringInsert(Notification, FIELDS, {"read_at": "NULL"})
    event_id, now = uuid.uuid4(), timezone.now()
    rows = [(user, event_id, "ticket.created", "7", "t", "b", now) for user in ("1", "2")]
    assert insert.execute(rows) == 2
    assert insert.execute([*rows, ("3", event_id, "ticket.created", "7", "t", "b", now)]) == 1
    assert insert.execute([]) == 0
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == ["1", "2", "3"]
    assert Notification.objects.filter(read_at__isnull=True, created_at=now).count() == 3
