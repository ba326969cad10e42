"""The hand-written statements: every column accounted for, rows read back as the ORM would."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from notifications import selectors, services
from notifications.models import Delivery, Notification
from notifications.sql import ConflictIgnoringInsert

from tests.factories import DeliveryFactory

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


@pytest.mark.django_db
def test_a_claimed_delivery_is_the_row_as_the_orm_reads_it_after_the_claim() -> None:
    DeliveryFactory(context={"kind": "assigned", "ticket": {"id": "7"}, "n": [1, 2]})
    (claimed,) = services.delivery_claim_due(channel="email", limit=5)
    stored = Delivery.objects.get(pk=claimed.pk)
    for field in Delivery._meta.concrete_fields:
        assert getattr(claimed, field.attname) == getattr(stored, field.attname), field.name
    assert claimed.context == {"kind": "assigned", "ticket": {"id": "7"}, "n": [1, 2]}
    assert claimed.attempts == 1
    assert claimed.next_attempt_at > timezone.now()  # leased


@pytest.mark.django_db
def test_the_claim_takes_the_earliest_due_and_leaves_the_rest() -> None:
    now = timezone.now()
    late = DeliveryFactory(next_attempt_at=now - timedelta(seconds=1))
    early = DeliveryFactory(next_attempt_at=now - timedelta(seconds=60))
    waiting = DeliveryFactory(next_attempt_at=now + timedelta(seconds=60))  # not due
    DeliveryFactory(channel="sms", next_attempt_at=now - timedelta(seconds=90))
    DeliveryFactory(status="sent", next_attempt_at=now - timedelta(seconds=90))
    assert [d.pk for d in services.delivery_claim_due(channel="email", limit=1)] == [early.pk]
    assert [d.pk for d in services.delivery_claim_due(channel="email", limit=5)] == [late.pk]
    assert services.delivery_claim_due(channel="email", limit=5) == []
    # The two claimed are leased for longer than the one not due yet waits.
    assert selectors.delivery_next_due(channel="email") == waiting.next_attempt_at
    assert selectors.delivery_next_due(channel="push") is None
